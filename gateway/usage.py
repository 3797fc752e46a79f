"""Daily usage counters the services feed (characters translated or synthesized, seconds of
audio), read by the rate-limit service to enforce each key's daily quotas."""

from __future__ import annotations

import datetime

import redis.asyncio as aioredis

USAGE_PREFIX = "ai4vc:usage:"


def usage_key(key_id: str, day: datetime.date | None = None) -> str:
    day = day or datetime.datetime.now(datetime.UTC).date()
    return f"{USAGE_PREFIX}{key_id}:{day.strftime('%Y%m%d')}"


async def record_usage(redis: aioredis.Redis, key_id: str, *, characters: int = 0, audio_seconds: float = 0.0
                       ) -> None:
    """Adds to today's (UTC) counters of `key_id`; they expire two days later."""
    if not key_id or (characters <= 0 and audio_seconds <= 0):
        return
    key = usage_key(key_id)
    async with redis.pipeline(transaction=True) as pipe:
        if characters > 0:
            pipe.hincrby(key, "characters", int(characters))
        if audio_seconds > 0:
            pipe.hincrbyfloat(key, "audio_seconds", float(audio_seconds))
        pipe.expire(key, 2 * 86400)
        await pipe.execute()


async def usage_today(redis: aioredis.Redis, key_id: str) -> tuple[int, float]:
    """(characters, audio seconds) used today by `key_id`."""
    characters, audio = await redis.hmget(usage_key(key_id), "characters", "audio_seconds")
    return int(characters or 0), float(audio or 0.0)
