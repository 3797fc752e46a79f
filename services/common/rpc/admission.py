"""Admission control: how much work one process takes on at once, and what it refuses.

A process runs at most `max_in_flight` unary (and client-streaming) calls at a time; the next
ones wait in a FIFO of at most `queue_size` calls for at most `queue_timeout_s` (or the call's
own remaining time, if shorter), and past that are refused with RESOURCE_EXHAUSTED
`SERVER_OVERLOADED` and a RetryInfo. A call whose place in the queue already says it would wait
longer than that (its position × the mean time a call holds its slot ÷ the limit) is refused at
once rather than after the wait: under overload a refusal comes in milliseconds, not in a second.
Open server/bidi streams are capped at `max_streams` and refused at once past it (a stream holds
its slot for minutes: waiting for one is no use).

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
from collections.abc import AsyncIterator

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
        self.shed = Counter("grpc_server_shed_total", "Calls refused by admission control (RESOURCE_EXHAUSTED).",
                            ["service", "grpc_type", "cause"], registry=registry)


class AdmissionController:
    """Bounded concurrency plus a bounded, time-limited FIFO wait, for one process.

    Limits of 0 mean "no limit". Not thread-safe: it lives on the server's event loop.
    """

    def __init__(self, max_in_flight: int, queue_size: int, queue_timeout_s: float, max_streams: int,
                 metrics: AdmissionMetrics | None = None) -> None:
        if max_in_flight < 0 or queue_size < 0 or max_streams < 0 or queue_timeout_s < 0:
            raise ValueError("admission limits must not be negative")
        self.max_in_flight = max_in_flight
        self.queue_size = queue_size
        self.queue_timeout_s = queue_timeout_s
        self.max_streams = max_streams
        self.metrics = metrics
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
        """Counts a stream in; raises ResourceExhausted SERVER_OVERLOADED at the cap."""
        if self.max_streams and self.streams >= self.max_streams:
            raise self._refuse(kind, "streams_full", f"server overloaded: {self.streams} streams open; retry later")
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
