"""Request/result records written to PostgreSQL off the hot path, and never lost.

`submit()` only appends to a bounded in-memory queue; it never waits on the database.
A background task writes batches in one transaction each. When PostgreSQL is unreachable
(or not configured), a batch is appended to a JSON-lines spool file on disk, and the spool
is replayed once the database answers again. If the queue is full, the record goes straight
to the spool. Writers must be idempotent (`ON CONFLICT DO NOTHING` on the record's id),
because a batch whose commit outcome is unknown is replayed.

A sink may also build events from its records (`events=`): they are appended to the outbox
(`services.common.backends.outbox`) in the same transaction as the records, so a record and its
events are committed together or not at all. Events are rebuilt from the record at commit
time, so spooled records carry their events into the replay, and their ids are derived from
the record id, so a replay adds none twice.

When the spool itself cannot be written (disk full, an I/O error), records are held in memory,
never dropped, and retried; while that is so the spool reports unwritable (metrics, the
`ai4vc.records.Spool` health name). Once `max_queue` are held, `admit()` refuses new calls with
UNAVAILABLE and a RetryInfo: a call refused up front loses nothing, a record dropped later would
be lost for good. Everything held is flushed at the first successful write.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import errno
import json
import logging
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, Counter, Gauge

from ai4vc.events.v1 import events_pb2
from services.common import tracing
from services.common.backends import db, outbox
from services.common.errors import Reason, Unavailable
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)

Record = dict[str, Any]
BatchWriter = Callable[[asyncpg.Connection, Sequence[Record]], Awaitable[None]]
PoolFactory = Callable[[], Awaitable[asyncpg.Pool]]
EventBuilder = Callable[[Record], Sequence[events_pb2.Event]]
_tracer = trace.get_tracer(__name__)

# The health name that is NOT_SERVING while a sink's spool cannot be written (`RecordSink.bind_health`).
SPOOL_HEALTH_NAME = "ai4vc.records.Spool"
# How long a refused caller is told to wait: about one retry of the held records.
_ADMIT_RETRY_S = 5.0
# The one call a spool append makes to the disk; tests swap in a fake that fails like a full disk.
_write = os.write


def _append_bytes(path: Path, data: bytes) -> None:
    """Appends `data` to `path` and fsyncs it, or raises OSError having cut the file back to its
    old length: a half-written line would stop the replay at the first record it cannot parse."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[_write(fd, view):]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


def trace_writes(sink: str, batch: Sequence[Record], start_ns: int, error: str = "") -> None:
    """One span per record of a committed (or failed) batch, a child of the call that made the
    record (its `traceparent`), timed as the batch's commit: the write is part of the request's
    trace although it happens after the response."""
    end_ns = time.time_ns()
    # A child of an unsampled call would be dropped by the sampler: not started at all.
    skip_unsampled = tracing.drops_unsampled_children()
    for record in batch:
        traceparent = record.get("traceparent")
        if not traceparent or (skip_unsampled and not tracing.sampled_flag(traceparent)):
            continue
        span = _tracer.start_span(f"records.write {sink}", context=propagate.extract({"traceparent": traceparent}),
                                  kind=SpanKind.CLIENT, start_time=start_ns,
                                  attributes={"db.system": "postgresql", "ai4vc.sink": sink,
                                              "ai4vc.batch_size": len(batch),
                                              "ai4vc.request_id": str(record.get("request_id", ""))})
        if error:
            span.set_status(trace.StatusCode.ERROR, error)
        span.end(end_time=end_ns)


def request_columns(record: Record, default_method: str = "") -> tuple[uuid.UUID, str, datetime.datetime, str, str]:
    """The columns every `<svc>_requests` row starts with, from the fields `CallRecorder` puts
    first in every record: (id, request_id, created_time, principal, method). `default_method`
    fills in records spooled before a service recorded the method."""
    return (uuid.UUID(record["id"]), record["request_id"], datetime.datetime.fromisoformat(record["created_time"]),
            record["principal"], record.get("method") or default_method)


