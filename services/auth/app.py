"""Wires the auth service together: PostgreSQL (migrated), Redis for invalidations, servicer."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import asyncpg
import grpc
from prometheus_client import CollectorRegistry

from ai4vc.auth.v1 import auth_service_pb2 as pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as pb_grpc
from services.auth.core import AuthCore
from services.auth.servicer import AuthServicer
from services.auth.settings import AuthSettings
from services.common.backends import db, outbox, redis_client
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AuthService"].full_name


async def open_pool(settings: AuthSettings) -> asyncpg.Pool:
    pool = await db.create_pool(settings.database_url, settings.database_schema)
    await db.migrate(pool, MIGRATIONS, "auth")
    await outbox.migrate(pool)
    return pool


async def ensure_bootstrap_admin(pool: asyncpg.Pool, key_file_path: str, settings: AuthSettings | None = None) -> bool:
    """Creates an admin user and an admin API key once, writing the key to `key_file_path` (0600).
    Returns False (and writes nothing) when an admin user already exists."""
    settings = settings or AuthSettings(jwt_secret="-" * 32, key_pepper=_pepper_from_env())
    return await AuthCore(settings, pool, None).ensure_bootstrap_admin(key_file_path)


def _pepper_from_env() -> str:
    from services.common.settings import load

    return load(AuthSettings, "AI4VC_AUTH").key_pepper


class AuthApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, core: AuthCore) -> None:
        self.core = core
        self.servicer = AuthServicer(core)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_AuthServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        """Ready when PostgreSQL answers; Redis only speeds up revocation and is not required."""
        return await db.answers(self.core.pool)


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> AuthApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, AuthSettings)
    settings.check()
    pool = await open_pool(settings)
    stack.push_async_callback(pool.close)
    redis = redis_client.open_optional(settings.redis_url, stack)
    if redis is None:
        log.warning("no redis_url: key revocations reach gateways only when their local caches expire")
    core = AuthCore(settings, pool, redis)
    if settings.bootstrap_key_file:
        await core.ensure_bootstrap_admin(settings.bootstrap_key_file)
    return AuthApp(core)
