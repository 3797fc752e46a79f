"""`UsageMeter` against a real Redis: increments of many calls, added up while a transaction is in
flight, land whole in each key's counters of the day; a Redis that is away counts every call's miss."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import CollectorRegistry

from deploy.local.parts import free_port
from services.common.backends import redis_client
from services.common.backends.usage import UsageMeter, usage_key, usage_today


async def test_concurrent_increments_add_up_per_key(redis_server):
    """200 calls over two keys (recorded in bursts while sends are in flight) add up exactly, audio
    seconds included, and each day's key expires."""
    keys = [uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]]
    meter = UsageMeter(redis_server.url, CollectorRegistry())
    for burst in range(10):
        for i in range(20):
            meter.record(keys[i % 2], characters=3, audio_seconds=0.25 if burst % 2 else 0.0)
        await asyncio.sleep(0)  # lets a send start, so the next burst waits for the one in flight
    await meter.close()
    redis = redis_client.create(redis_server.url)
    try:
        for key in keys:
            characters, audio = await usage_today(redis, key)
            assert (characters, audio) == (300, 12.5)
            assert 0 < await redis.ttl(usage_key(key)) <= 2 * 86400
    finally:
        await redis.aclose()


async def test_redis_away_counts_each_call_missed():
    """With nothing listening at the Redis address, every recorded call is one counted miss and none raises."""
    registry = CollectorRegistry()
    meter = UsageMeter(f"redis://127.0.0.1:{free_port()}/0", registry)
    for i in range(7):
        meter.record(f"key{i % 3}", characters=5)
    await meter.close()
    assert registry.get_sample_value("usage_record_failures_total") == 7
