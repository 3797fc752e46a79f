"""gRPC clients of the ASR, NMT and TTS services, as the pipeline core's `Backends`.

Every call carries the caller's request id, trace context and identity metadata and a
deadline from the caller's remaining time. Unary calls that answer UNAVAILABLE are retried
with capped, full-jitter backoff; streams never are. A downstream error becomes the domain
error of the same code and ErrorInfo reason, its field moved into the pipeline request.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.common.errors import (
    Code,
    DeadlineExceeded,
    DomainError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    Reason,
    ResourceExhausted,
    Unavailable,
)
from services.pipeline.core import CallContext, FieldMap
from services.pipeline.settings import PipelineSettings

R = TypeVar("R")

SERVICE_NAMES = {
    "asr": asr_pb.DESCRIPTOR.services_by_name["AsrService"].full_name,
    "nmt": nmt_pb.DESCRIPTOR.services_by_name["NmtService"].full_name,
    "tts": tts_pb.DESCRIPTOR.services_by_name["TtsService"].full_name,
}

_CLASSES: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.INTERNAL: Internal,
}


class DownstreamError(DomainError):
    """A downstream status the chassis has no class for (PERMISSION_DENIED, OUT_OF_RANGE, …):
    passed on with its own code."""

    def __init__(self, code: int, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.code = Code(code)


def downstream_error(exc: grpc.aio.AioRpcError, service: str, fields: FieldMap) -> DomainError:
    """The domain error to answer for a failed downstream call: same code and reason, the
    field moved into the pipeline request, the downstream's own field kept in metadata."""
    code = exc.code()
    info: error_details_pb2.ErrorInfo | None = None
    retry_after_s: float | None = None
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            retry_after_s = retry.retry_delay.ToNanoseconds() / 1e9
    metadata = dict(info.metadata) if info is not None else {}
    metadata.pop("request_id", None)
    downstream_field = metadata.pop("field", "")
    metadata["service"] = service
    field = None
    if downstream_field:
        field = fields(downstream_field)
        metadata["downstream_field"] = downstream_field
    message = f"{service}: {exc.details() or code.name}"
    if info is not None and info.reason:
        reason = info.reason
    elif code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
        # No rich status: the service itself could not be reached (or dropped the call).
        reason, retry_after_s = "BACKEND_UNAVAILABLE", retry_after_s or 1.0
        message = f"the {service} service is unavailable"
        code = grpc.StatusCode.UNAVAILABLE
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        reason, message = "BACKEND_TIMEOUT", f"the {service} service did not answer in time"
    else:
        reason = code.name
    cls = _CLASSES.get(code)
    kwargs: dict[str, Any] = {"reason": reason, "field": field, "metadata": metadata, "retry_after_s": retry_after_s}
    if cls is not None:
        return cls(message, **kwargs)
    return DownstreamError(code.value[0], message, **kwargs)


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
        attempt = 0
        while True:
            attempt += 1
            try:
                return await method(request, timeout=call.timeout(s.call_timeout_s), metadata=call.metadata)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAVAILABLE and attempt < s.retry_max_attempts:
                    cap = min(s.retry_max_backoff_s, s.retry_initial_backoff_s * 2 ** (attempt - 1))
                    delay = random.uniform(0, cap)
                    if call.deadline is None or call.timeout(s.call_timeout_s) > delay:
                        await asyncio.sleep(delay)
                        continue
                raise downstream_error(exc, name, fields) from None

    async def recognize(self, request: asr_pb.RecognizeRequest, call: CallContext, fields: FieldMap
                        ) -> asr_pb.RecognizeResponse:
        return await self._unary("asr", self._stub("asr").Recognize, request, call, fields)

    async def translate(self, request: nmt_pb.TranslateTextRequest, call: CallContext, fields: FieldMap
                        ) -> nmt_pb.TranslateTextResponse:
        return await self._unary("nmt", self._stub("nmt").TranslateText, request, call, fields)

    async def synthesize(self, request: tts_pb.SynthesizeRequest, call: CallContext, fields: FieldMap
                         ) -> tts_pb.SynthesizeResponse:
        return await self._unary("tts", self._stub("tts").Synthesize, request, call, fields)

    async def _stream(self, name: str, rpc: Any, call: CallContext, fields: FieldMap) -> AsyncIterator[Any]:
        """Reads a streaming call to its end; cancels it if the reader goes away first."""
        try:
            async for response in rpc:
                yield response
        except grpc.aio.AioRpcError as exc:
            raise downstream_error(exc, name, fields) from None
        finally:
            rpc.cancel()

    def streaming_recognize(self, requests: AsyncIterator[asr_pb.StreamingRecognizeRequest], call: CallContext,
                            fields: FieldMap) -> AsyncIterator[asr_pb.StreamingRecognizeResponse]:
        rpc = self._stub("asr").StreamingRecognize(requests, timeout=call.timeout(self.settings.stream_timeout_s),
                                                   metadata=call.metadata)
        return self._stream("asr", rpc, call, fields)

    def streaming_synthesize(self, request: tts_pb.StreamingSynthesizeRequest, call: CallContext,
                             fields: FieldMap) -> AsyncIterator[tts_pb.StreamingSynthesizeResponse]:
        rpc = self._stub("tts").StreamingSynthesize(request, timeout=call.timeout(self.settings.call_timeout_s),
                                                    metadata=call.metadata)
        return self._stream("tts", rpc, call, fields)
