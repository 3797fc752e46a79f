"""Dashboard domain core: assembles the overview from its sources (replica health, Prometheus,
Triton, alerts, usage), each behind a deadline so that a slow or dead one empties its own section
only, and caches the result for a few seconds with one computation shared by concurrent callers.

No grpc here: the sources (`services.dashboard.sources`) are handed in behind the protocols below.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from services.common.callers import Caller
from services.common.errors import InvalidArgument, Reason
from services.dashboard.settings import Target

log = logging.getLogger(__name__)

AVAILABLE, UNAVAILABLE, NOT_CONFIGURED = "available", "unavailable", "not_configured"
SERVING, DEGRADED, NOT_SERVING, UNREACHABLE, UNKNOWN = "serving", "degraded", "not_serving", "unreachable", "unknown"
DEFAULT_TOP_KEYS, MAX_TOP_KEYS = 10, 100
# Health probes and reflection are not traffic.
NOT_TRAFFIC = 'grpc_method!~"/grpc[.](health|reflection)[.].*"'
QUERIES = {
    "rate": f"sum by (service) (rate(grpc_server_handled_total{{{NOT_TRAFFIC}}}[1m]))",
    "errors": f"sum by (service) (rate(grpc_server_handled_total{{{NOT_TRAFFIC},grpc_code!=\"OK\"}}[1m]))",
    "p50": "histogram_quantile(0.5, sum by (service, le) (rate(grpc_server_handling_seconds_bucket"
           f"{{{NOT_TRAFFIC},grpc_type=\"unary\"}}[1m])))",
    "p99": "histogram_quantile(0.99, sum by (service, le) (rate(grpc_server_handling_seconds_bucket"
           f"{{{NOT_TRAFFIC},grpc_type=\"unary\"}}[1m])))",
    "streams": "sum by (service) (grpc_server_in_flight{grpc_type!=\"unary\"})",
    "alerts": 'ALERTS{alertstate="firing"}',
}


# -- what the sources answer ---------------------------------------------------------------------

class Health(Protocol):
    async def check(self, target: Target, timeout_s: float) -> str:
        """SERVING, NOT_SERVING or UNREACHABLE (never raises)."""


class Prometheus(Protocol):
    async def query(self, expr: str, timeout_s: float) -> list[tuple[dict[str, str], float]]:
        """An instant vector: (labels, value) per series."""


class Alertmanager(Protocol):
    async def firing(self, timeout_s: float) -> list[Alert]: ...


class Triton(Protocol):
    async def models(self, timeout_s: float) -> list[Model]: ...


class Usage(Protocol):
    async def top_keys(self, forward: Sequence[tuple[str, str]], day_start: datetime.datetime,
                       timeout_s: float) -> list[KeyUsage]:
        """Every key's usage since `day_start`, asked as the caller (`forward`: its identity)."""


@dataclasses.dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    summary: str
    start: datetime.datetime | None
    source: str
    labels: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Model:
    name: str
    version: str
    ready: bool
    state: str
    reason: str


@dataclasses.dataclass(frozen=True)
class KeyUsage:
    key_id: str
    request_count: int
    error_count: int
    characters: int
    audio_seconds: float


@dataclasses.dataclass(frozen=True)
class Section:
    state: str
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Traffic:
    request_rate: float = 0.0
    error_ratio: float = 0.0
    p50_s: float | None = None
    p99_s: float | None = None
    open_streams: int = 0


@dataclasses.dataclass(frozen=True)
class ServiceView:
    name: str
    grpc_service: str
    state: str
    replicas: list[tuple[str, str]]  # (address, state)
    traffic: Traffic


@dataclasses.dataclass(frozen=True)
class Shared:
    """The caller-independent part of the overview."""

    computed: datetime.datetime
    services: list[ServiceView]
    health: Section
    traffic: Section
    models: list[Model]
    triton: Section
    alerts: list[Alert]
    alerts_status: Section
    total_rate: float
    total_error_ratio: float


@dataclasses.dataclass(frozen=True)
class Overview:
    shared: Shared
    top_keys: list[KeyUsage]
    usage: Section


