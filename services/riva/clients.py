"""gRPC clients of our asr, tts and nmt services, as the Riva core's `Backends`: every call goes
through the chassis' `services.common.rpc.downstream` (the caller's request id, trace context,
identity and deadline; UNAVAILABLE retried for unary calls, never for streams; a downstream
error becomes the domain error of the same code and reason, its field renamed into Riva's
request)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.common.calls import CallContext, FieldMap
from services.common.rpc import downstream
from services.riva.settings import RivaSettings

_STUBS: dict[str, Any] = {"asr": asr_grpc.AsrServiceStub, "tts": tts_grpc.TtsServiceStub,
                          "nmt": nmt_grpc.NmtServiceStub}


class GrpcBackends:
    """One channel and stub per configured downstream service."""

    def __init__(self, settings: RivaSettings) -> None:
        self.settings = settings
        self.channels = settings.channels()
        self.stubs = {name: _STUBS[name](channel) for name, channel in self.channels.channels.items()}
        self.retry = settings.retry_policy()

    async def close(self) -> None:
        await self.channels.close()

    async def ready(self) -> bool:
        return await self.channels.ready()

    def _method(self, service: str, method: str) -> Any:
        if service not in self.stubs:
            self.channels.get(service)  # not configured: UNAVAILABLE naming the setting
        return getattr(self.stubs[service], method)

    async def unary(self, service: str, method: str, request: Any, call: CallContext, fields: FieldMap) -> Any:
        return await downstream.unary(service, self._method(service, method), request, call, fields,
                                      default_timeout_s=self.settings.call_timeout_s, retry=self.retry)

    def stream(self, service: str, method: str, request: Any, call: CallContext, fields: FieldMap
               ) -> AsyncIterator[Any]:
        rpc = self._method(service, method)(request, timeout=call.timeout(self.settings.stream_timeout_s),
                                            metadata=call.metadata)
        return downstream.read_stream(service, rpc, fields)
