"""The metrics service in-process (production factory and interceptors) against a real PostgreSQL
schema and the real tansu broker: events become minute and day rollups once each (a redelivered
event, a lost offset, a restart count nothing twice), QueryUsage groups, filters and pages, both
RPCs scope to the caller's own keys, and bad input is INVALID_ARGUMENT naming the field. The
optional InfluxDB sink against a real `influxd` (Debian influxdb 1.6) the test starts."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import grpc
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from google.protobuf import duration_pb2, timestamp_pb2

from ai4vc.events.v1 import events_pb2
from ai4vc.metrics.v1 import metrics_service_pb2 as pb
from ai4vc.metrics.v1 import metrics_service_pb2_grpc as pb_grpc
from deploy.local.parts import free_ports, wait_for
from services.common.backends import db, outbox
from services.metrics import app as metrics_app
from services.metrics.influx import line
from services.metrics.records import Counts, Rollup, RollupKey
from services.metrics.settings import MetricsSettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running
from tests.service.test_relay import eventually

ADMIN = (("x-ai4vc-principal", "admin"), ("x-ai4vc-scopes", "admin"))
ASHA = (("x-ai4vc-principal", "asha"), ("x-ai4vc-scopes", "nmt"))
RAVI = (("x-ai4vc-principal", "ravi"), ("x-ai4vc-scopes", "tts"))
AUTH_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "auth" / "migrations"
NOW = datetime.datetime.now(datetime.UTC).replace(second=30, microsecond=0)


@pytest.fixture
def topics() -> tuple[str, str]:
    """Topics of this test's own on the shared broker, so no other test's events are counted."""
    tag = uuid.uuid4().hex[:8]
    return (f"t{tag}.usage", f"t{tag}.inference")


@pytest.fixture
def settings(pg_schema, kafka, topics) -> MetricsSettings:
    url, schema = pg_schema
    return MetricsSettings(port=0, metrics_port=-1, database_url=url, database_schema=schema, log_json=False,
                           kafka_bootstrap=kafka.bootstrap, topics=topics, poll_timeout_s=0.05, max_backoff_s=0.3)


@pytest.fixture
async def producer(kafka, topics) -> AsyncIterator[AIOKafkaProducer]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 2, 1) for t in topics])
    finally:
        await admin.close()
    the_producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=False)
    await the_producer.start()
    yield the_producer
    await the_producer.stop()


def inference(key_id: str, principal: str, *, service: str = "nmt", method: str = "TranslateText",
              language: str = "hi", model: str = "apertium-hin-urd", characters: int = 10, audio_seconds: float = 0.0,
              latency_ms: float = 20.0, status: str = "OK", when: datetime.datetime = NOW) -> events_pb2.Event:
    latency = duration_pb2.Duration()
    latency.FromNanoseconds(int(latency_ms * 1e6))
    return outbox.new_event(outbox.INFERENCE_REQUEST_TYPE, service, f"req-{uuid.uuid4().hex[:8]}", principal,
                            time=when, inference_request=events_pb2.InferenceRequest(
                                service=service, method=method, model=model, language_code=language,
                                characters=characters, audio_seconds=audio_seconds, latency=latency, status=status,
                                key_id=key_id))


def usage(key_id: str, principal: str, characters: int, service: str = "nmt") -> events_pb2.Event:
    return outbox.new_event(outbox.USAGE_TYPE, service, f"req-{uuid.uuid4().hex[:8]}", principal, time=NOW,
                            usage=events_pb2.Usage(key_id=key_id, service=service, characters=characters))


async def publish(producer: AIOKafkaProducer, topics: tuple[str, str], events: list[events_pb2.Event]) -> None:
    for event in events:
        topic = topics[0] if event.WhichOneof("payload") == "usage" else topics[1]
        await producer.send_and_wait(topic, event.SerializeToString(), key=event.subject.encode())


def ts(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def day_query(**fields) -> pb.QueryUsageRequest:  # type: ignore[no-untyped-def]
    return pb.QueryUsageRequest(start_time=ts(NOW - datetime.timedelta(days=2)),
                                end_time=ts(NOW + datetime.timedelta(days=1)),
                                granularity=pb.USAGE_GRANULARITY_DAY, **fields)


async def total_requests(stub: pb_grpc.MetricsServiceStub, metadata=ADMIN, **fields) -> int:  # type: ignore[no-untyped-def]
    answer = await stub.QueryUsage(day_query(**fields), metadata=metadata, timeout=10)
    return sum(r.totals.request_count for r in answer.rows)


async def _refused(call, code: grpc.StatusCode, reason: str, field: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    info, _fields = error_info(err.value)
    assert info is not None and info.reason == reason, (info, err.value.details())
    if field is not None:
        assert info.metadata["field"] == field, info.metadata


async def _sql(settings: MetricsSettings, query: str, *args):  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_rollups_count_each_event_once(settings, producer, topics):
    """Events become minute and day rollups; a redelivered event, a restart, and offsets lost from PostgreSQL
    count nothing twice; offsets are stored with the rollups."""
    events = [inference("k1", "asha", characters=5) for _ in range(4)] + [usage("k1", "asha", 20)]
    await publish(producer, topics, events)
    await publish(producer, topics, events[:2])  # at-least-once: the same events again
    async with running(settings, metrics_app.create) as (app, _handle, channel):
        assert await health_status(channel) == 1
        stub = pb_grpc.MetricsServiceStub(channel)
        await eventually(lambda: _counted(stub, 4), 20, "events counted")
        await eventually(lambda: app.ingest.duplicates._value.get() >= 2, 10, "duplicates seen")  # noqa: SLF001
        minute = await stub.QueryUsage(pb.QueryUsageRequest(start_time=ts(NOW - datetime.timedelta(hours=1)),
                                                            end_time=ts(NOW + datetime.timedelta(hours=1)),
                                                            granularity=pb.USAGE_GRANULARITY_MINUTE),
                                       metadata=ADMIN, timeout=10)
    [row] = minute.rows
    assert row.bucket_start_time.ToDatetime(datetime.UTC) == NOW.replace(second=0)
    assert (row.totals.request_count, row.totals.characters, row.totals.metered_characters) == (4, 20, 20)
    assert sum(b.count for b in row.totals.latency_buckets) == 4
    offsets = await _sql(settings, "SELECT topic, sum(next_offset) AS n FROM metrics_consumer_offsets GROUP BY topic")
    assert {r["topic"]: r["n"] for r in offsets} == {topics[0]: 1, topics[1]: 6}
    # A restart resumes from the stored offsets; with them lost, the event ids still dedupe.
    await publish(producer, topics, [inference("k1", "asha")])
    async with running(settings, metrics_app.create) as (_app, _handle, channel):
        await eventually(lambda: _counted(pb_grpc.MetricsServiceStub(channel), 5), 20, "new event counted")
    await _sql(settings, "DELETE FROM metrics_consumer_offsets")
    async with running(settings, metrics_app.create) as (app, _handle, channel):
        await eventually(lambda: app.ingest.duplicates._value.get() >= 8, 20, "replay deduplicated")  # noqa: SLF001
        assert await total_requests(pb_grpc.MetricsServiceStub(channel)) == 5


async def _counted(stub: pb_grpc.MetricsServiceStub, expected: int) -> bool:
    return await total_requests(stub) == expected


async def _owners(settings: MetricsSettings) -> None:
    """The auth service's tables in the test schema: asha owns k1 and k3, ravi owns k2."""
    pool = await db.create_pool(settings.database_url, settings.database_schema)
    try:
        await db.migrate(pool, AUTH_MIGRATIONS, "auth")
        await pool.executemany("INSERT INTO users (username, password_hash) VALUES ($1, 'x')", [("asha",), ("ravi",)])
        await pool.executemany(
            "INSERT INTO api_keys (key_id, display_name, owner, scopes, secret_salt, secret_hash)"
            " VALUES ($1, $1, $2, '{nmt}', 's', 'h')", [("k1", "asha"), ("k2", "ravi"), ("k3", "asha")])
    finally:
        await pool.close()


