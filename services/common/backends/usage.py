"""Daily usage counters the services feed (characters translated or synthesized, seconds of
audio), read by the gateway's rate-limit service to enforce each key's daily quotas.

Services meter through `UsageMeter`, which never delays a response: increments are added up in
memory and sent by one background task, one Redis transaction at a time and at most one per
`interval_s`; what arrives meanwhile goes in the next (an idle meter sends a call's increment at
once; under load one round trip carries many calls', instead of a task and a round trip each). A Redis that is away
costs a logged warning and counted misses, not an error to the caller. The caller's key id
comes from the servicer (parsed once, by `services.common.rpc.identity`): a backend never reads
a grpc context."""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter

from services.common.backends import redis_client

log = logging.getLogger(__name__)

USAGE_PREFIX = "ai4vc:usage:"


def usage_key(key_id: str, day: datetime.date | None = None) -> str:
    day = day or datetime.datetime.now(datetime.UTC).date()
    return f"{USAGE_PREFIX}{key_id}:{day.strftime('%Y%m%d')}"


async def record_usage(redis: aioredis.Redis, key_id: str, *, characters: int = 0, audio_seconds: float = 0.0
                       ) -> None:
    """Adds to today's (UTC) counters of `key_id`; they expire two days later."""
    if not key_id or (characters <= 0 and audio_seconds <= 0):
        return
    async with redis.pipeline(transaction=True) as pipe:
        _add(pipe, usage_key(key_id), characters, audio_seconds)
        await pipe.execute()


def _add(pipe: Any, key: str, characters: float, audio_seconds: float) -> None:
    """Queues the increments of one day's counters of one key, and their two-day expiry, on `pipe`."""
    if characters > 0:
        pipe.hincrby(key, "characters", int(characters))
    if audio_seconds > 0:
        pipe.hincrbyfloat(key, "audio_seconds", float(audio_seconds))
    pipe.expire(key, 2 * 86400)


async def usage_today(redis: aioredis.Redis, key_id: str) -> tuple[int, float]:
    """(characters, audio seconds) used today by `key_id`."""
    characters, audio = await redis.hmget(usage_key(key_id), "characters", "audio_seconds")
    return int(characters or 0), float(audio or 0.0)


class UsageMeter:
    def __init__(self, redis_url: str, registry: CollectorRegistry | None = None, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self._redis = redis_client.create(redis_url) if redis_url else None
        # Today's key → [characters, audio seconds, calls] not yet sent.
        self._pending: dict[str, list[float]] = {}
        self._sender: asyncio.Task[None] | None = None
        self.misses = Counter("usage_record_failures_total", "Usage increments Redis did not take.",
                              registry=registry)

    def record(self, key_id: str, *, characters: int = 0, audio_seconds: float = 0.0) -> None:
        """Adds to `key_id`'s counters in the background. Nothing for "" (a bearer-token caller,
        whom no key quota applies to) or when no Redis is configured."""
        if self._redis is None or not key_id or (characters <= 0 and audio_seconds <= 0):
            return
        # The day is the call's, not the send's: a call just before midnight counts for its day.
        key = usage_key(key_id)
        counts = self._pending.get(key)
        if counts is None:
            counts = self._pending[key] = [0, 0.0, 0]
        if characters > 0:
            counts[0] += int(characters)
        if audio_seconds > 0:
            counts[1] += float(audio_seconds)
        counts[2] += 1
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(self._redis))

    async def _send(self, redis: aioredis.Redis) -> None:
        try:
            loop = asyncio.get_running_loop()
            while self._pending:
                started = loop.time()
                pending, self._pending = self._pending, {}
                try:
                    async with redis.pipeline(transaction=True) as pipe:
                        for key, (characters, audio_seconds, _calls) in pending.items():
                            _add(pipe, key, characters, audio_seconds)
                        await pipe.execute()
                except (aioredis.RedisError, OSError) as exc:
                    self.misses.inc(sum(int(counts[2]) for counts in pending.values()))
                    log.warning("usage not recorded (Redis unavailable)", extra={"error": repr(exc)[:200]})
                # What arrives before the interval is over waits for it and goes in one transaction.
                wait = started + self.interval_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
        finally:
            self._sender = None

    async def close(self) -> None:
        if self._sender is not None:
            await asyncio.wait({self._sender}, timeout=2)
        if self._redis is not None:
            await self._redis.aclose()
