"""The change feed: PostgreSQL LISTEN/NOTIFY, so that every replica of the config service learns of
every committed change, whichever replica wrote it.

A write calls `pg_notify(channel, {"n": namespace, "k": key, "v": version})` inside its
transaction, so the notice goes out at commit and never for a rolled-back write. Each replica
keeps one connection of its own LISTENing on the channel (one channel per PostgreSQL schema, as
NOTIFY is database-wide) and hands each notice to the subscriptions (open WatchConfig streams)
that watch its namespace/key. When that connection is lost — or a subscriber falls too far
behind — the affected subscriptions end with UNAVAILABLE: notices sent meanwhile are gone, so
their clients watch again and start from a fresh snapshot. The feed reconnects by itself.
Knows nothing of grpc.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import re
from typing import Any

import asyncpg

from services.common.errors import Unavailable

log = logging.getLogger(__name__)
_LOST = object()


def channel_name(schema: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"bad schema name {schema!r}")
    return f"ai4vc_config_{schema}"[:63]


def notice(namespace: str, key: str, version: int) -> str:
    return json.dumps({"n": namespace, "k": key, "v": version}, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class Notice:
    namespace: str
    key: str
    version: int


class Subscription:
    """The notices of one watch, in commit order."""

    def __init__(self, feed: ChangeFeed, namespace: str, key: str, size: int) -> None:
        self.feed = feed
        self.namespace = namespace
        self.key = key
        self.queue: asyncio.Queue[Any] = asyncio.Queue(size)
        self.ended = False
        # The last version of each key this watch has sent (or found in its snapshot).
        self.seen: dict[str, int] = {}

    def matches(self, item: Notice) -> bool:
        return item.namespace == self.namespace and (not self.key or item.key == self.key)

    def offer(self, item: Any) -> None:
        if self.ended:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.end()

    def end(self) -> None:
        """Ends the watch with UNAVAILABLE at its next read (feed lost, or fell behind)."""
        if self.ended:
            return
        self.ended = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(_LOST)

    async def next(self) -> Notice:
        item = await self.queue.get()
        if item is _LOST:
            raise Unavailable("the change feed was interrupted; watch again for a fresh snapshot")
        assert isinstance(item, Notice)
        return item

    def close(self) -> None:
        self.feed.subscriptions.discard(self)


class ChangeFeed:
    def __init__(self, database_url: str, schema: str, queue_size: int = 1000, reconnect_max_s: float = 5.0,
                 check_interval_s: float = 5.0) -> None:
        self.database_url = database_url
        self.schema = schema
        self.channel = channel_name(schema)
        self.queue_size = queue_size
        self.reconnect_max_s = reconnect_max_s
        self.check_interval_s = check_interval_s
        self.subscriptions: set[Subscription] = set()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def start(self) -> None:
        """Connects now if it can (else keeps trying in the background)."""
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            await self._connect()
        self._task = asyncio.create_task(self._supervise(), name="config-change-feed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    def subscribe(self, namespace: str, key: str = "") -> Subscription:
        if not self.connected:
            raise Unavailable("the config change feed is not connected; try again")
        sub = Subscription(self, namespace, key, self.queue_size)
        self.subscriptions.add(sub)
        return sub

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.database_url, timeout=5,
                                     server_settings={"application_name": "ai4vc-config-feed"})
        try:
            await conn.add_listener(self.channel, self._on_notify)
        except BaseException:
            await conn.close()
            raise
        conn.add_termination_listener(self._on_terminated)
        self._conn = conn
        log.info("config change feed listening", extra={"channel": self.channel})

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
        self._lose_all()

    def _lose_all(self) -> None:
        for sub in list(self.subscriptions):
            sub.end()

    def _on_terminated(self, conn: asyncpg.Connection) -> None:
        if conn is self._conn:
            log.warning("config change feed lost its connection")
            self._conn = None
            self._lose_all()

    def _on_notify(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            raw = json.loads(payload)
            item = Notice(str(raw["n"]), str(raw["k"]), int(raw["v"]))
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable config notice", extra={"payload": payload[:200]})
            return
        for sub in list(self.subscriptions):
            if sub.matches(item):
                sub.offer(item)

    async def _supervise(self) -> None:
        """Checks the listening connection every few seconds; re-opens it, with capped jittered
        backoff, when it is gone (PostgreSQL restarted, network cut)."""
        delay = 0.1
        while True:
            if self.connected:
                assert self._conn is not None
                try:
                    await asyncio.wait_for(self._conn.fetchval("SELECT 1"), timeout=self.check_interval_s)
                    delay = 0.1
                    await asyncio.sleep(self.check_interval_s)
                    continue
                except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    log.warning("config change feed check failed; reconnecting")
                    await self._drop()
            try:
                await self._connect()
                delay = 0.1
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                log.warning("config change feed cannot connect: %s", type(exc).__name__)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.reconnect_max_s)
