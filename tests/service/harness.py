"""Runs one service in-process, the production way: its app factory, `build_server`, the
chassis interceptors, on an ephemeral port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.metrics import RpcMetrics
from services.common.rpc.server import App, ServerHandle, bind_health, build_server, stream_lag_of
from services.common.settings import CommonSettings


@contextlib.asynccontextmanager
async def running(
    settings: CommonSettings, make_app: Callable[..., Awaitable[App]]
) -> AsyncIterator[tuple[App, ServerHandle, grpc.aio.Channel]]:
    async with contextlib.AsyncExitStack() as stack:
        metrics = RpcMetrics(settings.service_name)
        app = await make_app(settings, stack, metrics.registry)
        handle = await build_server(settings, app.register, app.service_names, metrics, stream_lag=stream_lag_of(app))
        await handle.server.start()
        bind_health(app, handle)
        await handle.set_serving(await app.ready())
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{handle.port}")
        try:
            yield app, handle, channel
        finally:
            await channel.close()
            await handle.server.stop(0)


async def health_status(channel: grpc.aio.Channel, service: str = "") -> int:
    answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return int(answer.status)
