"""Wires the TTS service together: Triton adapter, model registry, records, servicer."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from ai4vc.tts.v1 import tts_service_pb2 as pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as pb_grpc
from services.common import textnorm
from services.common.backends.inference import InferenceApp, InferenceBackends, open_backends
from services.common.settings import CommonSettings
from services.tts.core import TtsCore
from services.tts.records import events, write_records
from services.tts.servicer import TtsServicer
from services.tts.settings import TtsSettings

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["TtsService"].full_name


class TtsApp(InferenceApp):
    service_names = (SERVICE_NAME,)

    def __init__(self, settings: TtsSettings, backends: InferenceBackends) -> None:
        super().__init__(settings, backends)
        # TN grammars load in the background (compiled once into the cache): health does not wait
        # for them; until a language's grammar is ready its numbers are read by the number reader.
        self.tn = textnorm.Grammars("tn", settings.tn_languages, settings.grammar_cache_dir)
        self.tn.start()
        self.core = TtsCore(settings, backends.triton, backends.registry, textnorm.SpeechNormalizer(self.tn))
        self.servicer = TtsServicer(self.core, backends.records, backends.usage)

    def register(self, server: grpc.aio.Server) -> None:
        pb_grpc.add_TtsServiceServicer_to_server(self.servicer, server)

    async def listed(self) -> bool:
        """The TTS model declares at least one voice."""
        return bool(await self.core.voices())


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> TtsApp:
    """Builds the app; resources are closed by `stack` in reverse order of creation."""
    assert isinstance(settings, TtsSettings)
    return TtsApp(settings, open_backends("tts", settings, write_records, MIGRATIONS, registry, stack,
                                          events=events))
