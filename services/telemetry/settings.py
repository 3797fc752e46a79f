"""Telemetry service settings (environment prefix `AI4VC_TELEMETRY_`)."""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class TelemetrySettings(CommonSettings):
    service_name: str = "telemetry"
    port: int = 8084
    # The collector does not trace or export itself: each Export would make spans and log
    # records to export, for ever. Its own logs still go to stderr.
    tracing: bool = False
    # Received spans and log records waiting for their batched write; past this, Export drops
    # (and counts) the newest rather than make the exporting service wait.
    max_queue: int = 50_000
    batch_size: int = 1000
    flush_interval_s: float = 0.2
    # Retention: at most this many spans and this many log records, none older than this.
    retention_max_rows: int = 1_000_000
    retention_days: float = 7.0
    retention_interval_s: float = 60.0
    # Searches cover at most this many days (start_time to end_time); and a read that the store
    # has not answered in this long is QUERY_TOO_BROAD, not a hung call.
    max_search_days: float = 7.0
    query_timeout_s: float = 5.0
    # Optional OpenSearch backend (e.g. http://opensearch:9200): spans and logs are stored and
    # searched there instead of PostgreSQL. Empty: PostgreSQL.
    opensearch_url: str = ""
    # OTLP/HTTP receiver (POST /v1/traces, /v1/logs; protobuf or JSON) for exporters that speak
    # only HTTP, such as Triton's OpenTelemetry tracer; -1: off, 0: a free port.
    otlp_http_port: int = -1
    opensearch_index_prefix: str = "ai4vc"

    def check(self) -> TelemetrySettings:
        if not self.database_url and not self.opensearch_url:
            raise SettingsError("AI4VC_TELEMETRY_DATABASE_URL (or AI4VC_DATABASE_URL) or "
                                "AI4VC_TELEMETRY_OPENSEARCH_URL is required")
        for name in ("max_queue", "batch_size", "retention_max_rows"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"AI4VC_TELEMETRY_{name.upper()} must be positive")
        if self.retention_days <= 0 or self.max_search_days <= 0 or self.query_timeout_s <= 0:
            raise SettingsError("AI4VC_TELEMETRY_RETENTION_DAYS, _MAX_SEARCH_DAYS and _QUERY_TIMEOUT_S"
                                " must be positive")
        return self
