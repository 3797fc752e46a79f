"""The outbox relay: publishes the rows of `event_outbox` to Kafka, oldest first, and marks them
sent once the broker acknowledged them.

One transaction per batch: claim unsent rows (`FOR UPDATE SKIP LOCKED`, so replicas side by side
take different rows), produce them, wait for every ack, set `sent_time`, commit. A broker or a
database that is away rolls the batch back: the rows stay unsent and are retried after a
capped, jittered backoff, never dropped. Delivery is at least once (a batch whose acks were
lost is produced again); consumers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from ai4vc.events.v1 import events_pb2
from services.common.backends import outbox
from services.events.settings import EventsSettings

log = logging.getLogger(__name__)

_CLAIM = ("SELECT id, topic, message_key, payload FROM event_outbox WHERE sent_time IS NULL"
          " ORDER BY created_time LIMIT $1 FOR UPDATE SKIP LOCKED")
_MARK_SENT = "UPDATE event_outbox SET sent_time = now() WHERE id = ANY($1::uuid[])"
_TOPIC_EXISTS = 36  # Kafka error code TOPIC_ALREADY_EXISTS


class PublishError(RuntimeError):
    """Some rows of a batch were not acknowledged; the batch is rolled back and retried."""


class Relay:
    def __init__(self, settings: EventsSettings, pool: asyncpg.Pool, registry: CollectorRegistry | None = None,
                 topics: Sequence[str] = outbox.TOPICS) -> None:
        self.settings = settings
        self.pool = pool
        self.topics = tuple(topics)
        self._producer: AIOKafkaProducer | None = None
        self._next_cleanup = 0.0
        self.published = Counter("events_published_total", "Events the broker acknowledged.", ["topic"],
                                 registry=registry)
        self.failures = Counter("events_publish_failures_total", "Batches rolled back (broker or database away).",
                                registry=registry)
        self.unsent = Gauge("events_outbox_unsent", "Outbox rows not yet published.", registry=registry)
        self.connected = Gauge("events_broker_connected", "1 while the relay holds a started producer.",
                               registry=registry)

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Publishes until cancelled; failures back off and retry."""
        backoff = 0.1
        while True:
            try:
                sent = await self.publish_once()
                backoff = 0.1
                if sent < self.settings.batch_size:
                    await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker or database away: retry later, drop nothing
                self.failures.inc()
                log.warning("outbox batch not published; retrying", extra={"error": repr(exc)[:300],
                                                                           "backoff_s": round(backoff, 2)})
                await self._drop_producer()
                with contextlib.suppress(Exception):
                    await self._count_unsent()
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.settings.max_backoff_s)

    async def publish_once(self) -> int:
        """Publishes one batch of unsent rows; returns how many were published."""
        producer = await self._get_producer()
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self.settings.batch_size)
            if not rows:
                return 0
            await asyncio.wait_for(self._produce(producer, rows), 2 * self.settings.send_timeout_s)
            await conn.execute(_MARK_SENT, [r["id"] for r in rows])
        for row in rows:
            self.published.labels(row["topic"]).inc()
        return len(rows)

    async def _produce(self, producer: AIOKafkaProducer, rows: Sequence[asyncpg.Record]) -> None:
        """Produces every row and waits for every ack. Each send fails by itself after the
        producer's request timeout, so nothing is left in flight when the batch rolls back."""
        futures: list[asyncio.Future[object]] = []
        error: BaseException | None = None
        try:
            for row in rows:
                event_type = events_pb2.Event.FromString(row["payload"]).type
                futures.append(await producer.send(
                    row["topic"], value=row["payload"], key=row["message_key"].encode(),
                    headers=[("ce_id", str(row["id"]).encode()), ("ce_type", event_type.encode())]))
        except KafkaError as exc:
            error = exc
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if error is not None or failed:
            raise PublishError(f"{len(failed) + (len(rows) - len(futures))} of {len(rows)} events not acknowledged: "
                               f"{error or failed[0]!r}")

    async def _idle(self) -> None:
        await self._count_unsent()
        if time.monotonic() >= self._next_cleanup:
            self._next_cleanup = time.monotonic() + 60
            deleted = await self.pool.execute(
                "DELETE FROM event_outbox WHERE sent_time < now() - make_interval(secs => $1)",
                self.settings.retention_s)
            if deleted != "DELETE 0":
                log.info("sent outbox rows deleted", extra={"result": deleted})
        await asyncio.sleep(self.settings.poll_interval_s)

    async def _count_unsent(self) -> None:
        self.unsent.set(await self.pool.fetchval("SELECT count(*) FROM event_outbox WHERE sent_time IS NULL"))

    # -- Kafka -----------------------------------------------------------------------------

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            timeout_ms = int(self.settings.send_timeout_s * 1000)
            producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap, client_id="ai4vc-events-relay",
                enable_idempotence=self.settings.kafka_idempotence, acks="all",
                request_timeout_ms=timeout_ms, linger_ms=5)
            try:
                await producer.start()
                await self.ensure_topics()
            except BaseException:
                await self._stop(producer)
                raise
            self._producer = producer
            self.connected.set(1)
            log.info("connected to Kafka", extra={"bootstrap": self.settings.kafka_bootstrap})
        return self._producer

    async def ensure_topics(self) -> None:
        """Creates the topics that are missing (a broker may not auto-create them; tansu's memory
        storage forgets them on restart, so this runs on every connection)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, client_id="ai4vc-events-relay",
                                    request_timeout_ms=int(self.settings.send_timeout_s * 1000))
        await admin.start()
        try:
            missing = [t for t in self.topics if t not in set(await admin.list_topics())]
            if not missing:
                return
            answer = await admin.create_topics(
                [NewTopic(t, self.settings.topic_partitions, self.settings.topic_replication) for t in missing])
            for topic, code, message in (e[:3] for e in answer.topic_errors):
                if code not in (0, _TOPIC_EXISTS):
                    raise PublishError(f"cannot create topic {topic}: {code} {message}")
            log.info("topics created", extra={"topics": ",".join(missing)})
        finally:
            await admin.close()

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        self.connected.set(0)
        if producer is not None:
            await self._stop(producer)

    @staticmethod
    async def _stop(producer: AIOKafkaProducer) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)

    async def close(self) -> None:
        await self._drop_producer()
