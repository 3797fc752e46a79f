"""Wires the event relay: PostgreSQL (the outbox, migrated), the relay loop, and a server that
answers only health and reflection. Ready while PostgreSQL answers: a broker that is away
delays publishing (the outbox holds the events), it does not make the relay unhealthy."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from prometheus_client import CollectorRegistry

from services.common.backends import db, outbox
from services.common.settings import CommonSettings
from services.events.core import Relay
from services.events.settings import EventsSettings

log = logging.getLogger(__name__)


class EventsApp:
    service_names: tuple[str, ...] = ()

    def __init__(self, relay: Relay, task: asyncio.Task[None]) -> None:
        self.relay = relay
        self.task = task

    def register(self, server: grpc.aio.Server) -> None:
        """No API of its own: the server carries health and reflection only."""

    async def ready(self) -> bool:
        """Ready while PostgreSQL answers and the relay loop is running."""
        if self.task.done():
            return False
        return await db.answers(self.relay.pool)


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> EventsApp:
    """Builds the app and starts the relay; `stack` stops it, then closes the pool."""
    assert isinstance(settings, EventsSettings)
    settings.check()
    pool = await db.open_pool(settings, stack, [(outbox.MIGRATIONS, "outbox")])
    relay = Relay(settings, pool, registry)
    task = asyncio.create_task(relay.run(), name="outbox-relay")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await relay.close()

    stack.push_async_callback(stop)
    return EventsApp(relay, task)
