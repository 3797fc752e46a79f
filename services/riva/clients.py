"""gRPC clients of our asr, tts and nmt services, as the Riva core's `Backends`: every call goes
through the chassis' `services.common.rpc.downstream` (the caller's request id, trace context,
identity and deadline; UNAVAILABLE retried for unary calls, never for streams; a downstream
error becomes the domain error of the same code and reason, its field renamed into Riva's
request)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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
from services.riva.settings import RivaSettings

SERVICE_NAMES = {
    "asr": asr_pb.DESCRIPTOR.services_by_name["AsrService"].full_name,
    "tts": tts_pb.DESCRIPTOR.services_by_name["TtsService"].full_name,
    "nmt": nmt_pb.DESCRIPTOR.services_by_name["NmtService"].full_name,
}
_STUBS: dict[str, Any] = {"asr": asr_grpc.AsrServiceStub, "tts": tts_grpc.TtsServiceStub,
                          "nmt": nmt_grpc.NmtServiceStub}


class GrpcBackends:
    """One channel and stub per configured downstream service."""

    def __init__(self, settings: RivaSettings) -> None:
        self.settings = settings
        targets = {"asr": settings.asr_target, "tts": settings.tts_target, "nmt": settings.nmt_target}
        self.channels = {name: grpc.aio.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
        ]) for name, target in targets.items() if target}
        self.stubs = {name: _STUBS[name](channel) for name, channel in self.channels.items()}
        self.retry = downstream.RetryPolicy(settings.retry_max_attempts, settings.retry_initial_backoff_s,
                                            settings.retry_max_backoff_s)

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

    def _method(self, service: str, method: str) -> Any:
        stub = self.stubs.get(service)
        if stub is None:
            raise Unavailable(f"no {service} service is configured (AI4VC_RIVA_{service.upper()}_TARGET)",
                              reason=Reason.BACKEND_UNAVAILABLE, metadata={"service": service})
        return getattr(stub, method)

    async def unary(self, service: str, method: str, request: Any, call: CallContext, fields: FieldMap) -> Any:
        return await downstream.unary(service, self._method(service, method), request, call, fields,
                                      default_timeout_s=self.settings.call_timeout_s, retry=self.retry)

    def stream(self, service: str, method: str, request: Any, call: CallContext, fields: FieldMap
               ) -> AsyncIterator[Any]:
        rpc = self._method(service, method)(request, timeout=call.timeout(self.settings.stream_timeout_s),
                                            metadata=call.metadata)
        return downstream.read_stream(service, rpc, fields)
