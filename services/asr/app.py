"""Wires the ASR service together: the inference backends (Triton, model registry, records,
usage), the sequence client for streams, core and servicer."""

from __future__ import annotations

import contextlib
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.asr.v1 import asr_service_pb2 as pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as pb_grpc
from services.asr.core import AsrCore
from services.asr.records import events, write_records
from services.asr.sequence import SequenceClient
from services.asr.servicer import AsrServicer
from services.asr.settings import AsrSettings
from services.common import textnorm
from services.common.backends.inference import InferenceApp, InferenceBackends, open_backends
from services.common.rpc.admission import LagProbe
from services.common.settings import CommonSettings

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AsrService"].full_name


class AsrApp(InferenceApp):
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: AsrSettings, backends: InferenceBackends) -> None:
        super().__init__(settings, backends)
        # ITN grammars load in the background (compiled once into the cache): health does not
        # wait for them; ListModels reports a language once its grammar is ready.
        self.itn = textnorm.Grammars("itn", settings.itn_languages, settings.grammar_cache_dir)
        self.itn.start()
        self.core = AsrCore(settings, backends.triton, backends.registry, self.itn)
        # Live streams report how far they are behind real time; admission refuses new streams
        # while they fall behind (build_server takes this probe: rpc/server.py stream_lag_of).
        self.stream_lag = LagProbe(settings.stream_lag_window_s)
        # Streaming calls share the channel; they name their own ceiling (stream_call_timeout_s).
        self.servicer = AsrServicer(self.core, SequenceClient(backends.triton), backends.records, backends.usage,
                                    self.stream_lag)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_AsrServiceServicer_to_server(self.servicer, server)

    async def listed(self) -> bool:
        """The registry lists the unary ASR model."""
        return any(m.name == self.settings.model_name for m in await self.registry.models("asr"))


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> AsrApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, AsrSettings)
    app = AsrApp(settings, open_backends("asr", settings, write_records, MIGRATIONS, registry, stack,
                                          events=events))
    # Sequences left open by cancelled streams are ended before the Triton channel closes.
    stack.push_async_callback(app.core.drain_background)
    return app