def call_events(source: str, record: Record, *, model: str, language_code: str, target_language_code: str = "",
                characters: int = 0, audio_seconds: float = 0.0) -> list[events_pb2.Event]:
    """The events of one recorded call (a record `CallRecorder` sent): an `InferenceRequest`
    (sizes, never text or audio) and, when the call metered something, a `Usage`. Ids and time
    come from the record, so the same record always gives the same events."""
    record_id = record["id"]
    created = datetime.datetime.fromisoformat(record["created_time"])
    subject = record.get("request_id") or record_id
    common: dict[str, Any] = {"source": source, "subject": subject, "principal": record.get("principal", ""),
                              "traceparent": record.get("traceparent", ""), "time": created}
    key_id = record.get("key_id", "")
    latency = duration_pb2.Duration()
    latency.FromNanoseconds(round(float(record.get("latency_ms", 0.0)) * 1e6))
    events = [outbox.new_event(
        outbox.INFERENCE_REQUEST_TYPE, id=outbox.event_id(record_id, outbox.INFERENCE_REQUEST_TYPE), **common,
        inference_request=events_pb2.InferenceRequest(
            service=source, method=record.get("method", ""), model=model, language_code=language_code,
            target_language_code=target_language_code, characters=characters, audio_seconds=audio_seconds,
            latency=latency, status=record.get("status", ""), key_id=key_id))]
    metered = record.get("metered") or {}
    if metered.get("characters", 0) > 0 or metered.get("audio_seconds", 0.0) > 0:
        events.append(outbox.new_event(
            outbox.USAGE_TYPE, id=outbox.event_id(record_id, outbox.USAGE_TYPE), **common,
            usage=events_pb2.Usage(key_id=key_id, service=source, characters=int(metered.get("characters", 0)),
                                   audio_seconds=float(metered.get("audio_seconds", 0.0)))))
    return events


