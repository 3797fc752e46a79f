"""The server span interceptor (`tracing.server_interceptor`): a call its sampler drops gets the
SDK's non-recording span (the caller's trace id, flags 0) without a recorded span; a sampled call
still gets the instrumentation's full server span. Response streams too, and a stream its client
cancels while the server is held by flow control ends its span without a context error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
STREAM = "/test.Echo/Stream"
BIG = 256 * 1024  # a message that fills the HTTP/2 window in a few


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

    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        """Three messages (or endless big ones for b"big"), each after noting its current span."""
        for i in range(3 if request != b"big" else 1 << 30):
            span = trace.get_current_span()
            seen.append((span.get_span_context(), span.is_recording()))
            if request == b"fail" and i == 1:
                await context.abort(grpc.StatusCode.OUT_OF_RANGE, "no")
            await asyncio.sleep(0)
            yield b"x" * BIG if request == b"big" else request

    server = grpc.aio.server(interceptors=[
        tracing.server_interceptor(filters.negate(filters.health_check()), provider=provider)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call),
                      "Stream": grpc.unary_stream_rpc_method_handler(stream)}),))
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


async def test_sampled_stream_gets_a_server_span_current_at_every_message():
    """A response stream under a sampled caller: one server span, the caller's child, current in the
    handler at each message, ended when the stream ends; an aborted stream's span has its status."""
    async with serving(0.0) as (channel, exporter, seen):
        stream = channel.unary_stream(STREAM)
        header, trace_id, span_id = _traceparent(sampled=True)
        assert [r async for r in stream(b"x", timeout=5, metadata=(("traceparent", header),))] == [b"x"] * 3
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            _ = [r async for r in stream(b"fail", timeout=5, metadata=(("traceparent", header),))]
        assert failed.value.code() == grpc.StatusCode.OUT_OF_RANGE
    ok, aborted = exporter.get_finished_spans()
    assert ok.name == aborted.name == STREAM and ok.kind == trace.SpanKind.SERVER
    assert all(format(s.parent.span_id, "016x") == span_id and format(s.context.trace_id, "032x") == trace_id
               for s in (ok, aborted))
    assert ok.attributes["rpc.method"] == "Stream" and ok.attributes["rpc.service"] == "test.Echo"
    assert ok.attributes["rpc.grpc.status_code"] == 0 and ok.attributes["net.peer.ip"] == "127.0.0.1"
    assert aborted.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OUT_OF_RANGE.value[0]
    assert [c.span_id for c, _ in seen[:3]] == [ok.context.span_id] * 3 and all(r for _, r in seen)
    assert seen[3][0].span_id == aborted.context.span_id


async def test_unsampled_stream_gets_its_callers_trace_id_and_no_span():
    async with serving(0.0) as (channel, exporter, seen):
        header, trace_id, _ = _traceparent(sampled=False)
        assert len([r async for r in channel.unary_stream(STREAM)(b"x", timeout=5,
                                                                  metadata=(("traceparent", header),))]) == 3
    assert exporter.get_finished_spans() == ()
    assert all(not recording and format(c.trace_id, "032x") == trace_id for c, recording in seen)


async def test_stream_cancelled_under_flow_control_ends_its_span_without_a_context_error(caplog):
    """The client reads one big message and cancels while the server is held at a `yield` by the
    HTTP/2 window: the stream's span still ends, and OpenTelemetry logs no "Failed to detach
    context" (the instrumentation's own stream wrapper did, with a traceback, for every such stream)."""
    caplog.set_level(logging.ERROR, logger="opentelemetry.context")
    async with serving(None) as (channel, exporter, seen):
        for _ in range(3):
            call = channel.unary_stream(STREAM)(b"big", timeout=5)
            assert len(await call.read()) == BIG
            await asyncio.sleep(0.2)  # the server fills the window and waits on it
            call.cancel()
        for _ in range(100):
            if len(exporter.get_finished_spans()) == 3:
                break
            await asyncio.sleep(0.05)
    assert [s.name for s in exporter.get_finished_spans()] == [STREAM] * 3
    assert not [r for r in caplog.records if "detach" in r.getMessage()]
