"""Event relay settings (environment prefix `AI4VC_EVENTS_`).

`kafka_bootstrap` falls back to `AI4VC_KAFKA_BOOTSTRAP`, which the launcher sets for every
service (future consumers read it too).
"""

from __future__ import annotations

import dataclasses

from services.common.settings import CommonSettings, SettingsError


@dataclasses.dataclass(frozen=True)
class EventsSettings(CommonSettings):
    service_name: str = "events"
    port: int = 8094
    kafka_bootstrap: str = ""  # host:port[,host:port]
    # Idempotent producing (no duplicates from the producer's own retries). The local tansu
    # broker refuses the InitProducerId v0 request aiokafka sends, so the local mesh turns it off;
    # consumers deduplicate by event id either way.
    kafka_idempotence: bool = True
    topic_partitions: int = 3  # for the topics the relay creates
    topic_replication: int = 1
    batch_size: int = 500  # outbox rows claimed per transaction
    poll_interval_s: float = 0.2  # wait between polls when the outbox is empty
    send_timeout_s: float = 30.0  # longest wait for a batch's acks before it is retried
    max_backoff_s: float = 5.0  # longest wait after a failure (broker or database away)
    retention_s: float = 86400.0  # sent rows are deleted after this long

    def check(self) -> EventsSettings:
        if not self.kafka_bootstrap:
            raise SettingsError("AI4VC_EVENTS_KAFKA_BOOTSTRAP (or AI4VC_KAFKA_BOOTSTRAP) is required")
        if not self.database_url:
            raise SettingsError("AI4VC_EVENTS_DATABASE_URL (or AI4VC_DATABASE_URL) is required")
        if self.batch_size < 1 or self.topic_partitions < 1 or self.topic_replication < 1:
            raise SettingsError("AI4VC_EVENTS_BATCH_SIZE, _TOPIC_PARTITIONS and _TOPIC_REPLICATION must be at least 1")
        return self
