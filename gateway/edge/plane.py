"""The edge's control plane, inside the gateway process: it keeps the active keys, revoked
sessions and blocks in memory and publishes Envoy's routes (gateway.edge.render → publish) when
any of them changes — never on a request's path.

Sources: PostgreSQL (`api_keys`, `sessions`; a full re-read every `resync_s` as a safety net;
its NOTIFY channels, which the auth schema's triggers feed on every key or session change, so
PostgreSQL alone carries a change while Redis is frozen or down), the auth service's Redis
channels (a key created, rotated or revoked; a session logged out —
`services.common.backends.keys`), the services' usage counters in Redis (polled every
`quota_poll_s`), and Envoy's JSON access log (tailed every `log_poll_s`, for failed
authentications). Publishes are coalesced: at most one every `min_publish_interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from prometheus_client.core import GaugeMetricFamily

from gateway.edge import blocks as edge_blocks
from gateway.edge import publish as edge_publish
from gateway.edge import render
from gateway.edge.render import EdgeKey
from services.common.backends import keys as key_backend
from services.common.backends import usage

log = logging.getLogger(__name__)
_SELECT_KEYS = ("SELECT key_id, owner, scopes, edge_hash, requests_per_minute, audio_seconds_per_day,"
                " characters_per_day FROM api_keys WHERE revoke_time IS NULL")
_SELECT_KEY = _SELECT_KEYS + " AND key_id = $1"
# The Envoys fed by a live control plane, each "host:routes dir" scored by its last heartbeat: a
# key's requests_per_minute is divided across them (local_ratelimit counts in each Envoy).
EDGE_PEERS_KEY = "ai4vc:edge:peers"
_BATCH = 2000  # rows per round trip of the full re-read; the loop runs other work in between
# Logged-out sessions matter while their access tokens can live (auth's access_token_ttl_s, 900 s).
# The channels of services/auth/migrations/0003_key_notify.sql; payloads are `<schema>:<id>`.
KEY_CHANGED_NOTIFY = "ai4vc_key_changed"
SESSION_REVOKED_NOTIFY = "ai4vc_session_revoked"
_SELECT_REVOKED = ("SELECT session_id, extract(epoch FROM revoke_time)::bigint AS revoked FROM sessions"
                   " WHERE revoke_time > now() - make_interval(secs => $1)")


def _key(row: Any) -> EdgeKey:
    return EdgeKey(row["key_id"], row["owner"], frozenset(row["scopes"]), row["edge_hash"] or "",
                   int(row["requests_per_minute"]), int(row["audio_seconds_per_day"]), int(row["characters_per_day"]))


class ControlPlane:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis | None, redis_url: str, *, routes_dir: Path,
                 skeleton_path: Path, access_log: Path | None, default_rpm: int, failure_limit: int,
                 session_ttl_s: int = 960, quota_poll_s: float = 0.1, log_poll_s: float = 0.1,
                 resync_s: float = 30.0, min_publish_interval_s: float = 0.02, envoy_admin: str = "",
                 database_url: str = "", database_schema: str = "public", listen_ping_s: float = 2.0,
                 replicas: int = 0, peer_interval_s: float = 2.0) -> None:
        self.pool, self.redis, self.redis_url = pool, redis, redis_url
        # A connection of its own LISTENs (a pooled one would be handed to queries); empty: none.
        self.database_url, self.database_schema, self.listen_ping_s = database_url, database_schema, listen_ping_s
        self.listening = asyncio.Event()  # set while the LISTEN connection is up (tests wait on it)
        self.routes_dir, self.skeleton_path, self.access_log = routes_dir, skeleton_path, access_log
        self.default_rpm = default_rpm
        self.session_ttl_s = session_ttl_s
        self.quota_poll_s, self.log_poll_s, self.resync_s = quota_poll_s, log_poll_s, resync_s
        self.min_publish_interval_s = min_publish_interval_s
        self.envoy_admin = envoy_admin
        # How many Envoys the per-minute limits are divided across: `replicas` when set, else the
        # Envoys whose control planes beat in Redis within 3 heartbeats (this one's by its host and
        # routes directory: replicas of the gateway feeding one Envoy count once). The last count
        # stays while Redis is away.
        self.fixed_share, self.peer_interval_s = replicas, peer_interval_s
        self.share = max(1, replicas)
        self.peer_id = f"{socket.gethostname()}:{routes_dir.resolve()}"
        # Each key's lines rendered once, when it changes: a publish after one change is a join.
        self.keys = render.KeyTable(default_rpm)
        self.files = edge_publish.DataFiles(routes_dir)
        self._touched: list[set[str]] = []  # one set per full re-read in progress
        # When each notified key's reload began, while it runs: a publish rendered meanwhile lacks
        # that key, so it must not tell the auth service it is applied (see _publish).
        self._reloading: list[float] = []
        self.revoked: dict[str, float] = {}  # session id → when it stops mattering
        self.failures = edge_blocks.FailureCounter(failure_limit, lambda key_id: key_id in self.keys)
        self.quota: list[render.Block] = []
        # Share of each daily quota used today, per limited key: (characters, audio seconds), for
        # the `edge_quota_used_ratio` gauge the alerting service's quota rules read.
        self.quota_used: dict[str, tuple[float, float]] = {}
        self.version = 0
        # What Envoy runs (the last publish it confirmed applying): a render equal to it is not
        # published again.
        self._published_resources = ""
        self.published = asyncio.Event()  # set after each publish (tests wait on it)
        self.last_publish: dict[str, float] = {}
        self._dirty = asyncio.Event()
        # One publish at a time: a second caller (startup, a test, the publisher loop) waits for the
        # one in flight and then compares against what it published, instead of rendering against
        # the state before it and writing the same routes twice (or collecting its data files).
        self._publishing = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    # -- state -------------------------------------------------------------------------------

    async def load(self) -> None:
        # Keys a notification reloaded while the table was being read keep that newer state: the
        # read may predate a revocation, and must not bring the revoked key back for a resync.
        touched: set[str] = set()
        self._touched.append(touched)
        try:
            # Read in batches and compared off the event loop: at 100k keys one fetch decoding every
            # row and the comparison held the loop (and each revocation behind it) for 0.3 s to
            # over 1 s on a loaded machine, at every resync.
            keys = []
            async with self.pool.acquire() as conn, conn.transaction(readonly=True):
                async for row in conn.cursor(_SELECT_KEYS, prefetch=_BATCH):
                    keys.append(_key(row))
            changed, gone = await asyncio.to_thread(self.keys.changes, keys, self.keys.copy())
            self.keys.update([key for key in changed if key.key_id not in touched],
                             [key_id for key_id in gone if key_id not in touched])
        finally:
            self._touched.remove(touched)
        now = time.time()
        for row in await self.pool.fetch(_SELECT_REVOKED, float(self.session_ttl_s)):
            self.revoked[row["session_id"]] = row["revoked"] + self.session_ttl_s
        self.revoked = {s: t for s, t in self.revoked.items() if t > now}
        self._dirty.set()

    async def reload_key(self, key_id: str) -> None:
        for touched in self._touched:
            touched.add(key_id)
        began = time.time()
        self._reloading.append(began)
        try:
            row = await self.pool.fetchrow(_SELECT_KEY, key_id)
            if row is None:
                self.keys.discard(key_id)
            else:
                self.keys.put(_key(row))
        finally:
            self._reloading.remove(began)
        self._dirty.set()

    def revoke_session(self, session_id: str) -> None:
        self.revoked[session_id] = time.time() + self.session_ttl_s
        self._dirty.set()

    def document(self, now: float | None = None, keys: render.KeyTexts | None = None) -> dict[str, Any]:
        """The DiscoveryResponse to publish. `keys`: the key texts taken on the event loop (where
        the table changes), so a render in a worker thread sees one consistent state."""
        now = time.time() if now is None else now
        revoked = [s for s, t in list(self.revoked.items()) if t > now]
        skeleton = json.loads(self.skeleton_path.read_text())
        blocks = [*self.failures.active(now), *self.quota]
        config = render.routes(skeleton, self.keys.texts() if keys is None else keys, blocks, revoked,
                               self.default_rpm, self.files.source, self.share)
        self.version += 1
        return render.discovery_response(config, f"{int(now * 1000)}-{self.version}")

    async def publish_now(self) -> None:
        async with self._publishing:
            await self._publish()

    async def _publish(self) -> None:
        snapshot = time.time()
        # What this publish may claim to hold (EDGE_APPLIED, which CreateApiKey waits on): every
        # change made before `snapshot` — unless a key's reload is still running, whose change
        # was made before its notification came and is not in this render: then a second earlier
        # than that, so the auth service waits for the next publish, which has the key.
        stamp = min([snapshot, *(began - 1.0 for began in self._reloading)])
        self.revoked = {s: t for s, t in self.revoked.items() if t > snapshot}
        document = await asyncio.to_thread(self.document, snapshot, self.keys.texts())
        # The resources without the version: unchanged texts keep their data files, so a re-read
        # that changed nothing renders the same small document. Envoy would rebuild every per-key
        # filter config for it (~0.1 s of its main thread and each worker at 100k keys); skipped.
        resources = json.dumps(document["resources"], sort_keys=True)
        if resources == self._published_resources:
            self.published.set()
            if self.envoy_admin and self.redis is not None:
                with contextlib.suppress(aioredis.RedisError, OSError):
                    await self.redis.set(key_backend.EDGE_APPLIED, int(stamp * 1000), ex=3600)
            return
        size, seconds = await asyncio.to_thread(edge_publish.publish, self.routes_dir, document, self.files)
        self._published_resources = ""
        self.last_publish = {"bytes": size, "seconds": seconds, "keys": len(self.keys), "time": time.time()}
        log.debug("routes published", extra=self.last_publish)
        self.published.set()
        if self.envoy_admin and self.redis is not None:
            # Tell the auth service once Envoy runs this version (it holds CreateApiKey until then).
            if await asyncio.to_thread(self._wait_applied, document["version_info"], 2.0):
                self._published_resources = resources
                with contextlib.suppress(aioredis.RedisError, OSError):
                    await self.redis.set(key_backend.EDGE_APPLIED, int(stamp * 1000), ex=3600)
        else:
            self._published_resources = resources

    def _wait_applied(self, version: str, timeout_s: float) -> bool:
        url = f"http://{self.envoy_admin}/stats?filter=rds%5C.ai4vc%5C.version_text%24&text_readouts"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=0.5) as answer:
                    if f'"{version}"' in answer.read().decode():
                        return True
            except OSError:
                pass
            time.sleep(0.005)
        return False

    # -- loops -------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(c) for c in (self._publisher(), self._subscriber(), self._listener(),
                                                         self._quota_poller(), self._log_tailer(), self._resync(),
                                                         self._peers())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not self.fixed_share and self.redis is not None:
            # The others divide by one fewer at their next heartbeat, not 3 heartbeats from now.
            with contextlib.suppress(aioredis.RedisError, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self.redis.zrem(EDGE_PEERS_KEY, self.peer_id), 1.0)

    async def count_peers(self) -> int:
        """Beats this control plane's heartbeat and counts the Envoys fed by live ones; a new count
        republishes (every key's cost changes with it)."""
        now, ttl = time.time(), 3 * self.peer_interval_s
        assert self.redis is not None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(EDGE_PEERS_KEY, {self.peer_id: now})
            pipe.zremrangebyscore(EDGE_PEERS_KEY, "-inf", now - ttl)
            pipe.zcard(EDGE_PEERS_KEY)
            pipe.expire(EDGE_PEERS_KEY, int(ttl) + 1)
            count = (await pipe.execute())[2]
        share = max(1, int(count))
        if share != self.share:
            log.info("per-minute limits divided across Envoys", extra={"envoys": share, "before": self.share})
            self.share = share
            self._dirty.set()
        return share

    async def _publisher(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.publish_now()
            except Exception:  # noqa: BLE001 - the previous routes stay in force; retry soon
                log.exception("publishing Envoy's routes failed")
                await asyncio.sleep(1.0)
                self._dirty.set()
            await asyncio.sleep(self.min_publish_interval_s)

    async def _peers(self) -> None:
        if self.fixed_share or self.redis is None:
            return
        while True:
            try:
                await self.count_peers()
            except (aioredis.RedisError, OSError) as exc:
                log.warning("cannot count the Envoys in Redis; limits stay divided as they are",
                            extra={"envoys": self.share, "error": repr(exc)[:200]})
            await asyncio.sleep(self.peer_interval_s)

    async def _resync(self) -> None:
        while True:
            try:
                await self.load()
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("cannot read the key table; the published routes stay", extra={"error": repr(exc)[:200]})
            await asyncio.sleep(self.resync_s)

    async def _subscriber(self) -> None:
        if not self.redis_url:
            return
        backoff = 0.1
        while True:
            # Bounded connect and commands: a frozen Redis costs this loop a retry, never a hang
            # (get_message below has its own timeout; pub/sub reads are not socket-timed).
            client = aioredis.from_url(self.redis_url, socket_connect_timeout=0.5, socket_timeout=6.0,
                                       health_check_interval=10)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(key_backend.KEY_REVOKED_CHANNEL, key_backend.SESSION_REVOKED_CHANNEL)
                await self.load()  # whatever changed while we were not listening
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None or message.get("type") != "message":
                        continue
                    channel = message["channel"].decode()
                    value = message["data"].decode(errors="replace")
                    if channel == key_backend.SESSION_REVOKED_CHANNEL:
                        self.revoke_session(value)
                    else:
                        await self.reload_key(value)
            except asyncio.CancelledError:
                raise
            except (aioredis.RedisError, OSError, asyncpg.PostgresError) as exc:
                log.warning("edge change subscription lost; retrying", extra={"error": type(exc).__name__})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _listener(self) -> None:
        """LISTENs on PostgreSQL's key and session channels; a lost connection (PostgreSQL killed
        or frozen: a ping that gets no answer in time) is dropped and made again, and the key
        table is read again whatever changed meanwhile."""
        if not self.database_url:
            return
        backoff = 0.1
        prefix = f"{self.database_schema}:"
        loop = asyncio.get_running_loop()

        def heard(_conn: object, _pid: int, channel: str, payload: str) -> None:
            if not payload.startswith(prefix):
                return  # another schema's change (a channel is per database)
            value = payload[len(prefix):]
            if channel == SESSION_REVOKED_NOTIFY:
                self.revoke_session(value)
            else:
                loop.create_task(self._reload_heard(value))

        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url, timeout=5,
                                             server_settings={"search_path": self.database_schema,
                                                              "application_name": "ai4vc-edge-listen"})
                await conn.add_listener(KEY_CHANGED_NOTIFY, heard)
                await conn.add_listener(SESSION_REVOKED_NOTIFY, heard)
                self.listening.set()
                await self.load()  # whatever changed while we were not listening
                backoff = 0.1
                while not conn.is_closed():
                    await asyncio.sleep(self.listen_ping_s)
                    await conn.fetchval("SELECT 1", timeout=self.listen_ping_s)
                raise ConnectionError("the LISTEN connection closed")
            except asyncio.CancelledError:
                raise
            except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("edge change LISTEN lost; retrying", extra={"error": type(exc).__name__})
            finally:
                self.listening.clear()
                if conn is not None:
                    conn.terminate()  # never waits on a server that does not answer
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _reload_heard(self, key_id: str) -> None:
        try:
            await self.reload_key(key_id)
        except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # The resync (or the LISTEN reconnection's full read) brings it in.
            log.warning("key reload failed", extra={"error": type(exc).__name__})

    async def _quota_poller(self) -> None:
        if self.redis is None:
            return
        while True:
            await asyncio.sleep(self.quota_poll_s)
            limited = self.keys.limited()
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for key in limited:
                        pipe.hmget(usage.usage_key(key.key_id), "characters", "audio_seconds")
                    answers = await pipe.execute() if limited else []
            except (aioredis.RedisError, OSError):
                continue  # keep the blocks we have
            used = {k.key_id: (int(a[0] or 0), float(a[1] or 0.0)) for k, a in zip(limited, answers, strict=True)}
            self.quota_used = {k.key_id: (used[k.key_id][0] / k.characters_per_day if k.characters_per_day else 0.0,
                                          used[k.key_id][1] / k.audio_seconds_per_day if k.audio_seconds_per_day
                                          else 0.0) for k in limited}
            quota = edge_blocks.quota_blocks(limited, used)
            if {(b.subject, b.until) for b in quota} != {(b.subject, b.until) for b in self.quota}:
                self.quota = quota
                self._dirty.set()

    async def _log_tailer(self) -> None:
        if self.access_log is None:
            return
        position = self.access_log.stat().st_size if self.access_log.exists() else 0
        pending = b""
        while True:
            await asyncio.sleep(self.log_poll_s)
            try:
                size = self.access_log.stat().st_size
                if size < position:
                    position = 0  # rotated or truncated
                if size == position:
                    if self.failures.blocks and any(b.until <= time.time() for b in self.failures.blocks.values()):
                        self._dirty.set()  # a block ran out: publish without it
                    continue
                with self.access_log.open("rb") as handle:
                    handle.seek(position)
                    chunk = handle.read(size - position)
                position += len(chunk)
            except OSError:
                continue
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            made = [self.failures.record_line(line.decode(errors="replace")) for line in lines if line]
            if any(made):
                self._dirty.set()


class QuotaCollector:
    """`edge_quota_used_ratio{key_id, quota}`: the share (0 to 1, or more) of each daily quota a
    key used today, as the control plane last read it — one series per limited key and quota."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("edge_quota_used_ratio", "Share of a key's daily quota used today.",
                                   labels=["key_id", "quota"])
        for key_id, (characters, audio) in sorted(self.plane.quota_used.items()):
            key = self.plane.keys.get(key_id)
            if key is None:
                continue
            if key.characters_per_day:
                family.add_metric([key_id, "characters"], characters)
            if key.audio_seconds_per_day:
                family.add_metric([key_id, "audio_seconds"], audio)
        yield family
