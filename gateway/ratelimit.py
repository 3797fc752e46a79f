"""Envoy's rate-limit service (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit).

Each descriptor Envoy sends (entries such as key_id, method, principal) is one fixed one-minute
window counter in Redis, incremented atomically (INCRBY + EXPIRE in one Lua script). The limit
is the key's `requests_per_minute` quota (0: the deployment default); descriptors without a
key_id (bearer-token callers, by principal) get the default. A key past its daily characters
or audio-seconds quota (counters from `services.common.backends.usage`) is over limit until UTC midnight.

When Redis is unreachable each counter falls back to an in-process token bucket of the same
rate — per instance, so looser with several replicas, but neither open nor closed — and the
`ratelimit_fallback_total` metric and a warning say so.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import logging
import math
import time

import grpc
import redis.asyncio as aioredis
from envoy.config.core.v3 import base_pb2
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.protobuf import duration_pb2
from prometheus_client import CollectorRegistry, Counter

from gateway.keystore import KeyStore, StoreUnavailable
from gateway.settings import GatewaySettings
from services.common.backends import usage
from services.common.backends.keys import KeyRecord
from services.common.errors import Reason, ResourceExhausted
from services.common.rpc.interceptors import status_for

log = logging.getLogger(__name__)
COUNTER_PREFIX = "ai4vc:rl:"
WINDOW_S = 60
_INCR = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""


@dataclasses.dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Per-counter token buckets for when Redis is away: `limit` per minute, bursts up to `limit`."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self.max_entries = max_entries

    def take(self, name: str, limit: int, hits: int, now: float | None = None) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until `hits` tokens are back)."""
        now = time.monotonic() if now is None else now
        rate = limit / WINDOW_S
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= self.max_entries:
                self._buckets.clear()
            bucket = self._buckets[name] = _Bucket(float(limit), now)
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= hits:
            bucket.tokens -= hits
            return True, int(bucket.tokens), 0.0
        return False, 0, (hits - bucket.tokens) / rate if rate > 0 else WINDOW_S


class RateLimiter:
    def __init__(self, settings: GatewaySettings, keys: KeyStore, redis: aioredis.Redis | None,
                 registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.keys = keys
        self.redis = redis
        self._incr = redis.register_script(_INCR) if redis is not None else None
        self.buckets = TokenBuckets()
        self.fallbacks = Counter("ratelimit_fallback", "rate-limit decisions made by the in-process token bucket "
                                 "because Redis was unreachable", registry=registry)
        self.over_limit = Counter("ratelimit_over_limit", "descriptors over their limit", ["kind"],
                                  registry=registry)
        self._last_warning = 0.0

    async def _limit_for(self, key_id: str) -> tuple[int, KeyRecord | None]:
        if not key_id:
            return self.settings.default_requests_per_minute, None
        try:
            record = await self.keys.get(key_id)
        except StoreUnavailable:
            record = None
        if record is None:
            return self.settings.default_requests_per_minute, None
        return record.requests_per_minute or self.settings.default_requests_per_minute, record

    async def _count(self, name: str, limit: int, hits: int) -> tuple[bool, int, float]:
        now = time.time()
        window = int(now // WINDOW_S)
        reset_s = (window + 1) * WINDOW_S - now
        if self._incr is not None:
            try:
                count = int(await self._incr(keys=[f"{COUNTER_PREFIX}{name}:{window}"], args=[hits, WINDOW_S + 5]))
                return count <= limit, max(0, limit - count), reset_s
            except (aioredis.RedisError, OSError) as exc:
                self._fallback(exc)
        else:
            self._fallback(None)
        return self.buckets.take(name, limit, hits)

    def _fallback(self, exc: BaseException | None) -> None:
        self.fallbacks.inc()
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            log.warning("ratelimit_fallback: Redis unreachable, limiting with in-process token buckets",
                        extra={"error": type(exc).__name__ if exc else "no redis_url"})

    async def _daily_exhausted(self, record: KeyRecord | None) -> bool:
        if record is None or self.redis is None:
            return False
        chars_quota, audio_quota = record.characters_per_day, record.audio_seconds_per_day
        if not chars_quota and not audio_quota:
            return False
        try:
            characters, audio = await usage.usage_today(self.redis, record.key_id)
        except (aioredis.RedisError, OSError):
            return False  # the per-minute limit (fallback buckets) still holds
        return bool((chars_quota and characters >= chars_quota) or (audio_quota and audio >= audio_quota))

    async def should_rate_limit(self, request: rls_pb2.RateLimitRequest) -> rls_pb2.RateLimitResponse:
        hits = request.hits_addend or 1
        response = rls_pb2.RateLimitResponse(overall_code=rls_pb2.RateLimitResponse.OK)
        retry_after = 0.0
        daily = False
        for descriptor in request.descriptors:
            entries = [(e.key, e.value) for e in descriptor.entries]
            key_id = next((v for k, v in entries if k == "key_id"), "")
            limit, record = await self._limit_for(key_id)
            name = f"{request.domain}|" + "|".join(f"{k}={v}" for k, v in entries)
            ok, remaining, reset_s = await self._count(name, limit, hits)
            if ok and await self._daily_exhausted(record):
                ok, remaining = False, 0
                now = datetime.datetime.now(datetime.UTC)
                midnight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time(),
                                                     datetime.UTC)
                reset_s = (midnight - now).total_seconds()
                daily = True
                self.over_limit.labels("daily").inc()
            elif not ok:
                self.over_limit.labels("minute").inc()
            status = rls_pb2.RateLimitResponse.DescriptorStatus(
                code=rls_pb2.RateLimitResponse.OK if ok else rls_pb2.RateLimitResponse.OVER_LIMIT,
                current_limit=rls_pb2.RateLimitResponse.RateLimit(
                    requests_per_unit=limit, unit=rls_pb2.RateLimitResponse.RateLimit.MINUTE),
                limit_remaining=remaining,
                duration_until_reset=duration_pb2.Duration(seconds=max(1, math.ceil(reset_s))),
            )
            response.statuses.append(status)
            if not ok:
                response.overall_code = rls_pb2.RateLimitResponse.OVER_LIMIT
                retry_after = max(retry_after, reset_s)
        if response.overall_code == rls_pb2.RateLimitResponse.OVER_LIMIT:
            wait_s = max(1, math.ceil(retry_after))
            response.response_headers_to_add.append(base_pb2.HeaderValue(key="retry-after", value=str(wait_s)))
            # gRPC callers get the same rich status as any other refusal: ErrorInfo + RetryInfo.
            # Its message is empty because Envoy's reply carries no grpc-message, and clients
            # (grpc_status.rpc_status.from_call) require the two to agree; the reason says it.
            refusal = ResourceExhausted(
                "", reason=Reason.DAILY_QUOTA_EXCEEDED if daily else Reason.RATE_LIMITED, retry_after_s=float(wait_s))
            details = base64.b64encode(status_for(refusal, "").SerializeToString()).decode()
            response.response_headers_to_add.append(base_pb2.HeaderValue(key="grpc-status-details-bin", value=details))
        return response


class RateLimitServicer(rls_pb2_grpc.RateLimitServiceServicer):
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def ShouldRateLimit(self, request: rls_pb2.RateLimitRequest, context: grpc.aio.ServicerContext
                              ) -> rls_pb2.RateLimitResponse:
        return await self.limiter.should_rate_limit(request)
