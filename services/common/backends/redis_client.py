"""Redis client factory (redis.asyncio) with short timeouts, so a dead Redis fails fast."""

from __future__ import annotations

import contextlib

import redis.asyncio as aioredis


def create(url: str) -> aioredis.Redis:
    return aioredis.from_url(
        url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=10, decode_responses=False
    )


def open_optional(url: str, stack: contextlib.AsyncExitStack) -> aioredis.Redis | None:
    """A client closed by `stack`, or None when no Redis is configured (`url` empty)."""
    if not url:
        return None
    client = create(url)
    stack.push_async_callback(client.aclose)
    return client


async def ping(client: aioredis.Redis) -> bool:
    try:
        return bool(await client.ping())
    except (aioredis.RedisError, OSError):
        return False