class RecordSink:
    """Bounded queue → batched, retried writes → disk spool when the database is away."""

    def __init__(
        self,
        name: str,
        write_batch: BatchWriter,
        pool_factory: PoolFactory | None,
        spool_dir: str | Path,
        *,
        registry: CollectorRegistry | None = None,
        max_queue: int = 10_000,
        batch_size: int = 256,
        flush_interval_s: float = 0.05,
        max_backoff_s: float = 5.0,
        events: EventBuilder | None = None,
        commit_interval_s: float = 0.02,
    ) -> None:
        self.name = name
        self._write_batch = write_batch
        self._events = events
        self._pool_factory = pool_factory
        self._pool: asyncpg.Pool | None = None
        if max_queue < 1:
            raise ValueError(f"records max_queue={max_queue}: use 1 or more")
        self._queue: asyncio.Queue[Record] = asyncio.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        # Commits start at most this often: an idle writer commits a lone record at once, a busy
        # one gathers what arrives meanwhile (each commit costs a transaction, three statements
        # and the pool's connection reset, whatever its size).
        self._commit_interval_s = commit_interval_s
        self._last_commit = 0.0
        self._max_backoff_s = max_backoff_s
        self._spool = Path(spool_dir) / f"{name}.jsonl"
        self._spool.parent.mkdir(parents=True, exist_ok=True)
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        # Records neither committed nor spooled (the spool could not be written): kept, retried.
        self._held: deque[Record] = deque()
        self._max_held = max_queue
        self._writable = True
        self._next_retry = 0.0
        self._health: Any = None  # a grpc_health aio HealthServicer, once bound
        self._health_tasks: set[asyncio.Task[None]] = set()
        labels = ["sink"]
        self.written = Counter("records_written_total", "Records committed to PostgreSQL.", labels, registry=registry)
        self.spooled = Counter("records_spooled_total", "Records spooled to disk.", labels, registry=registry)
        self.failures = Counter("records_write_failures_total", "Failed batch writes.", labels, registry=registry)
        self.depth = Gauge("records_queue_depth", "Records waiting in memory.", labels, registry=registry)
        self.depth.labels(name).set_function(self._queue.qsize)
        self.writable_gauge = Gauge("ai4vc_records_spool_writable", "1 while the disk spool can be written.",
                                    labels, registry=registry)
        self.writable_gauge.labels(name).set_function(lambda: 1.0 if self._writable else 0.0)
        self.held_gauge = Gauge("ai4vc_records_held", "Records held in memory because the spool cannot be written.",
                                labels, registry=registry)
        self.held_gauge.labels(name).set_function(lambda: len(self._held))
        self.spool_errors = Counter("ai4vc_records_spool_errors_total", "Failed spool writes, by errno name.",
                                    [*labels, "error"], registry=registry)

    @property
    def spool_path(self) -> Path:
        return self._spool

    @property
    def spool_writable(self) -> bool:
        """False from a failed spool write until the next one succeeds."""
        return self._writable

    @property
    def held_count(self) -> int:
        return len(self._held)

    @property
    def admitting(self) -> bool:
        """False while `admit()` refuses new calls (a service's readiness follows it)."""
        return len(self._held) < self._max_held

    def admit(self) -> None:
        """Raises UNAVAILABLE (with RetryInfo) when the record of a new call could not be kept:
        the spool is unwritable and `max_queue` records are already held in memory."""
        if not self.admitting:
            raise Unavailable(
                "the service cannot keep request records now (its spool disk cannot be written); try again later",
                reason=Reason.BACKEND_UNAVAILABLE,
                metadata={"service": "records-spool", "sink": self.name, "held": str(len(self._held))},
                retry_after_s=_ADMIT_RETRY_S)

    def bind_health(self, servicer: Any) -> None:
        """Reports the spool as `SPOOL_HEALTH_NAME` on `servicer` (a grpc_health aio HealthServicer):
        SERVING while it can be written, NOT_SERVING while not. The service itself keeps serving."""
        self._health = servicer
        self._report_health()

    def _report_health(self) -> None:
        if self._health is None:
            return
        serving = health_pb2.HealthCheckResponse
        status = serving.SERVING if self._writable else serving.NOT_SERVING
        task = asyncio.get_running_loop().create_task(self._health.set(SPOOL_HEALTH_NAME, status))
        self._health_tasks.add(task)
        task.add_done_callback(self._health_tasks.discard)

    def _set_writable(self, writable: bool) -> None:
        if writable == self._writable:
            return
        self._writable = writable
        if writable:
            log.warning("records spool writable again", extra={"sink": self.name})
        self._report_health()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"records-{self.name}")

    def submit(self, record: Record) -> None:
        """Accepts a record without waiting. Never raises for a full queue or a dead database."""
        self._idle.clear()
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._append_spool([record])

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Waits until everything submitted so far is committed or spooled (tests, shutdown)."""
        try:
            await asyncio.wait_for(self._wait_empty(), timeout_s)
            return True
        except TimeoutError:
            return False

    async def _wait_empty(self) -> None:
        while not (self._queue.empty() and self._idle.is_set() and not self._held):
            await asyncio.sleep(0.01)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Flushes what it can in `timeout_s`, spools the rest, closes the pool."""
        await self.drain(timeout_s)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        leftover: list[Record] = []
        while not self._queue.empty():
            leftover.append(self._queue.get_nowait())
        if leftover or self._held:
            self._append_spool(leftover)
        if self._held:
            log.error("records lost at shutdown: the spool cannot be written",
                      extra={"sink": self.name, "records": len(self._held)})
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # -- background ---------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.1
        next_replay = 0.0
        if self._pool_factory is not None:
            # Connect (and migrate) at start-up rather than on the first record.
            with contextlib.suppress(Exception):
                await self._get_pool()
        while True:
            batch = await self._next_batch()
            try:
                if batch:
                    await self._commit(batch)
                    batch = []
                if self._has_spool() and time.monotonic() >= next_replay:
                    await self._replay_spool()
                if not self._writable and not self._held and time.monotonic() >= self._next_retry:
                    self._probe_spool()
                backoff = 0.1
            except asyncio.CancelledError:
                if batch:
                    self._append_spool(batch)
                raise
            except Exception as exc:  # noqa: BLE001 - any database failure spools and retries later
                self.failures.labels(self.name).inc()
                if batch:
                    self._append_spool(batch)
                log.warning("record write failed; spooled", extra={"sink": self.name, "error": repr(exc)[:300]})
                await self._reset_pool()
                next_replay = self._next_retry = time.monotonic() + backoff
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self._max_backoff_s)
            finally:
                if self._queue.empty():
                    self._idle.set()

    async def _next_batch(self) -> list[Record]:
        batch: list[Record] = []
        if self._held and time.monotonic() >= self._next_retry:
            # Held records first (to the database, else the spool again), after the backoff.
            self._idle.clear()
            while self._held and len(batch) < self._batch_size:
                batch.append(self._held.popleft())
            return batch
        # Before taking anything: a cancel during this wait loses no record.
        wait = self._last_commit + self._commit_interval_s - time.monotonic()
        if wait > 0 and self._queue.qsize() < self._batch_size:
            await asyncio.sleep(wait)
        try:
            timeout = self._flush_interval_s if self._has_spool() or self._held or not self._writable else None
            batch.append(await asyncio.wait_for(self._queue.get(), timeout))
        except TimeoutError:
            return batch
        self._idle.clear()
        while len(batch) < self._batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool_factory is None:
            raise ConnectionError("no database configured")
        if self._pool is None:
            self._pool = await self._pool_factory()
        return self._pool

    async def _reset_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.terminate()

    async def _commit(self, batch: Sequence[Record]) -> None:
        self._last_commit = time.monotonic()
        start_ns = time.time_ns()
        try:
            pool = await self._get_pool()
            async with pool.acquire() as conn, conn.transaction():
                await self._write_batch(conn, batch)
                if self._events is not None:
                    await outbox.append(conn, [event for record in batch for event in self._events(record)])
        except Exception as exc:
            trace_writes(self.name, batch, start_ns, f"spooled: {type(exc).__name__}")
            raise
        trace_writes(self.name, batch, start_ns)
        self.written.labels(self.name).inc(len(batch))

    def _has_spool(self) -> bool:
        return self._spool.exists() or self._spool.with_suffix(".replaying").exists()

    def _append_spool(self, records: Sequence[Record], *, hold: bool = True) -> bool:
        """Spools `records` and whatever is held, or (`hold`) holds them all when the disk refuses.
        False when the disk refused."""
        pending = [*self._held, *records] if hold else list(records)
        if not pending:
            return True
        data = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in pending).encode()
        try:
            _append_bytes(self._spool, data)
        except OSError as exc:
            self.spool_errors.labels(self.name, errno.errorcode.get(exc.errno or 0, "OSError")).inc()
            if self._writable:
                log.error("records spool cannot be written; holding records in memory",
                          extra={"sink": self.name, "error": repr(exc)[:300], "held": len(pending)})
            if hold:
                self._held = deque(pending)
            self._next_retry = max(self._next_retry, time.monotonic() + self._flush_interval_s)
            self._set_writable(False)
            return False
        if hold:
            self._held.clear()
        self._set_writable(True)
        self.spooled.labels(self.name).inc(len(pending))
        return True

    def _probe_spool(self) -> None:
        """Whether the spool takes writes again, tried while the database takes the records (so
        nothing else would write it): a blank line, which the replay skips."""
        try:
            _append_bytes(self._spool, b"\n")
        except OSError:
            self._next_retry = time.monotonic() + self._max_backoff_s
            return
        self._set_writable(True)

    async def _replay_spool(self) -> None:
        """Moves the spool aside, writes it in batches; what fails goes back to the spool."""
        replaying = self._spool.with_suffix(".replaying")
        if not replaying.exists():
            os.replace(self._spool, replaying)
        records = [json.loads(line) for line in replaying.read_text(encoding="utf-8").splitlines() if line.strip()]
        for start in range(0, len(records), self._batch_size):
            try:
                await self._commit(records[start : start + self._batch_size])
            except Exception:
                # Left in place when the spool cannot take them: replayed again (writes are idempotent).
                if self._append_spool(records[start:], hold=False):
                    replaying.unlink()
                raise
        replaying.unlink()
        if records:
            log.info("spool replayed", extra={"sink": self.name, "records": len(records)})


def database_sink(
    name: str,
    settings: CommonSettings,
    write_batch: BatchWriter,
    migrations: Path,
    registry: CollectorRegistry | None,
    stack: contextlib.AsyncExitStack,
    events: EventBuilder | None = None,
) -> RecordSink:
    """A started sink for service `name`: PostgreSQL from settings (its migrations and the
    outbox's applied on first connection), disk spool only when no database is configured;
    `events` builds each record's events for the outbox; closed by `stack`."""
    pool_factory: PoolFactory | None = None
    if settings.database_url:
        async def pool_factory() -> asyncpg.Pool:  # noqa: F811 - the configured variant
            pool = await db.create_pool(settings.database_url, settings.database_schema)
            await db.migrate(pool, migrations, name)
            await outbox.migrate(pool)
            return pool
    else:
        log.warning("no database_url: request records are spooled to disk only", extra={"sink": name})
    sink = RecordSink(name, write_batch, pool_factory, settings.spool_dir, registry=registry, events=events,
                      max_queue=settings.records_max_queue)
    sink.start()
    stack.push_async_callback(sink.close)
    return sink
