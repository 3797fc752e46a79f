"""Wires the NMT service together: Triton adapter, model registry, records, servicer."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.backends.inference import InferenceApp, InferenceBackends, open_backends
from services.common.rpc import tls
from services.common.rpc.live_config import LiveConfig
from services.common.settings import CommonSettings
from services.nmt.core import NmtCore
from services.nmt.records import events, write_records
from services.nmt.servicer import NmtServicer
from services.nmt.settings import NmtSettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["NmtService"].full_name


def registry_overrides(settings: NmtSettings) -> dict[str, dict[str, str]]:
    """What settings declare for models that don't declare it themselves."""
    if settings.language_pairs:
        return {settings.model_name: {"task": "translation", "language_pairs": settings.language_pairs}}
    return {}


class NmtApp(InferenceApp):
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: NmtSettings, backends: InferenceBackends, live: LiveConfig | None = None) -> None:
        super().__init__(settings, backends)
        self.live = live
        self.core = NmtCore(settings, backends.triton, backends.registry, live)
        self.servicer = NmtServicer(self.core, backends.records, backends.usage)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_NmtServiceServicer_to_server(self.servicer, server)

    async def listed(self) -> bool:
        """The registry lists at least one translation model."""
        return bool(await self.registry.models("translation"))


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> NmtApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, NmtSettings)
    backends = open_backends("nmt", settings, write_records, MIGRATIONS, registry, stack,
                             registry_overrides(settings), events)
    # Live "nmt" settings from the config service (off when config_target is empty).
    live = LiveConfig(settings.config_target, "nmt", service=settings.service_name,
                      credentials=tls.channel_credentials(settings, settings.config_target))
    live.start()
    stack.push_async_callback(live.close)
    return NmtApp(settings, backends, live)
