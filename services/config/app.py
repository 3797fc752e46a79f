"""Wires the config service together: PostgreSQL (migrated, plus the outbox), the change feed
(LISTEN/NOTIFY), servicer."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import asyncpg
import grpc
from prometheus_client import CollectorRegistry

from ai4vc.config.v1 import config_service_pb2 as pb
from ai4vc.config.v1 import config_service_pb2_grpc as pb_grpc
from services.common.backends import db, outbox
from services.common.settings import CommonSettings
from services.config.core import ConfigCore
from services.config.servicer import ConfigServicer
from services.config.settings import ConfigSettings
from services.config.watch import ChangeFeed

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ConfigService"].full_name


class ConfigApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, core: ConfigCore) -> None:
        self.core = core
        self.servicer = ConfigServicer(core)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_ConfigServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        """Ready when PostgreSQL answers and the change feed is listening (watches need it)."""
        try:
            return await db.answers(self.core.pool) and self.core.feed.connected
        except (asyncpg.PostgresError, OSError):
            return False


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> ConfigApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, ConfigSettings)
    settings.check()
    pool = await db.open_pool(settings, stack, [(MIGRATIONS, "config"), (outbox.MIGRATIONS, "outbox")])
    feed = ChangeFeed(settings.database_url, settings.database_schema, settings.watch_queue,
                      settings.feed_reconnect_max_s)
    await feed.start()
    stack.push_async_callback(feed.close)
    return ConfigApp(ConfigCore(settings, pool, feed))