@pytest.fixture
async def loaded(settings, producer, topics) -> AsyncIterator[pb_grpc.MetricsServiceStub]:
    """A running service with a known mix of calls counted."""
    await _owners(settings)
    yesterday = NOW - datetime.timedelta(days=1)
    events = [
        inference("k1", "asha", language="hi", characters=10, latency_ms=3),
        inference("k1", "asha", language="ur", characters=7, latency_ms=40),
        inference("k1", "asha", language="hi", status="TOO_MANY_CONTENTS", characters=0, latency_ms=1),
        inference("k3", "asha", service="tts", method="Synthesize", language="ta", model="espeak-ta", characters=4,
                  audio_seconds=1.5, latency_ms=120, when=yesterday),
        inference("", "asha", language="hi", characters=2),  # a bearer-token call of asha's
        inference("k2", "ravi", language="hi", characters=100, status="BACKEND_UNAVAILABLE", latency_ms=20000),
        inference("k2", "ravi", language="bn", characters=50),
        usage("k1", "asha", 17),
    ]
    await publish(producer, topics, events)
    async with running(settings, metrics_app.create) as (_app, _handle, channel):
        stub = pb_grpc.MetricsServiceStub(channel)
        await eventually(lambda: _counted(stub, 7), 20, "events counted")
        yield stub


