"""The API-key contract between the auth service and the edge (services.common.backends.keys),
against the test harness's real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.common.backends import keys, redis_client
from services.common.backends.keys import MISSING_KEY, KeyRecord

ROW: dict[str, Any] = {  # a row as `fetch_key_record`'s SELECT returns it
    "key_id": "0123456789abcdef", "owner": "asha", "scopes": ["tts", "nmt"], "secret_salt": "salt",
    "secret_hash": "f" * 64, "revoked": True, "requests_per_minute": 120, "audio_seconds_per_day": 3600,
    "characters_per_day": 10_000_000_000,
}


@pytest.fixture
async def redis(redis_server) -> AsyncIterator[aioredis.Redis]:
    client = redis_client.create(redis_server.url)
    yield client
    await client.aclose()


def _key_id() -> str:
    return secrets.token_hex(8)  # tests share the session's Redis


async def test_record_auth_writes_is_read_back_by_the_gateway_unchanged(redis):
    """What auth publishes after a revoke or rotate, the gateway's reader parses into an equal KeyRecord."""
    record = KeyRecord.from_row({**ROW, "key_id": _key_id()})
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.KEY_REVOKED_CHANNEL)
    try:
        await keys.publish_key_change(redis, record)
        message = None
        for _ in range(20):  # the subscription's own confirmation reads as None first
            message = await pubsub.get_message(timeout=0.1)
            if message is not None:
                break
    finally:
        await pubsub.aclose()
    assert await keys.read_cached(redis, record.key_id) == record
    assert message is not None and message["data"] == record.key_id.encode()


async def test_a_gateway_fill_caches_missing_keys_and_never_overwrites(redis):
    """An unknown key is cached as MISSING_KEY; a gateway's late fill leaves auth's fresh copy (SET NX)."""
    unknown = _key_id()
    assert await keys.read_cached(redis, unknown) is None
    await keys.fill_cache(redis, unknown, None, 300)
    cached = await keys.read_cached(redis, unknown)
    assert cached == MISSING_KEY and cached.missing
    fresh = KeyRecord.from_row({**ROW, "key_id": _key_id()})
    await keys.publish_key_change(redis, fresh)
    await keys.fill_cache(redis, fresh.key_id, KeyRecord.from_row({**ROW, "key_id": fresh.key_id, "revoked": False}),
                          300)
    assert await keys.read_cached(redis, fresh.key_id) == fresh


async def test_session_revocation_marks_are_seen_by_the_gateway(redis):
    """A session auth marks revoked reads as revoked at the edge; any other session does not."""
    session_id = secrets.token_hex(16)
    await keys.mark_session_revoked(redis, session_id, 900)
    assert await keys.session_revoked(redis, session_id)
    assert not await keys.session_revoked(redis, secrets.token_hex(16))
    assert 900 < await redis.ttl(keys.session_revoked_name(session_id)) <= 900 + keys.SESSION_REVOKED_MARGIN_S
