"""Admission control: how much work one process takes on at once, and what it refuses.

A process runs at most `max_in_flight` unary (and client-streaming) calls at a time; the next
ones wait in a FIFO of at most `queue_size` calls for at most `queue_timeout_s` (or the call's
own remaining time, if shorter), and past that are refused with RESOURCE_EXHAUSTED
`SERVER_OVERLOADED` and a RetryInfo. A call whose place in the queue already says it would wait
longer than that (its position × the mean time a call holds its slot ÷ the limit) is refused at
once rather than after the wait: under overload a refusal comes in milliseconds, not in a second.
Open server/bidi streams are capped at `max_streams` and refused at once past it (a stream holds
its slot for minutes: waiting for one is no use).

The stream cap guards memory, not CPU: a few live streams more than the model can decode in real
time make every open stream fall behind, and none is refused. So a process whose streams report
their lag (`LagProbe`, fed by `StreamLag` per stream; ASR does) refuses NEW streams with
RESOURCE_EXHAUSTED `SERVER_OVERLOADED`, cause `streams_behind`, while its worst open stream has
been more than `stream_shed_lag_s` behind real time within the last `stream_lag_window_s`. Open
streams are never cut: the refusal only keeps more from joining them.

Without this, a flooded service accepts every call and each one's latency grows with the queue
behind it until deadlines expire (an overload run saw ASR calls hit a 30 s deadline). With it,
what is admitted finishes in bounded time and the rest learns within `queue_timeout_s` that it
should back off or go to another replica. Health and reflection calls are never held here
(`EXEMPT_PREFIXES`): Envoy's health checks must see a busy replica as up.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.common.errors import Reason, ResourceExhausted

# Methods admission never delays or refuses.
EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
# What a refused caller is told to wait before trying again.
RETRY_AFTER_S = 1.0
# Weight of the latest call in the running mean of how long calls hold their slot.
_EWMA_WEIGHT = 0.1


def exempt(method: str) -> bool:
    """Whether `method` bypasses admission (health probes, reflection)."""
    return method.startswith(EXEMPT_PREFIXES)


class AdmissionMetrics:
    """The controller's gauges and its shed counter, in the server's registry."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.admitted = Gauge("grpc_server_admitted_calls", "Unary calls admitted and running (admission control).",
                              ["service"], registry=registry).labels(service)
        self.queued = Gauge("grpc_server_queued_calls", "Unary calls waiting for admission.",
                            ["service"], registry=registry).labels(service)
        self.streams = Gauge("grpc_server_open_streams", "Streaming calls open (admission control).",
                             ["service"], registry=registry).labels(service)
        self.stream_lag = Gauge("grpc_server_stream_lag_seconds",
                                "Worst lag behind real time of the open streams, over the lag window "
                                "(admission control; 0 where streams report none).",
                                ["service"], registry=registry).labels(service)
        self.shed = Counter("grpc_server_shed_total", "Calls refused by admission control (RESOURCE_EXHAUSTED).",
                            ["service", "grpc_type", "cause"], registry=registry)


class StreamLag:
    """How far one open stream is behind real time.

    Message k is due at max(its arrival, message k-1's due + k's audio length): a live client
    sends audio as it records it, so the server should be done with each message when the next
    one's audio is complete. Its lag is how long after that due time its processing finished. A
    client that sends faster than real time gets due times ahead of arrival and does not count
    as lagging; a server that decodes slower than real time falls behind them, whatever the
    client does. Messages are processed in arrival order (the stream's FIFO), so `finished`
    pairs with the oldest `arrived`.
    """

    def __init__(self, probe: LagProbe) -> None:
        self._probe = probe
        self._last_due = -float("inf")
        self._pending: collections.deque[float] = collections.deque()  # due times, arrived but not processed

    def arrived(self, audio_s: float, now: float | None = None) -> float:
        """A message of `audio_s` seconds of audio came in; its due time."""
        now = self._probe.clock() if now is None else now
        due = max(now, self._last_due + audio_s)
        self._last_due = due
        self._pending.append(due)
        return due

    def finished(self, now: float | None = None) -> float:
        """The oldest pending message is processed; its lag (negative: early), reported to the probe."""
        now = self._probe.clock() if now is None else now
        lag = now - self._pending.popleft()
        self._probe.record(lag, now)
        return lag

    def behind(self, now: float) -> float:
        """How far past its due time the oldest message still in processing is (0: none is late)."""
        return max(0.0, now - self._pending[0]) if self._pending else 0.0

    def close(self) -> None:
        """The stream ended: it no longer counts (what it reported stays for the window)."""
        self._pending.clear()
        self._probe.discard(self)


