"""Prometheus RED metrics (rate, errors, duration) for every RPC, on a metrics port.

Each server gets its own registry, so several servers in one process (tests) don't clash.
A call uses its method's pre-bound children (`RpcMetrics.of`): `.labels(...)` hashes the label
values and takes the metric's lock on every call, which the chassis would otherwise pay four
times per RPC.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MethodMetrics:
    """The children of one (method, type): started, in flight, latency, and handled per code."""

    __slots__ = ("_handled", "_labels", "handled_by_code", "in_flight", "latency", "started")

    def __init__(self, metrics: RpcMetrics, labels: tuple[str, str, str]) -> None:
        self._labels = labels
        self._handled = metrics.handled
        self.started = metrics.started.labels(*labels)
        self.in_flight = metrics.in_flight.labels(*labels)
        self.latency = metrics.latency.labels(*labels)
        self.handled_by_code: dict[str, Any] = {}

    def handled(self, code: str) -> Any:
        child = self.handled_by_code.get(code)
        if child is None:
            child = self.handled_by_code[code] = self._handled.labels(*self._labels, code)
        return child


class RpcMetrics:
    """The RED set plus whatever a service adds through `registry`."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = ["service", "grpc_method", "grpc_type"]
        self.started = Counter("grpc_server_started_total", "RPCs started.", labels, registry=self.registry)
        self.handled = Counter(
            "grpc_server_handled_total", "RPCs completed, by status code.", [*labels, "grpc_code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "grpc_server_handling_seconds", "RPC duration.", labels, buckets=_BUCKETS, registry=self.registry
        )
        self.in_flight = Gauge("grpc_server_in_flight", "RPCs in progress.", labels, registry=self.registry)
        self.service = service
        self._methods: dict[tuple[str, str], MethodMetrics] = {}

    def of(self, method: str, kind: str) -> MethodMetrics:
        """The pre-bound children of `method` called as `kind` (made on first use)."""
        found = self._methods.get((method, kind))
        if found is None:
            found = self._methods[(method, kind)] = MethodMetrics(self, (self.service, method, kind))
        return found

    def serve(self, host: str, port: int) -> int:
        """Starts the /metrics HTTP endpoint and returns its port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)
