"""Wires the pipeline service together: downstream channels, core, servicer."""

from __future__ import annotations

import contextlib

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pb_grpc
from services.common.settings import CommonSettings
from services.pipeline.clients import GrpcBackends
from services.pipeline.core import PipelineCore
from services.pipeline.servicer import PipelineServicer
from services.pipeline.settings import PipelineSettings

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PipelineService"].full_name


class PipelineApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: PipelineSettings, backends: GrpcBackends) -> None:
        self.settings = settings
        self.backends = backends
        self.core = PipelineCore(settings, backends)
        self.servicer = PipelineServicer(self.core)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_PipelineServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        """Ready when every configured downstream service answers its health check SERVING."""
        return await self.backends.ready()


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> PipelineApp:
    """Builds the app; the downstream channels are closed by `stack`."""
    assert isinstance(settings, PipelineSettings)
    backends = GrpcBackends(settings)
    stack.push_async_callback(backends.close)
    return PipelineApp(settings, backends)
