"""One factory for every server, and the lifecycle every service shares.

`build_server` gives a grpc.aio server with health, reflection, tracing and the chassis
interceptor, bound to `settings.host:settings.port` (port 0 in tests). `serve` runs an `App`:
readiness checks drive health SERVING/NOT_SERVING; SIGTERM or SIGINT → health NOT_SERVING →
`server.stop(grace)` → the app's resources close in reverse order of creation.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace
from prometheus_client import CollectorRegistry

from services.common import logs, tracing
from services.common.metrics import RpcMetrics
from services.common.rpc import tls
from services.common.rpc.admission import AdmissionController, AdmissionMetrics, LagProbe
from services.common.rpc.interceptors import ServerInterceptor
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)


def _in_pool(pool: descriptor_pool.DescriptorPool, name: str) -> bool:
    try:
        pool.FindServiceByName(name)
    except KeyError:
        return False
    return True


@dataclasses.dataclass
class ServerHandle:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    metrics: RpcMetrics
    service_names: tuple[str, ...]
    metrics_port: int | None = None
    admission: AdmissionController | None = None

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.service_names):
            await self.health.set(name, status)


async def build_server(
    settings: CommonSettings,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    metrics: RpcMetrics | None = None,
    reflection_names: Sequence[str] = (),
    stream_lag: LagProbe | None = None,
) -> ServerHandle:
    """Builds (does not start) a server for the servicers that `register` adds. `stream_lag`: the
    probe the app's streams report their lag to (see `App`), which admission sheds new streams by."""
    tracing.configure(settings.service_name, settings.tracing_exporter, settings.otlp_endpoint,
                      settings.tracing_sample_ratio,
                      credentials=tls.channel_credentials(settings, settings.otlp_endpoint))
    from opentelemetry.instrumentation.grpc import filters

    metrics = metrics or RpcMetrics(settings.service_name)
    # One controller per process (one server per process): bounded work, a bounded wait, then
    # RESOURCE_EXHAUSTED, so a flood cannot make every admitted call slow.
    admission = AdmissionController(settings.max_in_flight_calls, settings.admission_queue_size,
                                    settings.admission_queue_timeout_s, settings.max_open_streams,
                                    AdmissionMetrics(metrics.service, metrics.registry),
                                    stream_lag, settings.stream_shed_lag_s)
    interceptors: list[grpc.aio.ServerInterceptor] = [ServerInterceptor(metrics, admission)]
    if settings.tracing:
        # A server span per call, continuing the caller's traceparent; none for health probes
        # (every second, per upstream, from Envoy: noise, and the cost of a span each).
        interceptors.insert(0, tracing.server_interceptor(filters.negate(filters.health_check())))
    server = grpc.aio.server(
        interceptors=interceptors,
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            # Callers balance over the replicas their target resolves to (rpc/balancing.py) and
            # resolve again only when a connection ends: a GOAWAY every ~5 min (calls in flight
            # finish; no grace limit) lets them find replicas added since (compose --scale, a
            # Kubernetes headless Service).
            ("grpc.max_connection_age_ms", 300_000),
        ],
    )
    register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(service_names)
    # Reflection lists what it can describe: a health name with no proto service behind it (the
    # gateway's `ai4vc.gateway.ControlPlane`) would show in `grpcurl list` and fail `describe`.
    pool = descriptor_pool.Default()
    described = [n for n in (*names, *reflection_names) if _in_pool(pool, n)]
    reflection.enable_server_reflection(
        (*described, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    # Mesh mTLS (settings.mesh_tls_*): TLS only, and only for clients with a certificate of the
    # mesh CA (Envoy, other services) — one place, so every service binds the same way.
    credentials = tls.server_credentials(settings)
    address = f"{settings.host}:{settings.port}"
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind {settings.host}:{settings.port}")
    handle = ServerHandle(server, port, health_servicer, metrics, names, admission=admission)
    await handle.set_serving(False)
    if settings.metrics_port >= 0:
        handle.metrics_port = metrics.serve(settings.host, settings.metrics_port)
    return handle


class App(Protocol):
    """What a service gives `serve`: its servicers, names, readiness and resources."""

    # Optional, not declared here: `reflection_names`, further services this server describes
    # through reflection without serving them (the gateway describes the whole public API);
    # `stream_lag`, the `LagProbe` its streams report their lag behind real time to (ASR), for
    # admission to refuse new streams while they fall behind (`stream_lag_of`).

    @property
    def service_names(self) -> Sequence[str]: ...

    def register(self, server: grpc.aio.Server) -> None: ...

    async def ready(self) -> bool: ...


async def watch_readiness(handle: ServerHandle, ready: Callable[[], Awaitable[bool]], interval_s: float = 1.0) -> None:
    """Keeps health in step with the app's readiness (e.g. Triton going away and back)."""
    serving: bool | None = None
    while True:
        try:
            now = await asyncio.wait_for(ready(), timeout=max(interval_s, 2.0))
        except Exception:  # noqa: BLE001 - a failing check means not ready
            now = False
        if now != serving:
            await handle.set_serving(now)
            log.info("health %s", "SERVING" if now else "NOT_SERVING")
            serving = now
        await asyncio.sleep(interval_s)


def stream_lag_of(app: App) -> LagProbe | None:
    """The app's stream lag probe, when its streams report one."""
    return getattr(app, "stream_lag", None)


def bind_health(app: App, handle: ServerHandle) -> None:
    """Gives the server's health servicer the components an app reports beside its own status (the
    record spool, `records.SPOOL_HEALTH_NAME`), when the app has any."""
    bind = getattr(app, "bind_health", None)
    if bind is not None:
        bind(handle.health)


async def serve(
    settings: CommonSettings,
    make_app: Callable[[Any, contextlib.AsyncExitStack, CollectorRegistry], Awaitable[App]],
) -> None:
    """Runs one service until SIGTERM/SIGINT, then shuts it down gracefully."""
    logs.configure(settings.service_name, settings.log_level, settings.log_json,
                   settings.otlp_endpoint if settings.log_exporter == "otlp" else "",
                   credentials=tls.channel_credentials(settings, settings.otlp_endpoint))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        metrics = RpcMetrics(settings.service_name)
        app = await make_app(settings, stack, metrics.registry)
        handle = await build_server(settings, app.register, app.service_names, metrics,
                                    getattr(app, "reflection_names", ()), stream_lag_of(app))
        bind_health(app, handle)
        await handle.server.start()
        watcher = asyncio.create_task(watch_readiness(handle, app.ready))
        log.info(
            "serving",
            extra={"port": handle.port, "metrics_port": handle.metrics_port, "services": ",".join(app.service_names)},
        )
        await stop.wait()
        log.info("shutting down", extra={"grace_s": settings.grace_period_s})
        watcher.cancel()
        await handle.set_serving(False)
        await handle.server.stop(settings.grace_period_s)
    log.info("stopped")
    # What is still queued for the telemetry service goes now (bounded; dropped if it is away).
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush(2000)
    logging.shutdown()
