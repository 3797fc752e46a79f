"""RecordSink against a real PostgreSQL: writes off the hot path, spools while the database
is away, replays once it is back — nothing accepted is lost, nothing is written twice."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest

from deploy.local.parts import free_port
from services.common.backends import db
from services.common.backends.records import RecordSink

DDL = "CREATE TABLE IF NOT EXISTS events (id text PRIMARY KEY, payload text NOT NULL)"


async def write_events(conn: asyncpg.Connection, batch) -> None:
    await conn.executemany("INSERT INTO events (id, payload) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                           [(r["id"], r["payload"]) for r in batch])


async def create_table(conn: asyncpg.Connection) -> None:
    """The test table, created under the schema lock (the sink and this test create it at once)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", db.SCHEMA_LOCK_ID)
        await conn.execute(DDL)


async def rows(url: str, schema: str) -> list[str]:
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        await db.ensure_schema(conn, schema)
        await create_table(conn)
        return [r["id"] for r in await conn.fetch("SELECT id FROM events ORDER BY id")]
    finally:
        await conn.close()


def factory(url_box: dict[str, str], schema: str):
    async def make() -> asyncpg.Pool:
        pool = await db.create_pool(url_box["url"], schema)
        async with pool.acquire() as conn:
            await create_table(conn)
        return pool
    return make


async def test_submit_never_waits_and_records_land(pg_schema, tmp_path):
    """Submitted records are committed in batches by the background writer."""
    url, schema = pg_schema
    sink = RecordSink("events", write_events, factory({"url": url}, schema), tmp_path, flush_interval_s=0.01)
    sink.start()
    for i in range(500):
        sink.submit({"id": f"r{i:04d}", "payload": "x"})
    assert await sink.drain(20)
    await sink.close()
    assert len(await rows(url, schema)) == 500
    assert not sink.spool_path.exists()


async def test_database_outage_spools_then_replays_without_loss(pg_schema, tmp_path):
    """While PostgreSQL is unreachable records go to the disk spool; when it returns they are all
    written exactly once."""
    url, schema = pg_schema
    box = {"url": f"postgresql://nobody:x@127.0.0.1:{free_port()}/none"}  # nothing listens there
    sink = RecordSink("events", write_events, factory(box, schema), tmp_path, flush_interval_s=0.01,
                      max_backoff_s=0.2)
    sink.start()
    for i in range(50):
        sink.submit({"id": f"a{i:03d}", "payload": "during outage"})
    assert await sink.drain(10)
    spooled = [json.loads(line)["id"] for line in sink.spool_path.read_text().splitlines()]
    assert sorted(spooled) == [f"a{i:03d}" for i in range(50)]

    box["url"] = url  # the database comes back
    for i in range(10):
        sink.submit({"id": f"b{i:03d}", "payload": "after"})
    for _ in range(200):
        if len(await rows(url, schema)) == 60 and not sink.spool_path.exists():
            break
        await asyncio.sleep(0.05)
    await sink.close()
    assert await rows(url, schema) == sorted([f"a{i:03d}" for i in range(50)] + [f"b{i:03d}" for i in range(10)])


async def test_close_spools_what_it_could_not_write(tmp_path):
    """Records still queued at shutdown with no database are kept on disk, not dropped."""
    sink = RecordSink("events", write_events, None, tmp_path)
    sink.start()
    for i in range(5):
        sink.submit({"id": f"c{i}", "payload": "p"})
    await sink.close(timeout_s=2)
    assert len(sink.spool_path.read_text().splitlines()) == 5


async def test_full_queue_goes_to_spool(tmp_path):
    """A full in-memory queue spills to the spool instead of blocking or dropping."""
    sink = RecordSink("events", write_events, None, tmp_path, max_queue=3)
    for i in range(10):  # writer not started: the queue fills
        sink.submit({"id": f"d{i}", "payload": "p"})
    assert len(sink.spool_path.read_text().splitlines()) == 7
    await sink.close(timeout_s=0.1)
    assert len(sink.spool_path.read_text().splitlines()) == 10


