"""Wires the ASR service together: Triton adapter, model registry, records, servicer."""

from __future__ import annotations

import contextlib
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.asr.v1 import asr_service_pb2 as pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as pb_grpc
from services.asr.core import AsrCore
from services.asr.records import write_records
from services.asr.sequence import SequenceClient
from services.asr.servicer import AsrServicer
from services.asr.settings import AsrSettings
from services.common.backends.records import RecordSink, database_sink
from services.common.backends.registry import ModelRegistry
from services.common.backends.triton import TritonAdapter
from services.common.backends.usage import UsageMeter
from services.common.errors import DomainError
from services.common.settings import CommonSettings

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AsrService"].full_name


class AsrApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: AsrSettings, triton: TritonAdapter, sequences: SequenceClient,
                 records: RecordSink, usage: UsageMeter | None = None) -> None:
        self.settings = settings
        self.triton = triton
        self.records = records
        self.registry = ModelRegistry(triton, settings.catalog_refresh_s)
        self.core = AsrCore(settings, triton, self.registry)
        self.servicer = AsrServicer(self.core, sequences, records, usage)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_AsrServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        """Ready when Triton serves the unary ASR model and the registry lists it. A Triton that
        went away and came back is re-read at once."""
        if not await self.triton.model_ready(self.settings.model_name):
            self.registry.invalidate()
            return False
        try:
            return any(m.name == self.settings.model_name for m in await self.registry.models("asr"))
        except DomainError:
            return False


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> AsrApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, AsrSettings)
    triton = TritonAdapter(settings.triton_url, settings.triton_timeout_s)
    stack.push_async_callback(triton.close)
    # Streaming calls share the channel; they name their own ceiling (stream_call_timeout_s).
    sequences = SequenceClient(triton)

    records = database_sink("asr", settings, write_records, MIGRATIONS, registry, stack)
    usage = UsageMeter(settings.redis_url, registry)
    stack.push_async_callback(usage.close)
    app = AsrApp(settings, triton, sequences, records, usage)
    # Sequences left open by cancelled streams are ended before the Triton channel closes.
    stack.push_async_callback(app.core.drain_background)
    return app
