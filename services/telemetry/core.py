"""Telemetry domain core: takes in decoded spans and log records without waiting on the store,
writes them in batches, keeps the store bounded, and answers trace and log searches.

Knows nothing of grpc. `Ingest` is the receive path: `offer` appends to bounded deques and
returns (the newest are dropped and counted when full); one task writes batches to the store
and retries while it is away. `Retention` deletes what is past the row and age bounds, in the
background. Searches are checked before they reach the store: a bounded time range (default the
last hour, at most `max_search_days`), bounded pages, and page tokens bound to a hash of the
query that issued them (and to the time window it resolved, so "now" does not move between
pages); a read the store cannot finish within `query_timeout_s` is QUERY_TOO_BROAD.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import dataclasses
import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from services.common.callers import Caller
from services.common.errors import (
    InvalidArgument,
    NotFound,
    Reason,
    Unavailable,
)
from services.common.paging import checked_page_size, query_digest
from services.telemetry.records import LogRow, SpanRow
from services.telemetry.settings import TelemetrySettings

log = logging.getLogger(__name__)

TRACE_ID = re.compile(r"[0-9a-fA-F]{32}")
MAX_TRACE_SPANS = 10_000
DEFAULT_WINDOW_NS = 3600 * 10**9
MAX_NS = 253402300799 * 10**9
TRACES_PAGE_SIZE = 50
LOGS_PAGE_SIZE = 100
MAX_QUERY_CHARS = 512
Key = list[Any]


@dataclasses.dataclass(frozen=True)
class TraceQuery:
    start_ns: int
    end_ns: int
    limit: int
    service: str = ""
    span_name: str = ""
    min_duration_us: int = 0
    status: int = 0  # API SpanStatus; 0: any
    request_id: str = ""
    after: Key | None = None


@dataclasses.dataclass(frozen=True)
class LogQuery:
    start_ns: int
    end_ns: int
    limit: int
    text: str = ""
    service: str = ""
    min_level: int = 0
    request_id: str = ""
    trace_id: str = ""
    after: Key | None = None


@dataclasses.dataclass(frozen=True)
class TraceSummary:
    trace_id: str
    root_service: str
    root_name: str
    start_ns: int
    end_ns: int
    span_count: int
    error_count: int
    request_id: str
    services: list[str]


class QueryTimeout(Exception):
    """The store gave up on a read that ran past its time bound."""


class StoreUnavailable(Exception):
    """The store cannot be reached now."""


class Store(Protocol):
    """Where spans and logs live (PostgreSQL by default, OpenSearch optionally)."""

    async def write(self, spans: Sequence[SpanRow], logs: Sequence[LogRow]) -> None: ...

    async def get_trace(self, trace_id: str, limit: int) -> list[SpanRow]: ...

    async def search_traces(self, query: TraceQuery) -> tuple[list[TraceSummary], Key | None]: ...

    async def search_logs(self, query: LogQuery) -> tuple[list[LogRow], Key | None]: ...

    async def retain(self, max_rows: int, max_age_s: float) -> tuple[int, int]: ...

    async def ready(self) -> bool: ...


# -- checks --------------------------------------------------------------------------------

def trace_id_of(value: str, field: str = "trace_id", required: bool = True) -> str:
    if not value:
        if required:
            raise InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)
        return ""
    if not TRACE_ID.fullmatch(value) or not value.strip("0"):
        raise InvalidArgument(f"{field} must be 32 hex digits, not all zero", reason=Reason.INVALID_TRACE_ID,
                              field=field)
    return value.lower()


def instant_ns(seconds: int, nanos: int, field: str) -> int:
    """A Timestamp as nanoseconds since the epoch; FIELD_OUT_OF_RANGE outside 1970 to 9999."""
    if not 0 <= nanos < 10**9 or not 0 <= seconds <= MAX_NS // 10**9:
        raise InvalidArgument(f"{field} must be between 1970-01-01 and 9999-12-31", reason=Reason.FIELD_OUT_OF_RANGE,
                              field=field)
    return seconds * 10**9 + nanos


def duration_us(seconds: int, nanos: int, field: str) -> int:
    if seconds < 0 or nanos < 0:
        raise InvalidArgument(f"{field} must not be negative", reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    return min(seconds * 10**6 + nanos // 1000, 2**62)


def _bounded(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidArgument(f"{field} is longer than {limit} characters", reason=Reason.FIELD_OUT_OF_RANGE,
                              field=field)
    return value


def _bad_token() -> InvalidArgument:
    return InvalidArgument("page_token is not one this server issued for this query",
                           reason=Reason.INVALID_PAGE_TOKEN, field="page_token")


def encode_token(digest: str, start_ns: int, end_ns: int, key: Key) -> str:
    raw = json.dumps({"h": digest, "s": start_ns, "e": end_ns, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, digest: str, second: type) -> tuple[int, int, Key]:
    """(start, end, key) of a token issued for the query with `digest`; INVALID_PAGE_TOKEN else.
    A key is [time in µs, `second`] (a trace id, or a log record's sequence number)."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        start, end, key = raw["s"], raw["e"], raw["k"]
        if (raw["h"] != digest or not isinstance(key, list) or len(key) != 2
                or not all(type(v) is int for v in (start, end, key[0])) or type(key[1]) is not second):
            raise ValueError(token)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise _bad_token() from exc
    return start, end, key


class TelemetryCore:
    def __init__(self, settings: TelemetrySettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def window(self, start_ns: int | None, end_ns: int | None) -> tuple[int, int]:
        """The time range a search covers: [start, end), at most max_search_days long."""
        end = time.time_ns() if end_ns is None else end_ns
        start = max(0, end - DEFAULT_WINDOW_NS) if start_ns is None else start_ns
        if start >= end:
            raise InvalidArgument("start_time must be before end_time", reason=Reason.FIELD_OUT_OF_RANGE,
                                  field="start_time")
        if end - start > self.settings.max_search_days * 86_400 * 10**9:
            raise InvalidArgument(f"a search covers at most {self.settings.max_search_days:g} days",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field="end_time")
        return start, end

    async def _bounded(self, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, self.settings.query_timeout_s)
        except (QueryTimeout, TimeoutError) as exc:
            raise InvalidArgument("the search could not be answered in time; narrow the time range or add filters",
                                  reason=Reason.QUERY_TOO_BROAD, field="start_time") from exc
        except StoreUnavailable as exc:
            log.warning("telemetry store unavailable: %s", exc)
            raise Unavailable("the telemetry store is unavailable; try again", reason=Reason.BACKEND_UNAVAILABLE,
                              metadata={"service": "telemetry-store"}, retry_after_s=1.0) from exc

    async def get_trace(self, caller: Caller, trace_id: str) -> tuple[str, list[SpanRow], bool]:
        caller.require_scope("telemetry", "reading traces and logs needs the telemetry or admin scope")
        trace_id = trace_id_of(trace_id)
        spans = await self._bounded(self.store.get_trace(trace_id, MAX_TRACE_SPANS + 1))
        if not spans:
            raise NotFound(f"no span of trace {trace_id} is stored", reason=Reason.TRACE_NOT_FOUND, field="trace_id")
        truncated = len(spans) > MAX_TRACE_SPANS
        return trace_id, tree_order(spans[:MAX_TRACE_SPANS]), truncated

    async def search_traces(self, caller: Caller, *, service: str, span_name: str, min_duration_us: int, status: int,
                            request_id: str, start_ns: int | None, end_ns: int | None, page_size: int,
                            page_token: str) -> tuple[list[TraceSummary], str]:
        caller.require_scope("telemetry", "reading traces and logs needs the telemetry or admin scope")
        fields = {"service": _bounded(service, "service", 128), "span_name": _bounded(span_name, "span_name", 256),
                  "min_duration_us": min_duration_us, "status": status,
                  "request_id": _bounded(request_id, "request_id", 128), "start": start_ns, "end": end_ns}
        limit = checked_page_size(page_size, TRACES_PAGE_SIZE)
        digest = query_digest({"m": "traces", **fields})
        after: Key | None = None
        if page_token:
            start, end, after = decode_token(page_token, digest, str)
            start, end = self.window(start, end)  # tokens are not signed: the same bounds hold
        else:
            start, end = self.window(start_ns, end_ns)
        query = TraceQuery(start, end, limit, service, span_name, min_duration_us, status, request_id, after)
        found, key = await self._bounded(self.store.search_traces(query))
        return found, encode_token(digest, start, end, key) if key is not None else ""

    async def search_logs(self, caller: Caller, *, text: str, service: str, min_level: int, request_id: str,
                          trace_id: str, start_ns: int | None, end_ns: int | None, page_size: int,
                          page_token: str) -> tuple[list[LogRow], str]:
        caller.require_scope("telemetry", "reading traces and logs needs the telemetry or admin scope")
        trace_id = trace_id_of(trace_id, required=False)
        fields = {"text": _bounded(text, "query", MAX_QUERY_CHARS), "service": _bounded(service, "service", 128),
                  "min_level": min_level, "request_id": _bounded(request_id, "request_id", 128),
                  "trace_id": trace_id, "start": start_ns, "end": end_ns}
        limit = checked_page_size(page_size, LOGS_PAGE_SIZE)
        digest = query_digest({"m": "logs", **fields})
        after: Key | None = None
        if page_token:
            start, end, after = decode_token(page_token, digest, int)
            start, end = self.window(start, end)  # tokens are not signed: the same bounds hold
        else:
            start, end = self.window(start_ns, end_ns)
        query = LogQuery(start, end, limit, text.strip(), service, min_level, request_id, trace_id, after)
        found, key = await self._bounded(self.store.search_logs(query))
        return found, encode_token(digest, start, end, key) if key is not None else ""


def tree_order(spans: Sequence[SpanRow]) -> list[SpanRow]:
    """Parents before their children, siblings (and roots) by start time; a span whose parent is
    not among `spans` is a root."""
    ids = {s.span_id for s in spans}
    children: dict[str, list[SpanRow]] = collections.defaultdict(list)
    roots = []
    for span in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        if span.parent_span_id and span.parent_span_id in ids and span.parent_span_id != span.span_id:
            children[span.parent_span_id].append(span)
        else:
            roots.append(span)
    ordered: list[SpanRow] = []
    seen: set[str] = set()
    stack = list(reversed(roots))
    while stack:
        span = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        ordered.append(span)
        stack.extend(reversed(children.get(span.span_id, [])))
    # Cycles (a hostile exporter) leave spans unreached: list them too, as roots.
    ordered += [s for s in spans if s.span_id not in seen]
    return ordered


T = TypeVar("T")


def _put(queue: collections.deque[T], rows: Sequence[T], bound: int, front: bool = False) -> int:
    """Adds what fits under `bound` (at the back, or back at the front for a retry); returns
    how many did not fit."""
    room = max(0, bound - len(queue))
    if front:
        queue.extendleft(reversed(rows[:room]))
    else:
        queue.extend(rows[:room])
    return max(0, len(rows) - room)


class Ingest:
    """Bounded queues between Export and the store; one task writes them in batches."""

    def __init__(self, store: Store, *, max_queue: int, batch_size: int, flush_interval_s: float) -> None:
        self.store = store
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.spans: collections.deque[SpanRow] = collections.deque()
        self.logs: collections.deque[LogRow] = collections.deque()
        self.received = {"spans": 0, "logs": 0}
        self.dropped = {"spans": 0, "logs": 0}
        self.written = {"spans": 0, "logs": 0}
        self.write_failures = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telemetry-ingest")

    def offer(self, spans: Sequence[SpanRow] = (), logs: Sequence[LogRow] = ()) -> None:
        """Queues what fits; drops (and counts) the rest. Never waits."""
        self.received["spans"] += len(spans)
        self.received["logs"] += len(logs)
        self.dropped["spans"] += _put(self.spans, spans, self.max_queue)
        self.dropped["logs"] += _put(self.logs, logs, self.max_queue)
        if spans or logs:
            self._idle.clear()
            if len(self.spans) + len(self.logs) >= self.batch_size:
                self._wake.set()

    async def drain(self, timeout_s: float = 10.0) -> bool:
        """Waits until everything offered so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self.spans or self.logs or not self._idle.is_set():
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            await asyncio.sleep(0.01)
        return True

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            while self.spans or self.logs:
                spans = [self.spans.popleft() for _ in range(min(self.batch_size, len(self.spans)))]
                logs = [self.logs.popleft() for _ in range(min(self.batch_size, len(self.logs)))]
                try:
                    await self.store.write(spans, logs)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the store is away: keep what fits, retry later
                    self.write_failures += 1
                    log.warning("telemetry write failed; retrying", extra={"error": repr(exc)[:300]})
                    _put(self.spans, spans, self.max_queue, front=True)
                    _put(self.logs, logs, self.max_queue, front=True)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    break
                backoff = 0.1
                self.written["spans"] += len(spans)
                self.written["logs"] += len(logs)
            if not self.spans and not self.logs:
                self._idle.set()

    async def close(self, timeout_s: float = 5.0) -> None:
        await self.drain(timeout_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Retention:
    """Every `interval_s`, deletes spans and logs beyond `max_rows` (oldest first) or older than
    `max_age_s`."""

    def __init__(self, store: Store, max_rows: int, max_age_s: float, interval_s: float) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self.deleted = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telemetry-retention")

    async def run_once(self) -> tuple[int, int]:
        spans, logs = await self.store.retain(self.max_rows, self.max_age_s)
        self.deleted += spans + logs
        if spans or logs:
            log.info("retention deleted", extra={"spans": spans, "logs": logs})
        return spans, logs

    async def _run(self) -> None:
        while True:
            # Interval first: at start-up the store is busy with the backlog exporters resend.
            await asyncio.sleep(self.interval_s)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("retention failed", extra={"error": repr(exc)[:300]})

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
