"""Wires the Riva facade together: downstream channels, core, the three Riva servicers."""

from __future__ import annotations

import contextlib

import grpc
from prometheus_client import CollectorRegistry

from riva.proto import riva_asr_pb2, riva_asr_pb2_grpc, riva_nmt_pb2, riva_nmt_pb2_grpc, riva_tts_pb2, riva_tts_pb2_grpc
from services.common.settings import CommonSettings
from services.riva.clients import GrpcBackends
from services.riva.core import RivaCore
from services.riva.servicer import RivaAsrServicer, RivaNmtServicer, RivaTtsServicer
from services.riva.settings import RivaSettings

ASR_SERVICE = riva_asr_pb2.DESCRIPTOR.services_by_name["RivaSpeechRecognition"].full_name
TTS_SERVICE = riva_tts_pb2.DESCRIPTOR.services_by_name["RivaSpeechSynthesis"].full_name
NMT_SERVICE = riva_nmt_pb2.DESCRIPTOR.services_by_name["RivaTranslation"].full_name


class RivaApp:
    service_names = (ASR_SERVICE, TTS_SERVICE, NMT_SERVICE)

    def __init__(self, settings: RivaSettings, backends: GrpcBackends) -> None:
        self.settings = settings
        self.backends = backends
        self.core = RivaCore(settings, backends)

    def register(self, server: grpc.aio.Server) -> None:
        riva_asr_pb2_grpc.add_RivaSpeechRecognitionServicer_to_server(RivaAsrServicer(self.core), server)
        riva_tts_pb2_grpc.add_RivaSpeechSynthesisServicer_to_server(RivaTtsServicer(self.core), server)
        riva_nmt_pb2_grpc.add_RivaTranslationServicer_to_server(RivaNmtServicer(self.core), server)

    async def ready(self) -> bool:
        """Ready when every configured downstream service answers its health check SERVING."""
        return await self.backends.ready()


async def create(
    settings: CommonSettings, stack: contextlib.AsyncExitStack, registry: CollectorRegistry | None = None
) -> RivaApp:
    """Builds the app; the downstream channels are closed by `stack`."""
    assert isinstance(settings, RivaSettings)
    backends = GrpcBackends(settings)
    stack.push_async_callback(backends.close)
    return RivaApp(settings, backends)
