"""The edge's control plane hears key and session changes from PostgreSQL alone (the auth
schema's NOTIFY triggers, services/auth/migrations/0003_key_notify.sql), with no Redis at all —
what carries a change while Redis is frozen or down."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import asyncpg
import pytest

from gateway.edge.plane import ControlPlane
from services.auth.app import MIGRATIONS
from services.common.backends import db


async def _wait(check, timeout_s: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.fixture
async def plane(pg_schema, tmp_path: Path):
    url, schema = pg_schema
    pool = await db.create_pool(url, schema)
    await db.migrate(pool, MIGRATIONS, "auth")
    await pool.execute("INSERT INTO users (username, password_hash) VALUES ('alice', 'x')")
    plane = ControlPlane(pool, None, "", routes_dir=tmp_path / "routes", skeleton_path=tmp_path / "base.json",
                         access_log=None, default_rpm=60, failure_limit=10, resync_s=3600,
                         database_url=url, database_schema=schema, listen_ping_s=0.5)
    task = asyncio.create_task(plane._listener())
    try:
        await asyncio.wait_for(plane.listening.wait(), 10)
        yield plane, pool
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pool.close()


async def test_key_created_and_revoked_reach_the_plane_without_redis(plane):
    """A key row inserted, then revoked, is in, then out of, the plane's table with no Redis and no resync."""
    plane, pool = plane
    await pool.execute("INSERT INTO api_keys (key_id, display_name, owner, scopes, secret_salt, secret_hash,"
                       " edge_hash) VALUES ('k1', 'k', 'alice', '{nmt}', 's', 'h', '{SHA}x')")
    assert await _wait(lambda: "k1" in plane.keys)
    await pool.execute("UPDATE api_keys SET revoke_time = now() WHERE key_id = 'k1'")
    assert await _wait(lambda: "k1" not in plane.keys)


async def test_logged_out_session_reaches_the_plane_and_other_schemas_are_ignored(plane, postgres):
    """A session's revoke_time set is heard as a revoked session; the same change in another schema is not."""
    plane, pool = plane
    await pool.execute("INSERT INTO sessions (session_id, username, secret_salt, secret_hash, expire_time)"
                       " VALUES ('s1', 'alice', 's', 'h', now() + interval '1 hour')")
    await pool.execute("UPDATE sessions SET revoke_time = now() WHERE session_id = 's1'")
    assert await _wait(lambda: "s1" in plane.revoked)
    other = await asyncpg.connect(postgres.url)
    try:
        await other.execute("SELECT pg_notify('ai4vc_session_revoked', 'elsewhere:s2')")
    finally:
        await other.close()
    await asyncio.sleep(0.3)
    assert "s2" not in plane.revoked
