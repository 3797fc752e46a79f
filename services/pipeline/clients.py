"""gRPC clients of the ASR, NMT and TTS services, as the pipeline core's `Backends`.

The calls go through the chassis' `services.common.rpc.downstream`: the caller's request id,
trace context, identity and deadline on every call, UNAVAILABLE retried for unary calls
(never streams), a downstream error turned into the domain error of the same code and
ErrorInfo reason, its field moved into the pipeline request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.common.calls import CallContext, FieldMap
from services.common.rpc import downstream
from services.common.rpc.downstream import DownstreamError, downstream_error
from services.pipeline.settings import PipelineSettings

__all__ = ["DownstreamError", "GrpcBackends", "downstream_error"]

R = TypeVar("R")



class GrpcBackends:
    """Channels and stubs to the downstream services, one channel per target."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.channels = settings.channels()
        found = self.channels.channels
        self.asr = asr_grpc.AsrServiceStub(found["asr"]) if "asr" in found else None
        self.nmt = nmt_grpc.NmtServiceStub(found["nmt"]) if "nmt" in found else None
        self.tts = tts_grpc.TtsServiceStub(found["tts"]) if "tts" in found else None

    async def close(self) -> None:
        await self.channels.close()

    async def ready(self) -> bool:
        return await self.channels.ready()

    def _stub(self, name: str) -> Any:
        if name not in self.channels:
            self.channels.get(name)  # not configured: UNAVAILABLE naming the setting
        return getattr(self, name)

    async def _unary(self, name: str, method: Callable[..., Awaitable[R]], request: Any, call: CallContext,
                     fields: FieldMap) -> R:
        s = self.settings
        return await downstream.unary(name, method, request, call, fields, default_timeout_s=s.call_timeout_s,
                                      retry=s.retry_policy())

    async def recognize(self, request: asr_pb.RecognizeRequest, call: CallContext, fields: FieldMap
                        ) -> asr_pb.RecognizeResponse:
        return await self._unary("asr", self._stub("asr").Recognize, request, call, fields)

    async def translate(self, request: nmt_pb.TranslateTextRequest, call: CallContext, fields: FieldMap
                        ) -> nmt_pb.TranslateTextResponse:
        return await self._unary("nmt", self._stub("nmt").TranslateText, request, call, fields)

    async def synthesize(self, request: tts_pb.SynthesizeRequest, call: CallContext, fields: FieldMap
                         ) -> tts_pb.SynthesizeResponse:
        return await self._unary("tts", self._stub("tts").Synthesize, request, call, fields)

    def streaming_recognize(self, requests: AsyncIterator[asr_pb.StreamingRecognizeRequest], call: CallContext,
                            fields: FieldMap) -> AsyncIterator[asr_pb.StreamingRecognizeResponse]:
        rpc = self._stub("asr").StreamingRecognize(requests, timeout=call.timeout(self.settings.stream_timeout_s),
                                                   metadata=call.metadata)
        return downstream.read_stream("asr", rpc, fields)

    def streaming_synthesize(self, request: tts_pb.StreamingSynthesizeRequest, call: CallContext,
                             fields: FieldMap) -> AsyncIterator[tts_pb.StreamingSynthesizeResponse]:
        rpc = self._stub("tts").StreamingSynthesize(request, timeout=call.timeout(self.settings.call_timeout_s),
                                                    metadata=call.metadata)
        return downstream.read_stream("tts", rpc, fields)
