"""Calling our own services from a service (the pipeline, the Riva and ULCA facades): one channel
per downstream service, balanced over its replicas (`rpc.balancing`), with a readiness check
over their health, the metadata every downstream call carries, unary calls retried on
UNAVAILABLE (a retry lands on another replica), streams read to their end, and a downstream
failure turned into the domain error of the same code and ErrorInfo reason, its field moved
into the caller's request.

Every call carries the caller's request id, trace context and identity metadata and a
deadline from the caller's remaining time. Unary calls that answer UNAVAILABLE are retried
with capped, full-jitter backoff; streams never are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from services.common.calls import CallContext, FieldMap
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
from services.common.logs import request_id_var
from services.common.rpc import tls
from services.common.rpc.balancing import balanced_channel, check_targets, grpc_target
from services.common.rpc.identity import identity_of
from services.common.rpc.interceptors import REQUEST_ID_KEY
from services.common.settings import CommonSettings, SettingsError

R = TypeVar("R")

# The gRPC service each downstream name stands for: what its health check asks about.
SERVICE_NAMES = {
    "asr": asr_pb.DESCRIPTOR.services_by_name["AsrService"].full_name,
    "nmt": nmt_pb.DESCRIPTOR.services_by_name["NmtService"].full_name,
    "tts": tts_pb.DESCRIPTOR.services_by_name["TtsService"].full_name,
}


class Channels:
    """One channel per configured downstream service (name → target setting, see
    `balancing.grpc_target`; an empty target is not configured), each balanced over the
    service's healthy replicas, closed together; ready when every service has a replica that
    answers its health check SERVING. A call to a service that is not configured is UNAVAILABLE
    naming the setting (`env_prefix`)."""

    def __init__(self, targets: dict[str, str], *, max_message_bytes: int, health_timeout_s: float,
                 env_prefix: str, mesh_tls: tls.MeshTlsSettings | None = None) -> None:
        self.health_timeout_s = health_timeout_s
        self.env_prefix = env_prefix
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        # Balanced over every replica the target names, healthy ones only (rpc/balancing.py).
        # Mesh mTLS: this process's certificate, every replica's checked against the service's name.
        credentials = tls.channel_credentials(mesh_tls) if mesh_tls is not None else None
        self.channels = {
            name: balanced_channel(grpc_target(target, f"{env_prefix}_{name.upper()}_TARGET"), SERVICE_NAMES[name],
                                   options=options, credentials=credentials, tls_name=name)
            for name, target in targets.items() if target.strip()}

    def __contains__(self, name: str) -> bool:
        return name in self.channels

    def get(self, name: str) -> grpc.aio.Channel:
        if name not in self.channels:
            raise Unavailable(f"no {name} service is configured ({self.env_prefix}_{name.upper()}_TARGET)",
                              reason=Reason.BACKEND_UNAVAILABLE, metadata={"service": name})
        return self.channels[name]

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()

    async def ready(self) -> bool:
        """True when every configured service answers its health check with SERVING."""
        async def serving(name: str) -> bool:
            try:
                answer = await health_pb2_grpc.HealthStub(self.channels[name]).Check(
                    health_pb2.HealthCheckRequest(service=SERVICE_NAMES[name]), timeout=self.health_timeout_s)
            except grpc.aio.AioRpcError:
                return False
            return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

        if not self.channels:
            return False
        return all(await asyncio.gather(*(serving(name) for name in self.channels)))

# Trace context passed on to every downstream call, so their traces join this call's.
TRACE_HEADERS = ("traceparent", "tracestate")

_CLASSES: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.INTERNAL: Internal,
}


def call_context(context: grpc.aio.ServicerContext) -> CallContext:
    """The metadata and deadline downstream calls carry: the request id the interceptor settled
    on (the caller's, or a new one when it sent none), the trace context, and the caller's
    identity as the edge set it, so downstream records and usage count against this caller."""
    metadata: list[tuple[str, str]] = []
    request_id = request_id_var.get()
    if request_id:
        metadata.append((REQUEST_ID_KEY, request_id))
    for key, value in context.invocation_metadata() or ():
        if key in TRACE_HEADERS and isinstance(value, str):
            metadata.append((key, value))
    metadata.extend(identity_of(context).metadata())
    remaining = context.time_remaining()
    deadline = None if remaining is None else time.monotonic() + remaining
    return CallContext(tuple(metadata), deadline)


class DownstreamError(DomainError):
    """A downstream status the chassis has no class for (PERMISSION_DENIED, OUT_OF_RANGE, …):
    passed on with its own code."""

    def __init__(self, code: int, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.code = Code(code)


def downstream_error(exc: grpc.aio.AioRpcError, service: str, fields: FieldMap) -> DomainError:
    """The domain error to answer for a failed downstream call: same code and reason, the
    field moved into the caller's request, the downstream's own field kept in metadata."""
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


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a unary downstream call is retried when it answers UNAVAILABLE."""

    max_attempts: int = 3
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 1.0


@dataclasses.dataclass(frozen=True)
class DownstreamSettings(CommonSettings):
    """The settings of a service that calls our asr, nmt and tts services (the pipeline, the Riva
    and ULCA facades); a subclass sets `env_prefix` (its settings' environment prefix)."""

    env_prefix: ClassVar[str] = "AI4VC"
    # Where each downstream service answers, every replica, balanced round-robin
    # (rpc/balancing.py): host:port (DNS, every address of the name), IP:port,IP:port,… or a gRPC
    # target URI (dns:///…). Empty: calls needing that service answer UNAVAILABLE naming the
    # setting, and it does not gate readiness.
    asr_target: str = "127.0.0.1:8087"
    nmt_target: str = "127.0.0.1:8089"
    tts_target: str = "127.0.0.1:8088"
    # Deadline of a downstream unary call when the caller set none, and of a streaming call.
    call_timeout_s: float = 60.0
    stream_timeout_s: float = 600.0
    # Unary calls that answer UNAVAILABLE are retried (never streams), with full-jitter
    # exponential backoff capped at retry_max_backoff_s, within the caller's deadline.
    retry_max_attempts: int = 3
    retry_initial_backoff_s: float = 0.05
    retry_max_backoff_s: float = 1.0
    health_timeout_s: float = 1.0

    def __post_init__(self) -> None:
        check_targets(self, self.env_prefix, tuple(SERVICE_NAMES))
        if self.retry_max_attempts < 1:
            raise SettingsError("retry_max_attempts must be at least 1")

    def channels(self) -> Channels:
        """A balanced channel to each configured downstream service."""
        return Channels({name: getattr(self, f"{name}_target") for name in SERVICE_NAMES},
                        max_message_bytes=self.max_message_bytes, health_timeout_s=self.health_timeout_s,
                        env_prefix=self.env_prefix, mesh_tls=self)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retry_max_attempts, self.retry_initial_backoff_s, self.retry_max_backoff_s)


async def unary(service: str, method: Callable[..., Awaitable[R]], request: Any, call: CallContext,
                fields: FieldMap, *, default_timeout_s: float, retry: RetryPolicy = RetryPolicy()) -> R:
    """One unary downstream call: the caller's metadata and remaining time, UNAVAILABLE retried
    with full-jitter backoff within that time, any failure raised as a domain error."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await method(request, timeout=call.timeout(default_timeout_s), metadata=call.metadata)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE and attempt < retry.max_attempts:
                cap = min(retry.max_backoff_s, retry.initial_backoff_s * 2 ** (attempt - 1))
                delay = random.uniform(0, cap)
                if call.deadline is None or call.timeout(default_timeout_s) > delay:
                    await asyncio.sleep(delay)
                    continue
            raise downstream_error(exc, service, fields) from None


async def read_stream(service: str, rpc: Any, fields: FieldMap) -> AsyncIterator[Any]:
    """Reads a streaming downstream call to its end; cancels it if the reader goes away first."""
    try:
        async for response in rpc:
            yield response
    except grpc.aio.AioRpcError as exc:
        raise downstream_error(exc, service, fields) from None
    finally:
        rpc.cancel()