async def test_group_by_filters_and_paging(loaded):
    """group_by sums over the other dimensions; filters narrow; pages follow the token; errors are by reason."""
    answer = await loaded.QueryUsage(day_query(group_by=["language_code"]), metadata=ADMIN, timeout=10)
    today = {r.language_code: r.totals for r in answer.rows
             if r.bucket_start_time.ToDatetime(datetime.UTC).date() == NOW.date()}
    assert {k: v.request_count for k, v in today.items()} == {"hi": 4, "ur": 1, "bn": 1, "": 0}
    assert today[""].metered_characters == 17
    assert dict(today["hi"].errors_by_reason) == {"TOO_MANY_CONTENTS": 1, "BACKEND_UNAVAILABLE": 1}
    assert today["hi"].error_count == 2 and today["hi"].characters == 112
    assert today["hi"].latency_buckets[-1].count == 1 and not today["hi"].latency_buckets[-1].HasField("upper_bound")
    # Filters, and the same grouping asked in another order is the same query.
    tts = await loaded.QueryUsage(day_query(group_by=["service", "key_id"], services=["tts"]), metadata=ADMIN,
                                  timeout=10)
    assert [(r.key_id, r.service, r.totals.audio_seconds) for r in tts.rows] == [("k3", "tts", 1.5)]
    # Paging: one row at a time through every (day, key) group, none twice.
    seen, token = [], ""
    while True:
        page = await loaded.QueryUsage(day_query(group_by=["key_id"], page_size=1, page_token=token), metadata=ADMIN,
                                       timeout=10)
        seen += [(r.bucket_start_time.seconds, r.key_id) for r in page.rows]
        token = page.next_page_token
        if not token:
            break
        # The token is bound to its query: another grouping refuses it.
        await _refused(loaded.QueryUsage(day_query(group_by=["service"], page_token=token), metadata=ADMIN,
                                         timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN",
                       "page_token")
    assert len(seen) == len(set(seen)) == 4  # yesterday k3; today "", k1, k2
    assert sorted(k for _, k in seen) == ["", "k1", "k2", "k3"]


async def test_callers_see_their_own_keys(loaded):
    """A caller sees its own keys' and bearer-token calls only; admins see all; another's key reads as missing."""
    asha = await loaded.QueryUsage(day_query(group_by=["key_id"]), metadata=ASHA, timeout=10)
    assert {r.key_id for r in asha.rows} == {"", "k1", "k3"}
    assert await total_requests(loaded, ASHA, key_ids=["k2"]) == 0  # ravi's key: nothing visible
    assert await total_requests(loaded, RAVI) == 2
    assert await total_requests(loaded, ADMIN) == 7
    mine = await loaded.GetUsageSummary(pb.GetUsageSummaryRequest(), metadata=ASHA, timeout=10)
    assert mine.range.totals.request_count == 5 and mine.today.totals.request_count == 4
    assert {d.value: d.totals.request_count for d in mine.range.by_service} == {"nmt": 4, "tts": 1}
    assert {d.value: d.totals.request_count for d in mine.today.by_language} == {"hi": 3, "ur": 1, "": 0}
    assert mine.today.totals.metered_characters == 17
    assert mine.range_end_time.ToDatetime(datetime.UTC) - mine.range_start_time.ToDatetime(datetime.UTC) == \
        datetime.timedelta(days=30)
    key = await loaded.GetUsageSummary(pb.GetUsageSummaryRequest(key_id="k3"), metadata=ASHA, timeout=10)
    assert key.range.totals.audio_seconds == 1.5 and key.today.totals.request_count == 0
    await _refused(loaded.GetUsageSummary(pb.GetUsageSummaryRequest(key_id="k2"), metadata=ASHA, timeout=10),
                   grpc.StatusCode.NOT_FOUND, "KEY_NOT_FOUND", "key_id")
    await _refused(loaded.GetUsageSummary(pb.GetUsageSummaryRequest(username="ravi"), metadata=ASHA, timeout=10),
                   grpc.StatusCode.PERMISSION_DENIED, "ADMIN_REQUIRED", "username")
    ravi = await loaded.GetUsageSummary(pb.GetUsageSummaryRequest(username="ravi"), metadata=ADMIN, timeout=10)
    assert ravi.today.totals.error_count == 1 and ravi.today.totals.characters == 150
    await _refused(loaded.QueryUsage(day_query(), timeout=10), grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")


async def test_bad_input_is_invalid_argument(loaded):
    """Unknown dimensions, absurd ranges, missing fields, oversized filters → INVALID_ARGUMENT naming the field."""
    bad = grpc.StatusCode.INVALID_ARGUMENT
    q = loaded.QueryUsage
    await _refused(q(day_query(group_by=["colour"]), metadata=ADMIN), bad, "UNKNOWN_DIMENSION", "group_by")
    await _refused(q(day_query(group_by=["model", "model"]), metadata=ADMIN), bad, "UNKNOWN_DIMENSION", "group_by")
    year_of_minutes = pb.QueryUsageRequest(start_time=ts(NOW - datetime.timedelta(days=401)), end_time=ts(NOW),
                                           granularity=pb.USAGE_GRANULARITY_MINUTE)
    await _refused(q(year_of_minutes, metadata=ADMIN), bad, "FIELD_OUT_OF_RANGE", "end_time")
    await _refused(q(pb.QueryUsageRequest(end_time=ts(NOW), granularity=pb.USAGE_GRANULARITY_DAY), metadata=ADMIN),
                   bad, "FIELD_REQUIRED", "start_time")
    await _refused(q(pb.QueryUsageRequest(start_time=ts(NOW), end_time=ts(NOW + datetime.timedelta(hours=1))),
                     metadata=ADMIN), bad, "FIELD_REQUIRED", "granularity")
    backwards = pb.QueryUsageRequest(start_time=ts(NOW), end_time=ts(NOW - datetime.timedelta(hours=1)),
                                     granularity=pb.USAGE_GRANULARITY_DAY)
    await _refused(q(backwards, metadata=ADMIN), bad, "FIELD_OUT_OF_RANGE", "end_time")
    far = day_query()
    far.end_time.seconds = 2**62
    await _refused(q(far, metadata=ADMIN), bad, "FIELD_OUT_OF_RANGE", "end_time")
    await _refused(q(day_query(services=[f"s{i}" for i in range(101)]), metadata=ADMIN), bad, "FIELD_OUT_OF_RANGE",
                   "services")
    await _refused(q(day_query(models=["m" * 129]), metadata=ADMIN), bad, "FIELD_OUT_OF_RANGE", "models")
    await _refused(q(day_query(page_size=-1), metadata=ADMIN), bad, "FIELD_OUT_OF_RANGE", "page_size")
    await _refused(q(day_query(page_token="bm9wZQ=="), metadata=ADMIN), bad, "INVALID_PAGE_TOKEN", "page_token")
    s = loaded.GetUsageSummary
    await _refused(s(pb.GetUsageSummaryRequest(key_id="k1", username="asha"), metadata=ADMIN), bad,
                   "FIELD_OUT_OF_RANGE", "username")
    await _refused(s(pb.GetUsageSummaryRequest(start_time=ts(NOW - datetime.timedelta(days=500))), metadata=ADMIN),
                   bad, "FIELD_OUT_OF_RANGE", "end_time")
    # A huge page size is bounded, not refused.
    assert (await q(day_query(page_size=2**31 - 1), metadata=ADMIN, timeout=10)).rows
    await asyncio.sleep(0)


# -- the InfluxDB sink ------------------------------------------------------------------------

INFLUXD = shutil.which("influxd")
CONFIG = """reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{home}/meta"
[data]
  dir = "{home}/data"
  wal-dir = "{home}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
"""


@pytest.fixture
def influxd(tmp_path: Path) -> Iterator[str]:
    """A private influxd on free ports; its HTTP URL."""
    if INFLUXD is None:
        pytest.skip("influxd not installed (Debian package influxdb; deploy/local/bootstrap.sh installs it)")
    http, rpc = free_ports(2)
    config = tmp_path / "influxdb.conf"
    config.write_text(CONFIG.format(rpc=rpc, http=http, home=tmp_path))
    log = (tmp_path / "influxd.log").open("wb")
    proc = subprocess.Popen([INFLUXD, "-config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http}"
    try:
        wait_for(lambda: httpx.get(f"{url}/ping", timeout=1).status_code == 204, 30, "influxd",
                 tmp_path / "influxd.log", lambda: proc.poll() is None)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _points(url: str, measurement: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{url}/query", params={"db": "usage_test", "q": f"SELECT * FROM {measurement}"}, timeout=5)
    answer.raise_for_status()
    series = answer.json()["results"][0].get("series", [])
    return [dict(zip(s["columns"], values, strict=True)) for s in series for values in s["values"]]


def test_line_protocol_escapes_tags_and_omits_empty_ones():
    """Tag values with spaces, commas and = are escaped; empty tags are left out; integers carry their i."""
    rollup = Rollup("minute", datetime.datetime(2025, 1, 2, 3, 4, tzinfo=datetime.UTC),
                    RollupKey("k1", "a b", "nmt", "", "hi,x", "m=1", "OK"), Counts(request_count=2, characters=9))
    text = line(rollup)
    assert text.startswith("ai4vc_usage_minute,key_id=k1,language_code=hi\\,x,model=m\\=1,principal=a\\ b,"
                           "service=nmt,status=OK request_count=2i,characters=9i,")
    assert text.endswith(f" {int(rollup.bucket_start.timestamp())}") and "method=" not in text


async def test_rollups_reach_influxdb_once(settings, producer, topics, influxd):
    """Committed rollups are in InfluxDB with their totals; a redelivered event changes nothing there either."""
    sinking = dataclasses.replace(settings, influx_url=influxd, influx_database="usage_test")
    events = [inference("k1", "asha", characters=5), inference("k1", "asha", characters=6, language="ur"),
              usage("k1", "asha", 11)]
    await publish(producer, topics, events + events[:1])
    async with running(sinking, metrics_app.create) as (app, _handle, _channel):
        await eventually(lambda: app.ingest.duplicates._value.get() >= 1, 20, "events counted")  # noqa: SLF001
        influx = app.ingest.influx
        assert influx is not None
        await eventually(lambda: influx.written._value.get() >= 6, 10, "points written")  # noqa: SLF001
    day = _points(influxd, "ai4vc_usage_day")
    requests = {(p["language_code"], p["status"]): p["request_count"] for p in day if p["request_count"]}
    assert requests == {("hi", "OK"): 1, ("ur", "OK"): 1}
    assert sum(int(p["metered_characters"] or 0) for p in day) == 11
    assert len(_points(influxd, "ai4vc_usage_minute")) == 3


async def test_sink_is_off_by_default(settings, producer, topics):
    """Without influx_url the service writes to PostgreSQL only."""
    await publish(producer, topics, [inference("k1", "asha")])
    async with running(settings, metrics_app.create) as (app, _handle, _channel):
        deadline = time.monotonic() + 20
        while app.ingest.batches == 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert app.ingest.influx is None
