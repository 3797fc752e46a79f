"""The outbox against a real PostgreSQL: a record and its events commit in one transaction, a
replayed batch adds no event twice, spooled records bring their events back with them, and
auth's key/user/session changes append their audit events in the change's transaction."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import asyncpg
import pytest

from ai4vc.events.v1 import events_pb2
from deploy.local.parts import free_port
from services.auth import app as auth_app
from services.auth.core import AuthCore, Caller, Quota
from services.auth.settings import AuthSettings
from services.common.backends import db, outbox
from services.common.backends.records import RecordSink
from services.nmt import records as nmt_records
from services.nmt.app import MIGRATIONS as NMT_MIGRATIONS


def nmt_record(i: int) -> dict:
    return {
        "id": str(uuid.uuid4()), "request_id": f"req-{i}",
        "created_time": datetime.datetime.now(datetime.UTC).isoformat(), "principal": "alice",
        "method": "TranslateText", "model": "nmt", "source_language_code": "hi", "target_language_code": "ur",
        "status": "OK", "results": [{"source_text": "नमस्ते", "translated_text": "سلام", "source_language_code": "hi"}],
        "key_id": "0123456789abcdef", "traceparent": "", "metered": {"characters": 6, "audio_seconds": 0.0},
        "latency_ms": 3.0,
    }


def factory(box: dict[str, str], schema: str):
    async def make() -> asyncpg.Pool:
        pool = await db.create_pool(box["url"], schema)
        await db.migrate(pool, NMT_MIGRATIONS, "nmt")
        await outbox.migrate(pool)
        return pool
    return make


async def fetch(url: str, schema: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def requests(url: str, schema: str) -> int:
    """Rows in nmt_requests; 0 until the sink has migrated its schema."""
    try:
        return len(await fetch(url, schema, "SELECT id FROM nmt_requests"))
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0


async def outbox_events(url: str, schema: str) -> list[events_pb2.Event]:
    return [events_pb2.Event.FromString(r["payload"])
            for r in await fetch(url, schema, "SELECT payload FROM event_outbox ORDER BY created_time, id")]


async def test_records_and_events_commit_together(pg_schema, tmp_path):
    """Each NMT record lands with its InferenceRequest and Usage events, ids derived from the record."""
    url, schema = pg_schema
    sink = RecordSink("nmt", nmt_records.write_records, factory({"url": url}, schema), tmp_path,
                      flush_interval_s=0.01, events=nmt_records.events)
    sink.start()
    records = [nmt_record(i) for i in range(20)]
    for record in records:
        sink.submit(record)
    assert await sink.drain(20)
    await sink.close()
    assert len(await fetch(url, schema, "SELECT id FROM nmt_requests")) == 20
    events = await outbox_events(url, schema)
    types = (outbox.INFERENCE_REQUEST_TYPE, outbox.USAGE_TYPE)
    expected = {outbox.event_id(r["id"], t) for r in records for t in types}
    assert {e.id for e in events} == expected and len(events) == 40
    assert all(e.inference_request.language_code == "hi" for e in events if e.HasField("inference_request"))


async def test_a_failed_batch_writes_neither_records_nor_events(pg_schema, tmp_path):
    """A batch whose transaction fails leaves no event behind; its retry writes each event once."""
    url, schema = pg_schema
    failures = {"left": 1}

    async def flaky(conn: asyncpg.Connection, batch) -> None:
        await nmt_records.write_records(conn, batch)
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("lost in the middle of the transaction")

    sink = RecordSink("nmt", flaky, factory({"url": url}, schema), tmp_path, flush_interval_s=0.01,
                      max_backoff_s=0.1, events=nmt_records.events)
    sink.start()
    records = [nmt_record(i) for i in range(5)]
    for record in records:
        sink.submit(record)
    for _ in range(200):
        if not sink.spool_path.exists() and await requests(url, schema) == 5:
            break
        await asyncio.sleep(0.05)
    await sink.close()
    assert len(await outbox_events(url, schema)) == 10


async def test_replayed_batch_adds_no_duplicate_events(pg_schema, tmp_path):
    """Records committed once and then replayed (commit outcome unknown) add no record and no event."""
    url, schema = pg_schema
    sink = RecordSink("nmt", nmt_records.write_records, factory({"url": url}, schema), tmp_path,
                      flush_interval_s=0.01, events=nmt_records.events)
    sink.start()
    records = [nmt_record(i) for i in range(10)]
    for _round in range(2):
        for record in records:
            sink.submit(dict(record))
        assert await sink.drain(20)
    await sink.close()
    assert len(await fetch(url, schema, "SELECT id FROM nmt_requests")) == 10
    events = await outbox_events(url, schema)
    assert len(events) == 20 and len({e.id for e in events}) == 20


async def test_spooled_records_bring_their_events(pg_schema, tmp_path):
    """Records spooled while PostgreSQL is away get their events when the spool is replayed."""
    url, schema = pg_schema
    box = {"url": f"postgresql://nobody:x@127.0.0.1:{free_port()}/none"}  # nothing listens there
    sink = RecordSink("nmt", nmt_records.write_records, factory(box, schema), tmp_path, flush_interval_s=0.01,
                      max_backoff_s=0.2, events=nmt_records.events)
    sink.start()
    records = [nmt_record(i) for i in range(8)]
    for record in records:
        sink.submit(record)
    assert await sink.drain(10)
    assert sink.spool_path.exists()
    box["url"] = url
    for _ in range(200):
        if not sink.spool_path.exists() and await requests(url, schema) == 8:
            break
        await asyncio.sleep(0.05)
    await sink.close()
    events = await outbox_events(url, schema)
    assert {e.subject for e in events} == {f"req-{i}" for i in range(8)} and len(events) == 16


@pytest.fixture
async def auth_core(pg_schema):
    url, schema = pg_schema
    settings = AuthSettings(database_url=url, database_schema=schema, jwt_secret="j" * 40, key_pepper="p" * 24)
    pool = await auth_app.open_pool(settings)
    yield AuthCore(settings, pool, None), url, schema
    await pool.close()


async def test_auth_changes_append_audit_events(auth_core):
    """Creating a user and a key, and revoking it, each append an AuditEntry event with no secret or hash."""
    core, url, schema = auth_core
    admin = Caller("root", frozenset({"admin"}))
    await core.create_user(admin, "carol", "a-long-password-1", ["nmt"])
    issued = await core.create_key(admin, "app", ["nmt"], Quota(requests_per_minute=5), owner="carol")
    await core.revoke_key(admin, issued.api_key.key_id)
    events = await outbox_events(url, schema)
    assert [(e.audit.action, e.audit.target, e.principal) for e in events] == [
        ("user.created", "carol", "root"), ("key.created", issued.api_key.key_id, "root"),
        ("key.revoked", issued.api_key.key_id, "root")]
    assert all(outbox.topic_of(e) == "ai4vc.audit" and e.source == "auth" for e in events)
    assert events[1].audit.details["owner"] == "carol"
    hashes = [r["secret_hash"] for r in await fetch(url, schema, "SELECT secret_hash FROM api_keys")]
    hashes += [r["password_hash"] for r in await fetch(url, schema, "SELECT password_hash FROM users")]
    wire = b"".join(e.SerializeToString() for e in events)
    secret = issued.key.rsplit(".", 1)[-1].rsplit("_", 1)[-1]
    assert secret.encode() not in wire
    assert not any((h if isinstance(h, bytes) else str(h).encode()) in wire for h in hashes)


async def test_a_refused_change_appends_no_event(auth_core):
    """A change that fails (the user exists) rolls its audit event back with it."""
    core, url, schema = auth_core
    admin = Caller("root", frozenset({"admin"}))
    await core.create_user(admin, "dave", "a-long-password-2", [])
    with pytest.raises(Exception):  # noqa: B017 - FailedPrecondition, whatever its transport
        await core.create_user(admin, "dave", "a-long-password-3", [])
    assert len(await outbox_events(url, schema)) == 1
