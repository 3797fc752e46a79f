"""The auth service ↔ edge contract for API keys, in one place: the record the gateway checks a
key against, how it is read from `api_keys` and encoded in Redis, and the Redis names both sides use.

The auth service writes (it owns the table); the gateway only reads and fills its cache. A fill
uses SET NX so that a gateway which read PostgreSQL before a revocation cannot overwrite the
auth service's fresh copy; the auth service overwrites, then publishes the key id on
`KEY_REVOKED_CHANNEL` so that every gateway drops its in-process copy. A logout marks the
session revoked for as long as its access tokens can live. Credential formats and hashes are
in `services.common.credentials`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import asyncpg
import redis.asyncio as aioredis

KEY_CACHE_PREFIX = "ai4vc:key:"
# Every change to a key (created, rotated, revoked) publishes its id here: gateways drop cached
# copies and the edge's control plane re-reads the key and republishes Envoy's routes.
KEY_REVOKED_CHANNEL = "ai4vc:key-revoked"
# A logged-out session's id: the edge's control plane adds it to the revoked sessions it publishes.
SESSION_REVOKED_CHANNEL = "ai4vc:session-revoked"
# Unix time (ms) of the newest state Envoy has applied, set by the edge's control plane once Envoy
# reports the version it published: every change published on the channels above before it is live.
EDGE_APPLIED = "ai4vc:edge:applied-ms"
SESSION_REVOKED_PREFIX = "ai4vc:session-revoked:"
KEY_CACHE_TTL_S = 300  # a cached record the auth service wrote (the gateway's `key_cache_ttl_s` for its fills)
MISSING_KEY_TTL_S = 30  # a cached "no such key": short, a key created meanwhile must start working soon
SESSION_REVOKED_MARGIN_S = 60  # past the access-token lifetime, for clock skew between auth and the edge


@dataclasses.dataclass(frozen=True)
class KeyRecord:
    """What the edge needs to check an API key: no secret, only its salted hash."""

    key_id: str
    owner: str
    scopes: frozenset[str]
    secret_salt: str
    secret_hash: str
    revoked: bool
    requests_per_minute: int = 0
    audio_seconds_per_day: int = 0
    characters_per_day: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> KeyRecord:
        """The record of a row read by `fetch_key_record`."""
        return cls(row["key_id"], row["owner"], frozenset(row["scopes"]), row["secret_salt"], row["secret_hash"],
                   bool(row["revoked"]), int(row["requests_per_minute"]), int(row["audio_seconds_per_day"]),
                   int(row["characters_per_day"]))

    @classmethod
    def from_json(cls, raw: bytes | str) -> KeyRecord:
        data = json.loads(raw)
        return cls(data["key_id"], data["owner"], frozenset(data["scopes"]), data["secret_salt"],
                   data["secret_hash"], bool(data["revoked"]), int(data.get("requests_per_minute", 0)),
                   int(data.get("audio_seconds_per_day", 0)), int(data.get("characters_per_day", 0)))

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        data["scopes"] = sorted(self.scopes)
        return json.dumps(data).encode()

    @property
    def missing(self) -> bool:
        return not self.key_id


# Cached "no such key" (empty id, revoked), so floods of junk ids stay cheap.
MISSING_KEY = KeyRecord("", "", frozenset(), "", "", True)

_SELECT_RECORD = (
    "SELECT key_id, owner, scopes, secret_salt, secret_hash, revoke_time IS NOT NULL AS revoked,"
    " requests_per_minute, audio_seconds_per_day, characters_per_day FROM api_keys WHERE key_id = $1"
)


def cache_name(key_id: str) -> str:
    return KEY_CACHE_PREFIX + key_id


def session_revoked_name(session_id: str) -> str:
    return SESSION_REVOKED_PREFIX + session_id


async def fetch_key_record(conn: asyncpg.Pool | asyncpg.Connection, key_id: str) -> KeyRecord | None:
    """The key's record from `api_keys` (revoked ones included), or None. Database errors propagate."""
    row = await conn.fetchrow(_SELECT_RECORD, key_id)
    return None if row is None else KeyRecord.from_row(row)


async def read_cached(redis: aioredis.Redis, key_id: str) -> KeyRecord | None:
    """The cached record, `MISSING_KEY` when "no such key" is cached, None when nothing is. Redis errors propagate."""
    raw = await redis.get(cache_name(key_id))
    return None if raw is None else KeyRecord.from_json(raw)


async def fill_cache(redis: aioredis.Redis, key_id: str, record: KeyRecord | None, ttl_s: int) -> None:
    """Caches what PostgreSQL answered (None: "no such key") unless a copy is there already (SET NX)."""
    if record is None:
        await redis.set(cache_name(key_id), MISSING_KEY.to_json(), ex=MISSING_KEY_TTL_S, nx=True)
    else:
        await redis.set(cache_name(key_id), record.to_json(), ex=ttl_s, nx=True)


async def publish_key_change(redis: aioredis.Redis, record: KeyRecord) -> None:
    """Overwrites the cached record (a gateway's late fill can't undo this) and tells every gateway
    to drop its in-process copy. Redis errors propagate."""
    await redis.set(cache_name(record.key_id), record.to_json(), ex=KEY_CACHE_TTL_S)
    await redis.publish(KEY_REVOKED_CHANNEL, record.key_id.encode())


async def mark_session_revoked(redis: aioredis.Redis, session_id: str, access_token_ttl_s: int) -> None:
    """Marks a logged-out session for as long as its access tokens live and tells the edge's control
    plane. Redis errors propagate."""
    await redis.set(session_revoked_name(session_id), b"1", ex=access_token_ttl_s + SESSION_REVOKED_MARGIN_S)
    await redis.publish(SESSION_REVOKED_CHANNEL, session_id.encode())


async def session_revoked(redis: aioredis.Redis, session_id: str) -> bool:
    """Whether the session was logged out. Redis errors propagate."""
    return bool(await redis.exists(session_revoked_name(session_id)))


async def wait_edge_applied(redis: aioredis.Redis, since_ms: int, timeout_s: float) -> bool:
    """Waits until the edge reports a state at least as new as `since_ms`; False on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        applied = await redis.get(EDGE_APPLIED)
        if applied is not None and int(applied) >= since_ms:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.005)
