"""The outbox relay against a real PostgreSQL and the real tansu broker: nothing appended is lost
while the broker is away, nothing sent is sent again after a restart, replicas side by side
publish each row once; and the consumer helper moves past an event only once it was handled."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from ai4vc.events.v1 import events_pb2
from deploy.local.parts import Kafka, free_port
from services.common.backends import db, outbox
from services.common.backends.events import EventConsumer
from services.events import app as events_app
from services.events.settings import EventsSettings
from tests.service.harness import health_status, running


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float, what: str) -> None:
    """Waits for `check` (sync or async) to hold; fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s} s")
        await asyncio.sleep(0.05)


def settings_for(pg_schema: tuple[str, str], bootstrap: str) -> EventsSettings:
    url, schema = pg_schema
    return EventsSettings(port=0, metrics_port=-1, database_url=url, database_schema=schema, log_json=False,
                          kafka_bootstrap=bootstrap, kafka_idempotence=False, poll_interval_s=0.05,
                          send_timeout_s=2.0, max_backoff_s=0.3, topic_partitions=2)


@contextlib.asynccontextmanager
async def database(pg_schema: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    url, schema = pg_schema
    pool = await db.create_pool(url, schema)
    await outbox.migrate(pool)
    try:
        yield pool
    finally:
        await pool.close()


async def append_usage(pool: asyncpg.Pool, count: int, tag: str) -> set[str]:
    """`count` Usage events in one transaction; their ids."""
    events = [outbox.new_event(outbox.USAGE_TYPE, "test", f"{tag}-{i}", usage=events_pb2.Usage(characters=i))
              for i in range(count)]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.append(conn, events)
    return {e.id for e in events}


async def unsent(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM event_outbox WHERE sent_time IS NULL"))


async def published(bootstrap: str, topic: str = "ai4vc.usage") -> list[events_pb2.Event]:
    async with EventConsumer(bootstrap) as consumer:
        await consumer.assign([topic])
        return await consumer.read_to_end()


@pytest.fixture
def own_kafka(tmp_path):
    """A broker of this test's own, which the test may stop and start."""
    broker = Kafka(tmp_path / "kafka", free_port())
    broker.start()
    yield broker
    broker.stop()


async def test_broker_outage_loses_nothing_and_duplicates_nothing(pg_schema, own_kafka):
    """Broker stopped, 200 events appended, broker started again: exactly those 200 are published, once each."""
    async with database(pg_schema) as pool, running(settings_for(pg_schema, own_kafka.bootstrap),
                                                    events_app.create) as (app, handle, channel):
        registry = handle.metrics.registry
        await eventually(lambda: registry.get_sample_value("events_broker_connected") == 1,
                         10, "relay connected")
        assert await health_status(channel) == 1  # SERVING
        own_kafka.stop()
        ids = await append_usage(pool, 200, "outage")
        await eventually(lambda: (registry.get_sample_value("events_publish_failures_total") or 0) >= 2,
                         15, "relay noticed the outage")
        assert await unsent(pool) == 200  # delayed, not dropped
        own_kafka.start()
        await eventually(lambda: _zero(pool), 30, "outbox published")
        events = await published(own_kafka.bootstrap)
    assert len(events) == 200 and {e.id for e in events} == ids


async def _zero(pool: asyncpg.Pool) -> bool:
    return await unsent(pool) == 0


async def test_relay_restart_does_not_resend(pg_schema, kafka):
    """Rows a relay published are not published again by the relay that replaces it."""
    async with database(pg_schema) as pool:
        first = await append_usage(pool, 50, "before")
        async with running(settings_for(pg_schema, kafka.bootstrap), events_app.create):
            await eventually(lambda: _zero(pool), 20, "first batch published")
        second = await append_usage(pool, 10, "after")
        async with running(settings_for(pg_schema, kafka.bootstrap), events_app.create):
            await eventually(lambda: _zero(pool), 20, "second batch published")
    ours = [e for e in await published(kafka.bootstrap) if e.id in first | second]
    assert len(ours) == 60 and {e.id for e in ours} == first | second


async def test_replicas_side_by_side_publish_each_row_once(pg_schema, kafka):
    """Two relays on one outbox (SKIP LOCKED) publish every row, none twice."""
    async with database(pg_schema) as pool:
        ids = await append_usage(pool, 300, "replicas")
        settings = dataclasses.replace(settings_for(pg_schema, kafka.bootstrap), batch_size=20)
        async with running(settings, events_app.create), running(settings, events_app.create):
            await eventually(lambda: _zero(pool), 30, "outbox published")
    ours = [e for e in await published(kafka.bootstrap) if e.id in ids]
    assert len(ours) == 300 and {e.id for e in ours} == ids


async def test_consumer_moves_past_an_event_only_once_handled(pg_schema, kafka):
    """An event whose handler raised is read again; the offset is stored only after a handler returns."""
    async with database(pg_schema) as pool:
        ids = await append_usage(pool, 3, "consumer")
        async with running(settings_for(pg_schema, kafka.bootstrap), events_app.create):
            await eventually(lambda: _zero(pool), 20, "published")
    async with EventConsumer(kafka.bootstrap) as consumer:
        await consumer.assign(["ai4vc.usage"])
        handled: list[str] = []

        async def handler(event: events_pb2.Event) -> None:
            if event.id in ids and not any(h in ids for h in handled):
                handled.append(event.id)
                raise RuntimeError("handler failed")
            handled.append(event.id)

        with pytest.raises(RuntimeError):
            await asyncio.wait_for(consumer.run(handler), 10)
        failed = handled[-1]
        positions = dict(consumer.positions)
        # The failed event was not stored as read: the next loop starts with it.
        first = await asyncio.wait_for(anext(aiter(consumer.events())), 10)
        assert first.id == failed and consumer.positions == positions
