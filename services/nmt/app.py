"""Wires the NMT service together: Triton adapter, model registry, records, servicer."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.backends.records import RecordSink, database_sink
from services.common.backends.registry import ModelRegistry
from services.common.backends.triton import TritonAdapter
from services.common.backends.usage import UsageMeter
from services.common.errors import DomainError
from services.common.settings import CommonSettings
from services.nmt.core import NmtCore
from services.nmt.records import write_records
from services.nmt.servicer import NmtServicer
from services.nmt.settings import NmtSettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["NmtService"].full_name


def build_registry(settings: NmtSettings, triton: TritonAdapter) -> ModelRegistry:
    """The registry, with what settings declare for models that don't declare it themselves."""
    overrides = {}
    if settings.language_pairs:
        overrides[settings.model_name] = {"task": "translation", "language_pairs": settings.language_pairs}
    return ModelRegistry(triton, settings.catalog_refresh_s, overrides)


class NmtApp:
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: NmtSettings, triton: TritonAdapter, records: RecordSink,
                 usage: UsageMeter | None = None) -> None:
        self.settings = settings
        self.triton = triton
        self.records = records
        self.registry = build_registry(settings, triton)
        self.core = NmtCore(settings, triton, self.registry)
        self.servicer = NmtServicer(self.core, records, usage)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_NmtServiceServicer_to_server(self.servicer, server)

    async def ready(self) -> bool:
        """Ready when Triton serves at least one translation model. A Triton that went away
        and came back (new model instances) is re-read at once."""
        if not await self.triton.model_ready(self.settings.model_name):
            self.registry.invalidate()
            return False
        try:
            return bool(await self.registry.models("translation"))
        except DomainError:
            return False


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> NmtApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, NmtSettings)
    triton = TritonAdapter(settings.triton_url, settings.triton_timeout_s)
    stack.push_async_callback(triton.close)

    records = database_sink("nmt", settings, write_records, MIGRATIONS, registry, stack)
    usage = UsageMeter(settings.redis_url, registry)
    stack.push_async_callback(usage.close)
    return NmtApp(settings, triton, records, usage)