# -- the cache ------------------------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Values kept `ttl_s` from the start of their computation; while one is computed, every
    caller of the same key awaits that one computation (a caller that gives up does not cancel
    it for the others). At most `max_entries` keys are kept (the oldest go first)."""

    def __init__(self, ttl_s: float, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self.computations = 0
        self._values: dict[K, tuple[float, V]] = {}
        self._running: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        kept = self._values.get(key)
        if kept is not None and self.clock() - kept[0] < self.ttl_s:
            return kept[1]
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self._compute(key, compute))
            self._running[key] = running
        return await asyncio.shield(running)

    async def _compute(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        started = self.clock()
        self.computations += 1
        try:
            value = await compute()
            self._values.pop(key, None)
            self._values[key] = (started, value)
            while len(self._values) > self.max_entries:
                del self._values[next(iter(self._values))]
            return value
        finally:
            del self._running[key]


# -- the core -------------------------------------------------------------------------------------

def check_top_key_count(value: int) -> int:
    if value < 0:
        raise InvalidArgument("top_key_count must not be negative", reason=Reason.FIELD_OUT_OF_RANGE,
                              field="top_key_count")
    return DEFAULT_TOP_KEYS if value == 0 else min(value, MAX_TOP_KEYS)


def _summarize(states: Sequence[str]) -> str:
    if not states:
        return UNKNOWN
    if all(s == SERVING for s in states):
        return SERVING
    if any(s == SERVING for s in states):
        return DEGRADED
    return NOT_SERVING if any(s == NOT_SERVING for s in states) else UNREACHABLE


def _detail(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "did not answer in time"
    return (str(exc) or type(exc).__name__)[:200]


async def _absent() -> tuple[None, Section]:
    return None, Section(NOT_CONFIGURED)


class DashboardCore:
    def __init__(self, targets: Sequence[Target], health: Health, prometheus: Prometheus | None,
                 alertmanager: Alertmanager | None, triton: Triton | None, usage: Usage | None,
                 cache_ttl_s: float = 5.0, source_timeout_s: float = 2.0) -> None:
        self.targets = list(targets)
        self.health, self.prometheus, self.alertmanager = health, prometheus, alertmanager
        self.triton, self.usage = triton, usage
        self.timeout_s = source_timeout_s
        self.shared: SingleFlight[str, Shared] = SingleFlight(cache_ttl_s)
        self.usage_cache: SingleFlight[tuple[str, frozenset[str]], tuple[list[KeyUsage], Section]] = \
            SingleFlight(cache_ttl_s)

    async def overview(self, caller: Caller, forward: Sequence[tuple[str, str]], top_key_count: int) -> Overview:
        """The overview for `caller` (who needs the dashboard scope); `forward` is its identity
        as headers, passed on to the metrics service."""
        caller.require_scope("dashboard", "the dashboard needs the dashboard or admin scope")
        count = check_top_key_count(top_key_count)
        shared, (keys, usage) = await asyncio.gather(
            self.shared.get("", self._compute_shared),
            self.usage_cache.get((caller.principal, caller.scopes), lambda: self._compute_usage(forward)))
        return Overview(shared, keys[:count], usage)

    async def _guard(self, what: str, call: Awaitable[Any]) -> tuple[Any, Section]:
        """`call`'s value and AVAILABLE, or None and UNAVAILABLE (with why) past the deadline or on error."""
        try:
            return await asyncio.wait_for(call, self.timeout_s + 0.5), Section(AVAILABLE)
        except Exception as exc:  # noqa: BLE001 - any failing source empties its section only
            log.info("dashboard source %s unavailable: %s", what, _detail(exc))
            return None, Section(UNAVAILABLE, f"{what}: {_detail(exc)}")

    async def _compute_shared(self) -> Shared:
        computed = datetime.datetime.now(datetime.UTC)
        health, traffic, triton, alerts = await asyncio.gather(
            self._guard("health", self._health()),
            self._guard("prometheus", self._traffic()) if self.prometheus else _absent(),
            self._guard("triton", self.triton.models(self.timeout_s)) if self.triton else _absent(),
            self._alerts())
        states, health_status = health
        per_service, traffic_status = traffic
        per_service = per_service or {}
        names: list[str] = []
        for target in self.targets:
            if target.name not in names:
                names.append(target.name)
        views = []
        for name in names:
            mine = [(i, t) for i, t in enumerate(self.targets) if t.name == name]
            replicas = [(t.address, states[i] if states else UNKNOWN) for i, t in mine]
            grpc_service = mine[0][1].check if mine[0][1].kind == "grpc" else ""
            views.append(ServiceView(name, grpc_service, _summarize([s for _, s in replicas if s != UNKNOWN]),
                                     replicas, per_service.get(name, Traffic())))
        total_rate = sum(t.request_rate for t in per_service.values())
        total_errors = sum(t.request_rate * t.error_ratio for t in per_service.values())
        models, triton_status = triton
        firing, alerts_status = alerts
        return Shared(computed, views, health_status, traffic_status, models or [], triton_status, firing,
                      alerts_status, total_rate, total_errors / total_rate if total_rate > 0 else 0.0)

    async def _health(self) -> list[str]:
        return list(await asyncio.gather(*(self.health.check(t, self.timeout_s) for t in self.targets)))

    async def _traffic(self) -> dict[str, Traffic]:
        assert self.prometheus is not None
        names = ("rate", "errors", "p50", "p99", "streams")
        answers = await asyncio.gather(*(self.prometheus.query(QUERIES[n], self.timeout_s) for n in names))
        by: dict[str, dict[str, float]] = {}
        for name, answer in zip(names, answers, strict=True):
            for labels, value in answer:
                if value == value:  # NaN: a quantile without traffic
                    by.setdefault(labels.get("service", ""), {})[name] = value
        # The WebSocket bridge names itself "ws-bridge" in its metrics; the mesh calls it wsbridge.
        out = {}
        for service, values in by.items():
            rate = values.get("rate", 0.0)
            out[service.replace("ws-bridge", "wsbridge")] = Traffic(
                request_rate=rate, error_ratio=min(1.0, values.get("errors", 0.0) / rate) if rate > 0 else 0.0,
                p50_s=values.get("p50"), p99_s=values.get("p99"), open_streams=round(values.get("streams", 0.0)))
        return out

    async def _alerts(self) -> tuple[list[Alert], Section]:
        if self.prometheus is None and self.alertmanager is None:
            return [], Section(NOT_CONFIGURED)
        prometheus = self.prometheus
        found: list[Alert] = []
        details = []
        if prometheus is not None:
            series, status = await self._guard("prometheus", prometheus.query(QUERIES["alerts"], self.timeout_s))
            if series is None:
                details.append(status.detail)
            for labels, _value in series or []:
                found.append(Alert(labels.get("alertname", ""), labels.get("severity", ""), "", None, "prometheus",
                                   {k: v for k, v in labels.items() if k != "__name__"}))
        if self.alertmanager is not None:
            managed, status = await self._guard("alertmanager", self.alertmanager.firing(self.timeout_s))
            if managed is None:
                details.append(status.detail)
            else:
                # Alertmanager knows more (summary, start): its copy of an alert replaces Prometheus's.
                keys = {(a.name, tuple(sorted((k, v) for k, v in a.labels.items()))) for a in managed}
                found = [a for a in found if (a.name, tuple(sorted(
                    (k, v) for k, v in a.labels.items() if k != "alertstate"))) not in keys] + list(managed)
        oldest = datetime.datetime.max.replace(tzinfo=datetime.UTC)
        found.sort(key=lambda a: (a.start or oldest, a.name))
        return found, Section(UNAVAILABLE, "; ".join(details)) if details and not found else Section(
            AVAILABLE, "; ".join(details))

    async def _compute_usage(self, forward: Sequence[tuple[str, str]]) -> tuple[list[KeyUsage], Section]:
        if self.usage is None:
            return [], Section(NOT_CONFIGURED)
        day = datetime.datetime.now(datetime.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        keys, status = await self._guard("metrics", self.usage.top_keys(forward, day, self.timeout_s))
        if keys is None:
            return [], status
        ordered = sorted(keys, key=lambda k: (-k.request_count, k.key_id))
        return ordered[:MAX_TOP_KEYS], status
