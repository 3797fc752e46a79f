"""The server span interceptor (`tracing.server_interceptor`): a call its sampler drops gets the
SDK's non-recording span (the caller's trace id, flags 0) without a recorded span; a sampled call
still gets the instrumentation's full server span."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import filters
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from services.common import tracing

METHOD = "/test.Echo/Call"


@contextlib.asynccontextmanager
async def serving(ratio: float | None) -> AsyncIterator[tuple[grpc.aio.Channel, InMemorySpanExporter, list]]:
    """A server whose one unary method reports the span context it ran under; spans to memory."""
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)) if ratio is not None else None)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seen: list[tuple[trace.SpanContext, bool]] = []

    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        span = trace.get_current_span()
        seen.append((span.get_span_context(), span.is_recording()))
        if request == b"fail":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no")
        return request

    server = grpc.aio.server(interceptors=[
        tracing.server_interceptor(filters.negate(filters.health_check()), provider=provider)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, exporter, seen
    finally:
        await channel.close()
        await server.stop(0)


def _traceparent(sampled: bool) -> tuple[str, str, str]:
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}", trace_id, span_id


async def test_unsampled_caller_gets_its_trace_id_and_no_span():
    """A caller's unsampled traceparent: the handler runs under a non-recording span of the caller's trace
    (flags 0, a new span id), and nothing is exported, call after call (the wrapped handler is reused)."""
    async with serving(0.0) as (channel, exporter, seen):
        call = channel.unary_unary(METHOD)
        parents = [_traceparent(sampled=False) for _ in range(3)]
        for header, _, _ in parents:
            assert await call(b"x", timeout=5, metadata=(("traceparent", header),)) == b"x"
    assert exporter.get_finished_spans() == ()
    for (context, recording), (_, trace_id, span_id) in zip(seen, parents, strict=True):
        assert not recording and context.is_valid and not context.trace_flags.sampled
        assert format(context.trace_id, "032x") == trace_id and format(context.span_id, "016x") != span_id


async def test_sampled_caller_gets_the_full_server_span():
    """A caller's sampled traceparent at ratio 0: the instrumentation's server span, child of the caller's
    span, named by the method, with its rpc attributes and the status of an aborted call."""
    async with serving(0.0) as (channel, exporter, seen):
        call = channel.unary_unary(METHOD)
        header, trace_id, span_id = _traceparent(sampled=True)
        assert await call(b"x", timeout=5, metadata=(("traceparent", header),)) == b"x"
        with pytest.raises(grpc.aio.AioRpcError):
            await call(b"fail", timeout=5, metadata=(("traceparent", header),))
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [METHOD, METHOD]
    assert all(s.parent is not None and format(s.parent.span_id, "016x") == span_id for s in spans)
    assert all(format(s.context.trace_id, "032x") == trace_id for s in spans)
    assert spans[0].attributes["rpc.method"] == "Call" and spans[0].attributes["rpc.service"] == "test.Echo"
    assert spans[1].attributes["rpc.grpc.status_code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert all(recording for _, recording in seen)


async def test_roots_follow_the_ratio():
    """No traceparent: at ratio 0 a fresh unsampled trace (no span), at the default (always on) a root span."""
    async with serving(0.0) as (channel, exporter, seen):
        assert await channel.unary_unary(METHOD)(b"x", timeout=5) == b"x"
    assert exporter.get_finished_spans() == ()
    assert seen[0][0].is_valid and not seen[0][1] and not seen[0][0].trace_flags.sampled
    async with serving(None) as (channel, exporter, seen):
        assert await channel.unary_unary(METHOD)(b"x", timeout=5) == b"x"
    (root,) = exporter.get_finished_spans()
    assert root.name == METHOD and root.parent is None and seen[0][1]


def test_sampled_flag_reads_the_last_field():
    """The sampled bit of a traceparent; an unreadable one counts as sampled (the SDK decides)."""
    assert tracing.sampled_flag(_traceparent(True)[0]) and not tracing.sampled_flag(_traceparent(False)[0])
    assert tracing.sampled_flag("00-x-y-zz")
