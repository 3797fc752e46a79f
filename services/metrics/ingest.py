"""The ingest loop: reads the `ai4vc.usage` and `ai4vc.inference` topics and counts each batch
into the rollups (`records.apply_batch`), one PostgreSQL transaction per batch.

It reads explicit partitions (`EventConsumer.assign`, no group join: tansu's takes ~23 s, and
the offsets live in PostgreSQL, not in Kafka). On start it seeks every partition to the offset
stored with the rollups; a stored offset past the partition's end (a broker that lost its log,
as tansu's memory storage does on restart) or before its beginning restarts that partition
from its beginning — the processed-event ids keep a replay from counting anything twice. A
broker or a database that is away stops the loop for a capped, jittered backoff, then it starts
over from the stored offsets: nothing is lost, nothing counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import asyncpg
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.common.backends.events import EventConsumer
from services.metrics import records
from services.metrics.influx import InfluxSink
from services.metrics.settings import MetricsSettings

log = logging.getLogger(__name__)


class Ingest:
    def __init__(self, settings: MetricsSettings, pool: asyncpg.Pool, registry: CollectorRegistry | None = None,
                 influx: InfluxSink | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.influx = influx
        self._next_cleanup = 0.0
        self.counted = Counter("metrics_events_counted_total", "Events added to the usage rollups.", ["topic"],
                               registry=registry)
        self.duplicates = Counter("metrics_events_duplicate_total", "Redelivered events not counted again.",
                                  registry=registry)
        self.failures = Counter("metrics_ingest_failures_total", "Ingest restarts (broker or database away).",
                                registry=registry)
        self.connected = Gauge("metrics_ingest_connected", "1 while the consumer reads its partitions.",
                               registry=registry)
        # The live view of usage by language for Prometheus and Grafana (no key label: unbounded
        # cardinality); the rollups in PostgreSQL are the record.
        self.usage_requests = Counter("metrics_usage_requests_total", "Calls counted, by outcome.",
                                      ["service", "method", "language_code", "status"], registry=registry)
        self.usage_characters = Counter("metrics_usage_characters_total", "Characters of text in, counted.",
                                        ["service", "language_code"], registry=registry)
        self.usage_audio = Counter("metrics_usage_audio_seconds_total", "Seconds of audio, counted.",
                                   ["service", "language_code"], registry=registry)
        self.batches = 0  # committed batches (tests wait on it)

    async def run(self) -> None:
        """Ingests until cancelled; failures back off and start over."""
        backoff = 0.1
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database away: start over later, lose nothing
                self.failures.inc()
                self.connected.set(0)
                log.warning("metrics ingest stopped; restarting", extra={"error": repr(exc)[:300],
                                                                       "backoff_s": round(backoff, 2)})
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.settings.max_backoff_s)

    async def _consume(self) -> None:
        consumer = EventConsumer(self.settings.kafka_bootstrap, client_id=f"ai4vc-{self.settings.consumer_name}")
        await consumer.start()
        try:
            assigned = await consumer.assign(self.settings.topics, timeout_s=10)
            await self._seek(consumer, assigned)
            self.connected.set(1)
            log.info("metrics ingest reading", extra={"partitions": len(assigned)})
            async for batch in consumer.batches(self.settings.poll_timeout_s, self.settings.batch_max_events):
                async with self.pool.acquire() as conn, conn.transaction():
                    result = await records.apply_batch(conn, self.settings.consumer_name, batch)
                self.batches += 1
                for topic, count in result.counted_by_topic.items():
                    self.counted.labels(topic).inc(count)
                self._observe(result.counted)
                self.duplicates.inc(result.duplicates)
                if self.influx is not None and result.rollups:
                    await self.influx.write(result.rollups)
                await self._maybe_clean_up()
        finally:
            self.connected.set(0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 5)

    def _observe(self, counted: list[tuple[records.RollupKey, records.Counts]]) -> None:
        for key, counts in counted:
            if counts.request_count:
                self.usage_requests.labels(key.service, key.method, key.language_code, key.status).inc(
                    counts.request_count)
            if counts.characters:
                self.usage_characters.labels(key.service, key.language_code).inc(counts.characters)
            if counts.audio_seconds:
                self.usage_audio.labels(key.service, key.language_code).inc(counts.audio_seconds)

    async def _seek(self, consumer: EventConsumer, assigned: list[TopicPartition]) -> None:
        stored = await records.load_offsets(self.pool, self.settings.consumer_name)
        ends = await consumer.end_offsets()
        beginnings = await consumer.beginning_offsets()
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                continue
            if offset > ends.get(tp, 0) or offset < beginnings.get(tp, 0):
                log.warning("stored offset outside the partition; reading it from its beginning",
                            extra={"topic": tp.topic, "partition": tp.partition, "offset": offset})
                offset = beginnings.get(tp, 0)
            consumer.positions[tp] = offset

    async def _maybe_clean_up(self) -> None:
        if time.monotonic() < self._next_cleanup:
            return
        self._next_cleanup = time.monotonic() + 3600
        await records.clean_up(self.pool, self.settings.dedup_retention_s, self.settings.minute_retention_s)
