"""API-key records for the edge: an in-process cache in front of Redis (`key_cache_ttl_s`) in front of
PostgreSQL, kept honest by the auth service's invalidations. The record, its Redis names and
encoding, and the query are the contract shared with the auth service
(`services.common.backends.keys`).

Revocation is immediate everywhere: the auth service overwrites the Redis copy and publishes the
key id on the revocation channel; every gateway instance is subscribed and drops its in-process
copy. Two races are closed: a fill that read PostgreSQL before a revocation writes Redis with
SET NX, so it cannot overwrite the auth service's fresh copy; and an in-process fill
that straddles an invalidation is discarded (per-key generation numbers). While the subscription
is down the in-process TTL (`local_cache_ttl_s`) bounds staleness, and after a reconnect the
whole in-process cache is dropped, since messages may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict

import asyncpg
import redis.asyncio as aioredis

from gateway.settings import GatewaySettings
from services.common.backends import keys
from services.common.backends.keys import MISSING_KEY, KeyRecord

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """Neither Redis nor PostgreSQL could answer for a key."""


class KeyStore:
    def __init__(self, settings: GatewaySettings, pool: asyncpg.Pool, redis: aioredis.Redis | None) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = redis
        self._local: OrderedDict[str, tuple[KeyRecord, float]] = OrderedDict()
        self._generation: dict[str, int] = {}
        self.subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lookups -------------------------------------------------------------------------

    async def get(self, key_id: str) -> KeyRecord | None:
        """The key's record (revoked ones included), or None for an unknown key."""
        now = time.monotonic()
        hit = self._local.get(key_id)
        if hit is not None and hit[1] > now:
            self._local.move_to_end(key_id)
            return None if hit[0] is MISSING_KEY else hit[0]
        generation = self._generation.get(key_id, 0)
        record = await self._fetch(key_id)
        if self._generation.get(key_id, 0) == generation:  # no invalidation arrived meanwhile
            self._local[key_id] = (record or MISSING_KEY, now + self.settings.local_cache_ttl_s)
            self._local.move_to_end(key_id)
            while len(self._local) > self.settings.local_cache_max:
                self._local.popitem(last=False)
        return record

    async def _fetch(self, key_id: str) -> KeyRecord | None:
        if self.redis is not None:
            try:
                cached = await keys.read_cached(self.redis, key_id)
                if cached is not None:
                    return None if cached.missing else cached
            except (aioredis.RedisError, OSError) as exc:
                log.warning("key cache unavailable, reading PostgreSQL", extra={"error": type(exc).__name__})
        try:
            record = await keys.fetch_key_record(self.pool, key_id)
        except (asyncpg.PostgresError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        if self.redis is not None:
            try:
                await keys.fill_cache(self.redis, key_id, record, self.settings.key_cache_ttl_s)
            except (aioredis.RedisError, OSError):
                pass
        return record

    async def session_revoked(self, session_id: str) -> bool:
        """Whether the session was logged out. Without Redis, access tokens live until they expire."""
        if self.redis is None or not session_id:
            return False
        try:
            return await keys.session_revoked(self.redis, session_id)
        except (aioredis.RedisError, OSError):
            log.warning("cannot check session revocation (Redis away)", extra={"session_id": session_id})
            return False

    # -- invalidation --------------------------------------------------------------------

    def invalidate_local(self, key_id: str) -> None:
        self._generation[key_id] = self._generation.get(key_id, 0) + 1
        self._local.pop(key_id, None)

    def start(self, redis_url: str) -> None:
        if redis_url:
            self._task = asyncio.create_task(self._listen(redis_url), name="key-invalidations")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self, redis_url: str) -> None:
        backoff = 0.1
        while True:
            # Its own connection without a read timeout: a quiet channel is not a dead one.
            client = aioredis.from_url(redis_url, socket_connect_timeout=0.5, socket_keepalive=True)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.KEY_REVOKED_CHANNEL)
                self._local.clear()  # whatever was published while we were away is lost
                self.subscribed.set()
                backoff = 0.1
                log.info("subscribed to key invalidations")
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None or message.get("type") != "message":
                        continue
                    key_id = message["data"].decode(errors="replace")
                    self.invalidate_local(key_id)
                    log.info("key invalidated", extra={"key_id": key_id})
            except asyncio.CancelledError:
                raise
            except (aioredis.RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("key invalidation subscription lost; retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
