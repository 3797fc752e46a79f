"""The one server interceptor: request id, RED metrics, access log, admission, input check, error mapping.

Calls pass the process's admission controller (`admission.py`) before the servicer sees them:
past its limits they end RESOURCE_EXHAUSTED `SERVER_OVERLOADED` with a RetryInfo, counted and
logged like any other call.

Every request message (unary, and each message of a client stream) passes
`validation.check_request` before the servicer sees it, so bytes that do not parse, NUL
characters, undefined enum numbers and non-finite floats are INVALID_ARGUMENT for every RPC.

Domain errors become `google.rpc.Status` with an `ErrorInfo` (plus `BadRequest` naming the
offending field and `RetryInfo` where the error carries one); any other exception becomes
INTERNAL with a generic message and a logged trace, so internals never leak to callers.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import trace

from services.common.errors import DOMAIN, DomainError, Internal
from services.common.logs import request_id_var
from services.common.metrics import MethodMetrics, RpcMetrics
from services.common.rpc.admission import AdmissionController, exempt
from services.common.rpc.validation import check_request, safe_deserializer

log = logging.getLogger("ai4vc.rpc")
REQUEST_ID_KEY = "x-request-id"
# Successful calls of these are logged at DEBUG only: health probes come every second, and every
# service exports spans and logs to the telemetry service a few times a second.
QUIET_PREFIXES = ("/grpc.health.v1.Health/", "/opentelemetry.proto.collector.")


def status_for(err: DomainError, request_id: str) -> status_pb2.Status:
    """The rich status a domain error is sent as."""
    metadata = dict(err.metadata)
    if request_id:
        metadata["request_id"] = request_id
    details = []
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=err.reason, domain=DOMAIN, metadata=metadata))
    details.append(info)
    if err.field:
        bad = any_pb2.Any()
        bad.Pack(
            error_details_pb2.BadRequest(
                field_violations=[error_details_pb2.BadRequest.FieldViolation(field=err.field, description=err.message)]
            )
        )
        details.append(bad)
    if err.retry_after_s is not None:
        retry = any_pb2.Any()
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(err.retry_after_s * 1e9))
        retry.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(retry)
    return status_pb2.Status(code=int(err.code), message=err.message, details=details)


def _request_id(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and value:
            return str(value)[:128]
    return uuid.uuid4().hex


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler of the server it is installed on.

    grpc.aio asks for the handler on every call; the wrapped handler of a method is built once
    and reused while the server hands out the same handler object for it (it always does for
    registered servicers), so a call pays no closure, handler or deserializer construction."""

    # Methods whose wrapped handler is kept; a generic handler that serves any path cannot grow it past this.
    MAX_CACHED_METHODS = 1024

    def __init__(self, metrics: RpcMetrics, admission: AdmissionController | None = None) -> None:
        self.metrics = metrics
        self.admission = admission
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    @contextlib.asynccontextmanager
    async def _admitted(self, method: str, kind: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        """The call's slot (unary, client stream) or its stream count (server, bidi stream)."""
        if self.admission is None or exempt(method):
            yield
        elif kind in ("unary", "client_stream"):
            async with self.admission.call(context.time_remaining(), kind):
                yield
        else:
            self.admission.open_stream(kind)
            try:
                yield
            finally:
                self.admission.close_stream()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        if len(self._wrapped) < self.MAX_CACHED_METHODS or method in self._wrapped:
            self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        deserializer = safe_deserializer(handler.request_deserializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(handler.unary_unary, method, "unary", _checked),
                deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap_unary(handler.stream_unary, method, "client_stream", _checked_stream),
                deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(handler.unary_stream, method, "server_stream", _checked),
                deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._wrap_stream(handler.stream_stream, method, "bidi_stream", _checked_stream),
            deserializer,
            handler.response_serializer,
        )

    def _wrap_unary(self, behavior: Callable[..., Any], method: str, kind: str,
                    check: Callable[[Any], Any]) -> Callable[..., Any]:
        bound = self.metrics.of(method, kind)
        admission = None if self.admission is None or exempt(method) else self.admission
        quiet = method.startswith(QUIET_PREFIXES)

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            call = _Call(bound, method, context, quiet)
            try:
                if admission is None:
                    response = await behavior(check(request), context)
                else:
                    async with admission.call(context.time_remaining(), kind):
                        response = await behavior(check(request), context)
            except BaseException as exc:  # noqa: BLE001 - mapped, logged and re-raised as a status
                await call.fail(exc)
                raise
            call.done()
            return response

        return wrapper

    def _wrap_stream(self, behavior: Callable[..., Any], method: str, kind: str,
                     check: Callable[[Any], Any]) -> Callable[..., Any]:
        bound = self.metrics.of(method, kind)
        quiet = method.startswith(QUIET_PREFIXES)

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            call = _Call(bound, method, context, quiet)
            try:
                async with self._admitted(method, kind, context):
                    result = behavior(check(request), context)
                    if inspect.isasyncgen(result):
                        async for item in result:
                            yield item
                    else:
                        await result
            except BaseException as exc:  # noqa: BLE001
                await call.fail(exc)
                raise
            call.done()

        return wrapper


def _checked(request: Any) -> Any:
    check_request(request)
    return request


async def _checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The client stream, each message checked as it arrives; a bad one ends the call."""
    index = 0
    async for request in requests:
        check_request(request, index)
        index += 1
        yield request


class _Call:
    """Book-keeping for one RPC: request id, timing, metrics and the access-log line."""

    __slots__ = ("context", "method", "metrics", "quiet", "request_id", "start")

    def __init__(self, metrics: MethodMetrics, method: str, context: grpc.aio.ServicerContext,
                 quiet: bool = False) -> None:
        self.metrics = metrics
        self.method = method
        self.context = context
        self.quiet = quiet
        self.request_id = _request_id(context)
        request_id_var.set(self.request_id)
        # The call's server span (when tracing) says which request it served: a trace is found by request id.
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("ai4vc.request_id", self.request_id)
        metrics.started.inc()
        metrics.in_flight.inc()
        self.start = time.perf_counter()

    def _finish(self, code: grpc.StatusCode, level: int, message: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        metrics = self.metrics
        metrics.in_flight.dec()
        metrics.handled(code.name).inc()
        metrics.latency.observe(elapsed)
        if code is grpc.StatusCode.OK and self.quiet:
            level = logging.DEBUG
        if not log.isEnabledFor(level):
            return
        extra: dict[str, object] = {
            "grpc_method": self.method,
            "grpc_code": code.name,
            "duration_ms": round(elapsed * 1000, 3),
        }
        if message:
            extra["error"] = message
        log.log(level, "rpc %s %s", self.method, code.name, extra=extra)

    def done(self) -> None:
        code = self.context.code() if hasattr(self.context, "code") else None
        self._finish(code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.OK, logging.INFO)

    async def fail(self, exc: BaseException) -> None:
        if isinstance(exc, DomainError):
            status = status_for(exc, self.request_id)
            code = grpc.StatusCode(_code_tuple(status.code))
            self._finish(code, logging.WARNING if exc.code >= 13 else logging.INFO, f"{exc.reason}: {exc.message}")
            rich = rpc_status.to_status(status)
            await self.context.abort(rich.code, rich.details, rich.trailing_metadata)
        if isinstance(exc, grpc.aio.AbortError):
            code = self.context.code() if hasattr(self.context, "code") else None
            self._finish(code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN, logging.INFO)
            return
        if isinstance(exc, (GeneratorExit, KeyboardInterrupt, SystemExit)) or type(exc).__name__ == "CancelledError":
            self._finish(grpc.StatusCode.CANCELLED, logging.INFO)
            return
        log.error("unhandled error in %s", self.method, exc_info=exc)
        self._finish(grpc.StatusCode.INTERNAL, logging.ERROR, type(exc).__name__)
        # Callers get a generic message and the request id to quote; details stay in the log.
        internal = Internal(f"internal error (request id {self.request_id})")
        rich = rpc_status.to_status(status_for(internal, self.request_id))
        await self.context.abort(rich.code, rich.details, rich.trailing_metadata)


def _code_tuple(code: int) -> tuple[int, str]:
    for member in grpc.StatusCode:
        if member.value[0] == code:
            return member.value
    return grpc.StatusCode.UNKNOWN.value
