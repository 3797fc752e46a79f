"""gRPC clients of the ASR, NMT and TTS services, as the pipeline core's `Backends`.

The calls go through the chassis' `services.common.rpc.downstream`: the caller's request id,
trace context, identity and deadline on every call, UNAVAILABLE retried for unary calls
(never streams), a downstream error turned into the domain error of the same code and
ErrorInfo reason, its field moved into the pipeline request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.common.calls import CallContext, FieldMap
from services.common.errors import Reason, Unavailable
from services.common.rpc import downstream
from services.common.rpc.downstream import DownstreamError, downstream_error
from services.pipeline.settings import PipelineSettings

__all__ = ["DownstreamError", "GrpcBackends", "downstream_error"]

R = TypeVar("R")

SERVICE_NAMES = {
    "asr": asr_pb.DESCRIPTOR.services_by_name["AsrService"].full_name,
    "nmt": nmt_pb.DESCRIPTOR.services_by_name["NmtService"].full_name,
    "tts": tts_pb.DESCRIPTOR.services_by_name["TtsService"].full_name,
}


class GrpcBackends:
    """Channels and stubs to the downstream services, one channel per target."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.settings = settings
        self.targets = {"asr": settings.asr_target, "nmt": settings.nmt_target, "tts": settings.tts_target}
        self.channels = {name: grpc.aio.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ]) for name, target in self.targets.items() if target}
        self.asr = asr_grpc.AsrServiceStub(self.channels["asr"]) if "asr" in self.channels else None
        self.nmt = nmt_grpc.NmtServiceStub(self.channels["nmt"]) if "nmt" in self.channels else None
        self.tts = tts_grpc.TtsServiceStub(self.channels["tts"]) if "tts" in self.channels else None

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def ready(self) -> bool:
        """True when every configured service answers its health check with SERVING."""
        async def serving(name: str) -> bool:
            try:
                answer = await health_pb2_grpc.HealthStub(self.channels[name]).Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAMES[name]), timeout=self.settings.health_timeout_s)
            except grpc.aio.AioRpcError:
                return False
            return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

        if not self.channels:
            return False
        return all(await asyncio.gather(*(serving(name) for name in self.channels)))

    def _stub(self, name: str) -> Any:
        stub = getattr(self, name)
        if stub is None:
            raise Unavailable(f"no {name} service is configured (AI4VC_PIPELINE_{name.upper()}_TARGET)",
                              reason=Reason.BACKEND_UNAVAILABLE, metadata={"service": name})
        return stub

    async def _unary(self, name: str, method: Callable[..., Awaitable[R]], request: Any, call: CallContext,
                     fields: FieldMap) -> R:
        s = self.settings
        return await downstream.unary(name, method, request, call, fields, default_timeout_s=s.call_timeout_s,
                                      retry=downstream.RetryPolicy(s.retry_max_attempts, s.retry_initial_backoff_s,
                                                                   s.retry_max_backoff_s))

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