class LagProbe:
    """The worst lag of a process's open streams over the last `window_s` seconds.

    Two parts: lags of messages finished within the window (a sliding maximum), and the lag
    that messages still in processing already have, so a stream stuck on a slow model call
    counts before its call returns. What an ended stream reported stays for the window: the
    process was behind then, and a stream that has just ended says so as much as one still open.
    Not thread-safe: it lives on the server's event loop.
    """

    def __init__(self, window_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0:
            raise ValueError("the lag window must be positive")
        self.window_s = window_s
        self.clock = clock
        self._streams: set[StreamLag] = set()
        # (time, lag) with strictly decreasing lags: the front is the window's maximum.
        self._recent: collections.deque[tuple[float, float]] = collections.deque()

    def open(self) -> StreamLag:
        """A new stream's lag tracker (close it when the stream ends)."""
        stream = StreamLag(self)
        self._streams.add(stream)
        return stream

    def discard(self, stream: StreamLag) -> None:
        self._streams.discard(stream)

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def record(self, lag: float, now: float) -> None:
        self._expire(now)
        while self._recent and self._recent[-1][1] <= lag:
            self._recent.pop()
        self._recent.append((now, lag))

    def _expire(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()

    def lag(self, now: float | None = None) -> float:
        """Seconds behind real time: the worst over the window and the open streams (0: none behind)."""
        now = self.clock() if now is None else now
        self._expire(now)
        worst = max((s.behind(now) for s in self._streams), default=0.0)
        return max(0.0, worst, self._recent[0][1] if self._recent else 0.0)


class AdmissionController:
    """Bounded concurrency plus a bounded, time-limited FIFO wait, for one process.

    Limits of 0 mean "no limit". Not thread-safe: it lives on the server's event loop.
    """

    def __init__(self, max_in_flight: int, queue_size: int, queue_timeout_s: float, max_streams: int,
                 metrics: AdmissionMetrics | None = None, stream_lag: LagProbe | None = None,
                 stream_shed_lag_s: float = 0.0) -> None:
        if max_in_flight < 0 or queue_size < 0 or max_streams < 0 or queue_timeout_s < 0 or stream_shed_lag_s < 0:
            raise ValueError("admission limits must not be negative")
        self.max_in_flight = max_in_flight
        self.queue_size = queue_size
        self.queue_timeout_s = queue_timeout_s
        self.max_streams = max_streams
        self.metrics = metrics
        # Streams' lag behind real time (None: this process's streams report none) and the lag past
        # which new streams are refused (0: never).
        self.stream_lag = stream_lag
        self.stream_shed_lag_s = stream_shed_lag_s
        if metrics is not None and stream_lag is not None:
            metrics.stream_lag.set_function(stream_lag.lag)
        self.in_flight = 0
        self.streams = 0
        self.mean_hold_s = 0.0  # running mean of how long an admitted call holds its slot; 0: none yet
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def _refuse(self, kind: str, cause: str, message: str) -> ResourceExhausted:
        if self.metrics is not None:
            self.metrics.shed.labels(self.metrics.service, kind, cause).inc()
        return ResourceExhausted(message, reason=Reason.SERVER_OVERLOADED, retry_after_s=RETRY_AFTER_S,
                                 metadata={"cause": cause})

    def _gauges(self) -> None:
        if self.metrics is not None:
            self.metrics.admitted.set(self.in_flight)
            self.metrics.queued.set(len(self._waiters))
            self.metrics.streams.set(self.streams)

    async def acquire(self, timeout_s: float | None = None, kind: str = "unary") -> None:
        """Takes a call slot, waiting at most `queue_timeout_s` (and `timeout_s`, the call's
        remaining time, when given); raises ResourceExhausted SERVER_OVERLOADED otherwise."""
        if not self.max_in_flight:
            return
        if self.in_flight < self.max_in_flight and not self._waiters:
            self.in_flight += 1
            self._gauges()
            return
        if len(self._waiters) >= self.queue_size:
            raise self._refuse(kind, "queue_full", f"server overloaded: {self.in_flight} calls running and "
                                                   f"{len(self._waiters)} waiting; retry later")
        wait = self.queue_timeout_s if timeout_s is None else max(0.0, min(self.queue_timeout_s, timeout_s))
        expected = (len(self._waiters) + 1) * self.mean_hold_s / self.max_in_flight
        if expected > wait:
            raise self._refuse(kind, "wait_too_long", f"server overloaded: a slot would take ~{expected:.1f} s "
                                                      f"({len(self._waiters)} calls waiting); retry later")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._gauges()
        try:
            await asyncio.wait((waiter,), timeout=wait)
        except BaseException:
            # The caller went away while waiting: a slot handed over meanwhile goes to the next one.
            if waiter.done() and not waiter.cancelled():
                self.release()
            else:
                self._forget(waiter)
            raise
        if waiter.done() and not waiter.cancelled():
            return  # release() handed its slot over (in_flight counted it already)
        self._forget(waiter)
        raise self._refuse(kind, "queue_timeout", f"server overloaded: no call slot within {wait:g} s; retry later")

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        waiter.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        self._gauges()

    def observe(self, held_s: float) -> None:
        """Folds how long one admitted call held its slot into the running mean."""
        self.mean_hold_s = held_s if not self.mean_hold_s else (
            (1 - _EWMA_WEIGHT) * self.mean_hold_s + _EWMA_WEIGHT * held_s)

    def release(self) -> None:
        """Frees a call slot: handed straight to the oldest waiter, if any."""
        if not self.max_in_flight:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on; in_flight stays
                self._gauges()
                return
        self.in_flight = max(0, self.in_flight - 1)
        self._gauges()

    def open_stream(self, kind: str = "bidi_stream") -> None:
        """Counts a stream in; raises ResourceExhausted SERVER_OVERLOADED at the cap, or while the open
        streams are more than `stream_shed_lag_s` behind real time."""
        if self.max_streams and self.streams >= self.max_streams:
            raise self._refuse(kind, "streams_full", f"server overloaded: {self.streams} streams open; retry later")
        if self.stream_shed_lag_s and self.stream_lag is not None:
            lag = self.stream_lag.lag()
            if lag > self.stream_shed_lag_s:
                raise self._refuse(kind, "streams_behind", f"server overloaded: open streams are {lag:.1f} s behind "
                                                           f"real time; retry later")
        self.streams += 1
        self._gauges()

    def close_stream(self) -> None:
        self.streams = max(0, self.streams - 1)
        self._gauges()

    @contextlib.asynccontextmanager
    async def call(self, timeout_s: float | None = None, kind: str = "unary") -> AsyncIterator[None]:
        """A call slot for the body of the `async with`."""
        await self.acquire(timeout_s, kind)
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.max_in_flight:
                self.observe(time.perf_counter() - start)
            self.release()