@pytest.mark.parametrize("component", ["nmt"])
async def test_migrations_apply_once(pg_schema, component):
    """Versioned migrations apply in order once; a second run applies nothing."""
    from services.nmt.app import MIGRATIONS

    url, schema = pg_schema
    pool = await db.create_pool(url, schema)
    try:
        first = await db.migrate(pool, MIGRATIONS, component)
        second = await db.migrate(pool, MIGRATIONS, component)
        tables = {r["tablename"] for r in await pool.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)}
    finally:
        await pool.close()
    assert first == [1, 2] and second == []
    assert {"nmt_requests", "nmt_results", "schema_migrations"} <= tables


def _nmt_record(record_id: str, **fields) -> dict:
    return {"id": record_id, "request_id": "req-w", "created_time": "2025-01-02T03:04:05+00:00", "principal": "p",
            "model": "m", "source_language_code": "hi", "target_language_code": "ur", "status": "OK",
            "latency_ms": 1.5, "results": [{"source_text": "नमस्ते", "translated_text": "x",
                                             "source_language_code": "hi"}], **fields}


async def test_nmt_writer_is_idempotent_and_takes_records_spooled_before_methods(pg_schema):
    """The NMT writer writes a replayed batch once, and a record spooled before `method` existed as TranslateText."""
    from services.nmt.app import MIGRATIONS
    from services.nmt.records import write_records

    url, schema = pg_schema
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [_nmt_record(old),
             _nmt_record(new, method="Transliterate",
                         results=[{"source_text": "namaste", "translated_text": "नमस्ते", "source_language_code": "en",
                                   "alternatives": ["नमस्ते", "नमस्तें"]}])]
    pool = await db.create_pool(url, schema)
    try:
        await db.migrate(pool, MIGRATIONS, "nmt")
        for _ in range(2):  # a replay of a batch whose commit outcome was unknown
            async with pool.acquire() as conn, conn.transaction():
                await write_records(conn, batch)
        requests = {str(r["id"]): r for r in await pool.fetch("SELECT * FROM nmt_requests")}
        results = await pool.fetch("SELECT request_uuid, alternatives FROM nmt_results")
    finally:
        await pool.close()
    assert requests[old]["method"] == "TranslateText" and requests[new]["method"] == "Transliterate"
    assert requests[new]["total_characters"] == len("namaste")
    assert sorted(json.loads(r["alternatives"]) for r in results) == [[], ["नमस्ते", "नमस्तें"]]


async def test_components_migrating_together_on_a_fresh_schema_all_succeed(pg_schema, tmp_path):
    """Several components (each under its own migration lock) migrating at once on a fresh schema
    all succeed: the schema_migrations table they share is created under the mesh-wide lock (a race
    on it crashed a service's first start under compose)."""
    url, schema = pg_schema
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_t.sql").write_text("SELECT 1")
    pools = [await db.create_pool(url, schema) for _ in range(6)]
    try:
        for _ in range(3):  # each round starts without the table
            async with pools[0].acquire() as conn:
                await conn.execute("DROP TABLE IF EXISTS schema_migrations")
            results = await asyncio.gather(*(db.migrate(pool, folder, f"c{i}") for i, pool in enumerate(pools)),
                                           return_exceptions=True)
            assert results == [[1]] * len(pools)
    finally:
        for pool in pools:
            await pool.close()


async def test_a_busy_writer_gathers_records_between_commits(pg_schema, tmp_path):
    """Records that arrive one at a time while the writer committed less than `commit_interval_s` ago
    wait for the interval and go in one batch: 40 records sent 5 ms apart make about one commit per
    interval that their sending spanned, not 40, and all land."""
    url, schema = pg_schema
    sizes: list[int] = []

    async def counting(conn: asyncpg.Connection, batch) -> None:
        sizes.append(len(batch))
        await write_events(conn, batch)

    sink = RecordSink("events", counting, factory({"url": url}, schema), tmp_path, commit_interval_s=0.1)
    sink.start()
    loop = asyncio.get_running_loop()
    began = loop.time()
    for i in range(40):
        sink.submit({"id": f"b{i:04d}", "payload": "x"})
        await asyncio.sleep(0.005)
    spanned = loop.time() - began
    assert await sink.drain(20)
    await sink.close()
    assert sorted(await rows(url, schema)) == [f"b{i:04d}" for i in range(40)]
    assert sum(sizes) == 40 and len(sizes) <= spanned / 0.1 + 2 < 40
