"""Metrics service settings (environment prefix `AI4VC_METRICS_`).

`kafka_bootstrap` falls back to `AI4VC_KAFKA_BOOTSTRAP`, which the launcher sets for every
service; `influx_url` is empty (no InfluxDB sink) unless set.
"""

from __future__ import annotations

import dataclasses
import re

from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class MetricsSettings(CommonSettings):
    service_name: str = "metrics"
    port: int = 8083
    kafka_bootstrap: str = ""  # host:port[,host:port]
    # Names this consumer's offsets in PostgreSQL; replicas reading the same partitions must
    # share one database row set, so they must not run side by side (one reader per schema).
    consumer_name: str = "metrics"
    topics: tuple[str, ...] = ("ai4vc.usage", "ai4vc.inference")
    poll_timeout_s: float = 0.2  # longest wait for a batch when the topics are quiet
    batch_max_events: int = 500  # events per transaction at most
    max_backoff_s: float = 5.0  # longest wait after a failure (broker or database away)
    # How long processed event ids are kept for deduplication.
    dedup_retention_s: float = 7 * 86400.0
    # Minute rollups are deleted after this long (day rollups are kept).
    minute_retention_s: float = 35 * 86400.0
    # A query that runs longer is cancelled by PostgreSQL (a backstop: ranges are bounded).
    query_timeout_s: float = 5.0
    # Optional InfluxDB 1.x sink: every rollup a batch touched is written there too, as line
    # protocol ("http://127.0.0.1:8086"); empty: off.
    influx_url: str = ""
    influx_database: str = "ai4vc"
    influx_timeout_s: float = 2.0

    def check(self) -> MetricsSettings:
        if not self.database_url:
            raise SettingsError("AI4VC_METRICS_DATABASE_URL (or AI4VC_DATABASE_URL) is required")
        if not self.kafka_bootstrap:
            raise SettingsError("AI4VC_METRICS_KAFKA_BOOTSTRAP (or AI4VC_KAFKA_BOOTSTRAP) is required")
        if not self.topics:
            raise SettingsError("AI4VC_METRICS_TOPICS must name at least one topic")
        if self.batch_max_events < 1:
            raise SettingsError("AI4VC_METRICS_BATCH_MAX_EVENTS must be at least 1")
        if self.influx_url and not re.fullmatch(r"https?://[^/?#\s]+/?", self.influx_url):
            raise SettingsError(f"AI4VC_METRICS_INFLUX_URL={self.influx_url!r}: use http(s)://host:port")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", self.influx_database):
            raise SettingsError("AI4VC_METRICS_INFLUX_DATABASE must be 1-64 letters, digits or _")
        return self
