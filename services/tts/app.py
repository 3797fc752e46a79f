"""Wires the TTS service together: Triton adapter, model registry, records, servicer."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.tts.v1 import tts_service_pb2 as pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as pb_grpc
from services.common.backends.records import RecordSink, database_sink
from services.common.backends.registry import ModelRegistry
from services.common.backends.triton import TritonAdapter
from services.common.backends.usage import UsageMeter
from services.common.errors import DomainError
from services.common.settings import CommonSettings
from services.tts.core import TtsCore
from services.tts.records import write_records
from services.tts.servicer import TtsServicer
from services.tts.settings import TtsSettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["TtsService"].full_name


class TtsApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: TtsSettings, triton: TritonAdapter, records: RecordSink,
                 usage: UsageMeter | None = None) -> None:
        self.settings = settings
        self.triton = triton
        self.records = records
        self.registry = ModelRegistry(triton, settings.catalog_refresh_s)
        self.core = TtsCore(settings, triton, self.registry)
        self.servicer = TtsServicer(self.core, records, usage)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_TtsServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        """Ready when Triton serves the TTS model and it declares at least one voice. A Triton
        that went away and came back is re-read at once."""
        if not await self.triton.model_ready(self.settings.model_name):
            self.registry.invalidate()
            return False
        try:
            return bool(await self.core.voices())
        except DomainError:
            return False


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> TtsApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, TtsSettings)
    triton = TritonAdapter(settings.triton_url, settings.triton_timeout_s)
    stack.push_async_callback(triton.close)

    records = database_sink("tts", settings, write_records, MIGRATIONS, registry, stack)
    usage = UsageMeter(settings.redis_url, registry)
    stack.push_async_callback(usage.close)
    return TtsApp(settings, triton, records, usage)
