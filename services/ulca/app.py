"""Wires the ULCA facade together: downstream channels, core, servicer."""

from __future__ import annotations

import contextlib

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.ulca.v1 import ulca_service_pb2 as pb
from ai4vc.ulca.v1 import ulca_service_pb2_grpc as pb_grpc
from services.common.settings import CommonSettings
from services.ulca.clients import GrpcBackends
from services.ulca.core import UlcaCore
from services.ulca.servicer import UlcaServicer
from services.ulca.settings import UlcaSettings

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["UlcaService"].full_name


class UlcaApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: UlcaSettings, backends: GrpcBackends) -> None:
        self.settings = settings
        self.backends = backends
        self.core = UlcaCore(settings, backends)
        self.servicer = UlcaServicer(self.core)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_UlcaServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        """Ready when every configured downstream service answers its health check SERVING."""
        return await self.backends.ready()


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> UlcaApp:
    """Builds the app; the downstream channels are closed by `stack`."""
    assert isinstance(settings, UlcaSettings)
    backends = GrpcBackends(settings)
    stack.push_async_callback(backends.close)
    return UlcaApp(settings, backends)
