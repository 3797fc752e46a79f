"""OpenTelemetry tracing: one tracer provider per process, spans for every RPC.

The exporter is chosen by settings: `none` (spans are still created, so trace context
propagates), `console`, or `otlp`: batches over OTLP/gRPC to `endpoint` (the telemetry
service; `services.common.otlp`), from the SDK's batch processor thread with a bounded queue,
so a collector that is slow or away never holds up a request (spans are dropped and counted).
`sample_ratio` below 1 samples root traces by trace id and follows the caller's decision
otherwise (ParentBased(TraceIdRatioBased)), so one request stays one whole trace or none.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.instrumentation.grpc._aio_server import (
    OpenTelemetryAioServerInterceptor,
    _OpenTelemetryAioServicerContext,
)
from opentelemetry.instrumentation.grpc._server import _wrap_rpc_behavior
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import SpanKind

log = logging.getLogger(__name__)
# Spans waiting for export; past this the newest are dropped (the SDK logs it once).
MAX_QUEUE = 8192


def configure(service: str, exporter: str, endpoint: str = "", sample_ratio: float = 1.0,
              credentials: Any = None) -> TracerProvider:
    """Installs a global tracer provider for `service` (once per process) and returns it;
    `credentials` (grpc.ChannelCredentials, mesh mTLS) for the OTLP channel, None: plaintext."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    sampler = ParentBased(TraceIdRatioBased(sample_ratio)) if sample_ratio < 1.0 else None
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=sampler)
    span_exporter: SpanExporter | None = None
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        target = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").removeprefix("http://")
        if not target:
            log.warning("otlp tracing requested without an endpoint (AI4VC_OTLP_ENDPOINT); spans not exported")
        else:
            from services.common.otlp import OtlpSpanExporter

            span_exporter = OtlpSpanExporter(target, credentials=credentials)
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter, max_queue_size=MAX_QUEUE,
                                                       max_export_batch_size=512, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    return provider


def server_interceptor(filter_: Any = None, provider: Any = None) -> grpc.aio.ServerInterceptor:
    """The server span interceptor (OpenTelemetry's grpc instrumentation) with what a call that
    will not be sampled costs cut to a trace context: the sampler is asked first, and a dropped
    call gets the same non-recording span the SDK would make (its trace id, a new span id, the
    caller's trace state) without the attribute dict, peer parsing and servicer-context proxy
    that only a recorded span uses. `filter_` must depend on the method alone (it is asked once
    per method). `provider`: the global tracer provider unless given (tests)."""
    provider = provider or trace.get_tracer_provider()
    base = aio_server_interceptor(tracer_provider=provider, filter_=filter_)
    return _ServerTracing(base._tracer, base._filter, provider)  # noqa: SLF001 - the instrumentation's own tracer


