"""Wires the gateway: PostgreSQL (the auth service's key table), Redis, the edge's control plane
(`gateway.edge`: publishes Envoy's routes with the keys, policy, limits and blocks — Envoy then
decides every call itself) and server reflection for the public API. Nothing here is on a
call's path: Envoy calls no Python service to authorize or rate-limit (the former ext_authz and
rate-limit servicers are gone)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from pathlib import Path

import asyncpg
import grpc
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from gateway.edge.plane import ControlPlane, QuotaCollector
from gateway.settings import GatewaySettings
from services.common.backends import db, redis_client
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
# The name the gateway's health answers for (and Envoy's health check of its cluster asks): the
# control plane is the service this process exists for.
CONTROL_PLANE_SERVICE = "ai4vc.gateway.ControlPlane"


# Generated modules whose path does not follow our <package>.<service_snake>_pb2 layout: NVIDIA
# Riva's, generated from its descriptor set (third_party/riva/) under its own file names.
FOREIGN_MODULES = {
    "nvidia.riva.asr.RivaSpeechRecognition": "riva.proto.riva_asr_pb2",
    "nvidia.riva.tts.RivaSpeechSynthesis": "riva.proto.riva_tts_pb2",
    "nvidia.riva.nmt.RivaTranslation": "riva.proto.riva_nmt_pb2",
}


def api_descriptors(services: str) -> tuple[str, ...]:
    """Imports the generated modules of the named public services, so reflection can describe
    them; a name with no generated module is a configuration error."""
    names = tuple(n.strip() for n in services.split(",") if n.strip())
    for name in names:
        package, _, service = name.rpartition(".")
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in service).lstrip("_")
        module = importlib.import_module(FOREIGN_MODULES.get(name, f"{package}.{snake}_pb2"))
        if service not in module.DESCRIPTOR.services_by_name:
            raise ValueError(f"api_services: {name} is not in {module.__name__}")
    return names


class GatewayApp:
    service_names = (CONTROL_PLANE_SERVICE,)

    def __init__(self, settings: GatewaySettings, pool: asyncpg.Pool, redis: aioredis.Redis | None,
                 registry: CollectorRegistry | None) -> None:
        self.settings = settings
        self.reflection_names = api_descriptors(settings.api_services)
        self.pool = pool
        self.redis = redis
        self.edge: ControlPlane | None = None

    def register(self, server: grpc.aio.Server) -> None:
        """Health and reflection only (the chassis adds both)."""

    async def ready(self) -> bool:
        """Ready when the key table answers. Redis being away degrades (fallbacks) but doesn't stop us."""
        try:
            await self.pool.fetchval("SELECT 1 FROM api_keys LIMIT 1")
            return True
        except (asyncpg.PostgresError, OSError):
            return False


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> GatewayApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, GatewaySettings)
    settings.check()
    pool = await db.open_pool(settings, stack)
    redis = redis_client.open_optional(settings.redis_url, stack)
    if redis is None:
        log.warning("no redis_url: revocations and new keys reach Envoy at the next resync (edge_resync_s)")
    app = GatewayApp(settings, pool, redis, registry)
    if settings.envoy_routes_dir:
        app.edge = ControlPlane(
            pool, redis, settings.redis_url, routes_dir=Path(settings.envoy_routes_dir),
            skeleton_path=Path(settings.envoy_routes_base
                               or Path(settings.envoy_routes_dir).parent / "routes.base.json"),
            access_log=Path(settings.envoy_access_log) if settings.envoy_access_log else None,
            default_rpm=settings.default_requests_per_minute, failure_limit=settings.failed_attempts_per_minute,
            quota_poll_s=settings.quota_poll_s, envoy_admin=settings.envoy_admin, resync_s=settings.edge_resync_s,
            database_url=settings.database_url, database_schema=settings.database_schema,
            replicas=settings.edge_replicas, peer_interval_s=settings.edge_peer_interval_s)
        await app.edge.load()
        if not settings.edge_replicas and app.edge.redis is not None:
            # The first publish divides the limits right; a Redis that does not answer costs 1 s.
            with contextlib.suppress(aioredis.RedisError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(app.edge.count_peers(), 1.0)
        if registry is not None:
            registry.register(QuotaCollector(app.edge))
        try:
            await app.edge.publish_now()  # Envoy has the keys before this process reports SERVING
        except FileNotFoundError:
            # No skeleton yet (compose: Envoy's container renders it); the publisher retries.
            log.warning("no route skeleton yet; publishing when it appears")
        app.edge.start()
        stack.push_async_callback(app.edge.close)
    return app
