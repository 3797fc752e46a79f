"""Prometheus RED metrics (rate, errors, duration) for every RPC, on a metrics port.

Each server gets its own registry, so several servers in one process (tests) don't clash.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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

    def serve(self, host: str, port: int) -> int:
        """Starts the /metrics HTTP endpoint and returns its port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)