class _ServerTracing(OpenTelemetryAioServerInterceptor):  # type: ignore[misc]
    """OpenTelemetryAioServerInterceptor with handlers wrapped once per method and the unsampled fast path."""

    MAX_CACHED_METHODS = 1024

    def __init__(self, tracer: Any, filter_: Any, provider: Any) -> None:
        super().__init__(tracer, filter_=filter_)
        self._sampler: Sampler | None = getattr(provider, "sampler", None)
        self._ids = getattr(provider, "id_generator", None)
        # A root call (no caller's trace context) can skip the span only when no root is ever
        # sampled: TraceIdRatioBased keeps a trace id iff its low 64 bits are under a bound, so a
        # sampler that drops id 0 drops them all (ALWAYS_OFF too); otherwise the SDK decides.
        self._roots_dropped = self._sampler is not None and not self._sampler.should_sample(
            None, 0, "probe", SpanKind.SERVER).decision.is_recording()
        self._traced: dict[str, bool] = {}
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation: Callable[..., Awaitable[Any]],
                                handler_call_details: grpc.HandlerCallDetails) -> Any:
        if not is_instrumentation_enabled():
            return await continuation(handler_call_details)
        method = handler_call_details.method
        traced = self._traced.get(method)
        if traced is None:
            traced = self._filter is None or bool(self._filter(handler_call_details))
            if len(self._traced) < self.MAX_CACHED_METHODS:
                self._traced[method] = traced
        handler = await continuation(handler_call_details)
        if not traced or handler is None:
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]

        def telemetry_wrapper(behavior: Any, request_streaming: bool, response_streaming: bool) -> Any:
            if response_streaming:
                return self._intercept_aio_server_stream(behavior, handler_call_details)
            return self._intercept_aio_server_unary(behavior, handler_call_details)

        wrapped = _wrap_rpc_behavior(handler, telemetry_wrapper)
        if len(self._wrapped) < self.MAX_CACHED_METHODS or method in self._wrapped:
            self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _intercept_aio_server_unary(self, behavior: Any, handler_call_details: grpc.HandlerCallDetails) -> Any:
        traced = super()._intercept_aio_server_unary(behavior, handler_call_details)
        name = handler_call_details.method

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = context.invocation_metadata()
            parent = propagate.extract({m.key: m.value for m in metadata}) if metadata else None
            span = self._unsampled(parent, name)
            if span is None:
                return await traced(request, context)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            try:
                return await behavior(request, context)
            finally:
                otel_context.detach(token)

        return unary

    def _intercept_aio_server_stream(self, behavior: Any, handler_call_details: grpc.HandlerCallDetails) -> Any:
        """A response-streaming call's span, current only while the handler runs, step by step.

        The instrumentation's own wrapper attaches the span's context once and detaches it when
        its generator ends; a client that cancels while the server is held at a `yield` (flow
        control) leaves that generator to be closed by the event loop's finalizer in another
        Context, where the detach fails and OpenTelemetry logs an error with a traceback, stream
        after stream. Here the context is attached around each step of the handler's generator
        and detached before the response is handed on, so no token outlives the task that made it."""
        name = handler_call_details.method
        service, _, method = name.lstrip("/").partition("/")

        async def stream(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            metadata = context.invocation_metadata()
            parent = propagate.extract({m.key: m.value for m in metadata}) if metadata else None
            span = self._unsampled(parent, name)
            if span is None:
                span = self._tracer.start_span(name, context=parent, kind=SpanKind.SERVER,
                                               attributes=_server_attributes(service, method, context, metadata))
                context = _OpenTelemetryAioServicerContext(context, span)
            current = trace.set_span_in_context(span, parent)
            responses = behavior(request_or_iterator, context)
            try:
                if inspect.iscoroutine(responses):  # a handler that writes with context.write()
                    token = otel_context.attach(current)
                    try:
                        await responses
                    finally:
                        otel_context.detach(token)
                    return
                while True:
                    token = otel_context.attach(current)
                    try:
                        response = await responses.__anext__()
                    except StopAsyncIteration:
                        return
                    finally:
                        otel_context.detach(token)
                    yield response
            except Exception as error:
                if type(error) is not Exception:  # a bare Exception is the context's abort (status already set)
                    span.record_exception(error)
                raise
            finally:
                if not inspect.iscoroutine(responses):
                    token = otel_context.attach(current)
                    try:
                        await responses.aclose()
                    finally:
                        otel_context.detach(token)
                span.end()

        return stream

    def _unsampled(self, parent: otel_context.Context | None, name: str) -> trace.Span | None:
        """The span the SDK would give a call its sampler drops; None: the call is recorded (or
        this provider is not the SDK's), so the instrumentation's own path runs."""
        if self._sampler is None or self._ids is None:
            return None
        caller = trace.get_current_span(parent).get_span_context()
        if caller.is_valid:
            trace_id = caller.trace_id
        elif self._roots_dropped:
            trace_id = self._ids.generate_trace_id()
        else:
            return None
        # Our samplers read no span attributes, so none are built for the question.
        result = self._sampler.should_sample(parent, trace_id, name, SpanKind.SERVER)
        if result.decision.is_recording():
            return None
        return trace.NonRecordingSpan(trace.SpanContext(
            trace_id, self._ids.generate_span_id(), is_remote=False,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED if result.decision.is_sampled()
                                         else trace.TraceFlags.DEFAULT),
            trace_state=result.trace_state))


def _server_attributes(service: str, method: str, context: grpc.aio.ServicerContext,
                       metadata: Any) -> dict[str, Any]:
    """The instrumentation's server-span attributes: rpc system, service, method and status (OK
    until the context's abort sets another), the user agent, and the peer's address."""
    attributes: dict[str, Any] = {"rpc.system": "grpc", "rpc.grpc.status_code": grpc.StatusCode.OK.value[0],
                                  "rpc.service": service, "rpc.method": method}
    agent = next((m.value for m in metadata or () if m.key == "user-agent"), None)
    if agent is not None:
        attributes["rpc.user_agent"] = agent
    peer = context.peer() or ""
    if not peer.startswith("unix:"):  # ipv4:127.0.0.1:57284, ipv6:[::1]:57284
        address = peer.split(",")[0].partition(":")[2]
        ip, _, port = address.rpartition(":")
        if ip:
            attributes["net.peer.ip"] = unquote(ip)
            attributes["net.peer.port"] = port
            if ip in ("[::1]", "127.0.0.1"):
                attributes["net.peer.name"] = "localhost"
    return attributes


_unsampled_dropped: tuple[object, bool] | None = None


def drops_unsampled_children() -> bool:
    """Whether this process's sampler drops every span whose parent was not sampled
    (ParentBased's default), so that a child of an unsampled `traceparent` need not be started:
    the question is asked once per sampler."""
    global _unsampled_dropped
    sampler = getattr(trace.get_tracer_provider(), "sampler", None)
    if sampler is None:
        return False
    if _unsampled_dropped is None or _unsampled_dropped[0] is not sampler:
        parent = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
            1, 1, is_remote=True, trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT))))
        # Trace id 1 is one a ratio sampler that ignored the parent would keep (at any ratio above 0).
        dropped = not sampler.should_sample(parent, 1, "probe", SpanKind.CLIENT).decision.is_recording()
        _unsampled_dropped = (sampler, dropped)
    return _unsampled_dropped[1]


def sampled_flag(traceparent: str) -> bool:
    """The sampled bit of a W3C `traceparent` (version-trace id-parent id-flags); True when it
    cannot be read, so that the SDK decides."""
    try:
        return bool(int(traceparent[-2:], 16) & 1)
    except ValueError:
        return True
