"""The telemetry service in-process (production factory and interceptors) against a real PostgreSQL
schema: the chassis's own OTLP exporters (spans through the SDK, log records through the handler)
export to it, and GetTrace / SearchTraces / SearchLogs find what they sent; paging, retention, and
bad input (malformed trace ids, absurd time ranges, tokens of another query) answered as
INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from ai4vc.telemetry.v1 import telemetry_service_pb2 as pb
from ai4vc.telemetry.v1 import telemetry_service_pb2_grpc as pb_grpc
from services.common.logs import request_id_var
from services.common.otlp import OtlpLogHandler, OtlpSpanExporter
from services.telemetry import app as telemetry_app
from services.telemetry.settings import TelemetrySettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running

ADMIN = (("x-ai4vc-principal", "admin"), ("x-ai4vc-scopes", "admin"))
OPERATOR = (("x-ai4vc-principal", "ops"), ("x-ai4vc-scopes", "telemetry"))
NMT_USER = (("x-ai4vc-principal", "asha"), ("x-ai4vc-scopes", "nmt"))


@pytest.fixture
def settings(pg_schema) -> TelemetrySettings:
    url, schema = pg_schema
    return TelemetrySettings(port=0, metrics_port=-1, database_url=url, database_schema=schema, log_json=False,
                             flush_interval_s=0.02, retention_interval_s=3600)


async def _refused(call, code: grpc.StatusCode, reason: str, field: str | None = None) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    info, fields = error_info(err.value)
    assert info is not None and info.reason == reason, (info, err.value.details())
    if field is not None:
        assert info.metadata["field"] == field and fields == [field], (info.metadata, fields)


def _provider(service: str, port: int) -> tuple[TracerProvider, OtlpSpanExporter]:
    exporter = OtlpSpanExporter(f"127.0.0.1:{port}")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def _until(check, timeout_s: float = 5.0):
    """The first truthy result of `check()` within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


def _export_request_trace(provider: TracerProvider) -> tuple[str, str]:
    """A served call with a Triton child and a failed record write, as the chassis makes them."""
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("/ai4vc.nmt.v1.NmtService/TranslateText", kind=SpanKind.SERVER,
                                      attributes={"ai4vc.request_id": "req-1", "rpc.method": "TranslateText"}) as root:
        with tracer.start_as_current_span("triton.infer nmt", kind=SpanKind.CLIENT, attributes={"ai4vc.model": "nmt"}):
            time.sleep(0.002)
        with tracer.start_as_current_span("records.write nmt", kind=SpanKind.CLIENT) as write:
            write.set_status(StatusCode.ERROR, "spooled")
    context = root.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


async def test_exported_spans_come_back_as_one_trace(settings):
    """Spans exported by OtlpSpanExporter are stored; GetTrace returns them parent-first with service, kind,
    status, attributes; SearchTraces finds the trace by service, span name, request id, status and duration."""
    async with running(settings, telemetry_app.create) as (app, handle, channel):
        assert await health_status(channel, "ai4vc.telemetry.v1.TelemetryService") == 1
        assert await health_status(channel, "opentelemetry.proto.collector.trace.v1.TraceService") == 1
        provider, exporter = _provider("nmt", handle.port)
        trace_id, root_id = await asyncio.to_thread(_export_request_trace, provider)
        assert exporter.exported == 3 and exporter.dropped == 0
        stub = pb_grpc.TelemetryServiceStub(channel)

        async def whole_trace():
            try:
                answer = await stub.GetTrace(pb.GetTraceRequest(trace_id=trace_id.upper()), metadata=OPERATOR,
                                             timeout=10)
            except grpc.aio.AioRpcError:
                return None
            return answer if len(answer.spans) == 3 else None

        answer = await _until(whole_trace)
        assert answer is not None and answer.trace_id == trace_id and not answer.truncated
        names = [s.name for s in answer.spans]
        assert names[0] == "/ai4vc.nmt.v1.NmtService/TranslateText" and set(names[1:]) == {
            "triton.infer nmt", "records.write nmt"}
        root, *children = answer.spans
        assert root.span_id == root_id and root.parent_span_id == "" and root.kind == pb.SPAN_KIND_SERVER
        assert root.service == "nmt" and root.request_id == "req-1"
        assert root.attributes["rpc.method"] == "TranslateText"
        assert all(c.parent_span_id == root_id and c.kind == pb.SPAN_KIND_CLIENT for c in children)
        triton = next(c for c in children if c.name == "triton.infer nmt")
        assert triton.duration.ToNanoseconds() >= 2_000_000 and triton.status == pb.SPAN_STATUS_UNSET
        assert next(c for c in children if c.name.startswith("records")).status == pb.SPAN_STATUS_ERROR

        for request in (pb.SearchTracesRequest(service="nmt"), pb.SearchTracesRequest(request_id="req-1"),
                        pb.SearchTracesRequest(span_name="triton.infer nmt",
                                               min_duration=duration_pb2.Duration(nanos=1_000_000)),
                        pb.SearchTracesRequest(status=pb.SPAN_STATUS_ERROR)):
            found = await stub.SearchTraces(request, metadata=ADMIN, timeout=10)
            assert [t.trace_id for t in found.traces] == [trace_id], request
            summary = found.traces[0]
            assert (summary.root_service, summary.root_name, summary.span_count, summary.error_count,
                    summary.request_id, list(summary.services)) == (
                "nmt", "/ai4vc.nmt.v1.NmtService/TranslateText", 3, 1, "req-1", ["nmt"])
        for request in (pb.SearchTracesRequest(service="asr"),
                        pb.SearchTracesRequest(min_duration=duration_pb2.Duration(seconds=60)),
                        pb.SearchTracesRequest(status=pb.SPAN_STATUS_OK)):
            assert not (await stub.SearchTraces(request, metadata=ADMIN, timeout=10)).traces, request
        provider.shutdown()


async def test_log_records_are_searchable_by_text_request_and_trace(settings):
    """OtlpLogHandler exports records with request id and trace id; SearchLogs finds them by full text (any
    script), service, level, request id and trace id, newest first, in pages bound to their query."""
    async with running(settings, telemetry_app.create) as (app, handle, channel):
        handler = OtlpLogHandler("nmt", f"127.0.0.1:{handle.port}", interval_s=0.05)
        logger = logging.getLogger("tests.telemetry")
        logger.propagate = False
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        provider = TracerProvider()
        try:
            token = request_id_var.set("req-logs-1")
            with provider.get_tracer("test").start_as_current_span("call") as span:
                logger.info("translated भारत एक विशाल देश है", extra={"grpc_code": "OK", "duration_ms": 1.5})
                logger.warning("model slow to answer", extra={"model": "nmt"})
            request_id_var.reset(token)
            for i in range(5):
                logger.debug("tick %d", i)
            # The server shares this event loop: wait for the export thread off the loop.
            await asyncio.to_thread(handler.flush)
        finally:
            logger.removeHandler(handler)
            await asyncio.to_thread(handler.close)
        assert handler.exported == 7 and handler.dropped == 0
        trace_id = format(span.get_span_context().trace_id, "032x")
        stub = pb_grpc.TelemetryServiceStub(channel)

        async def search(**fields):
            return await stub.SearchLogs(pb.SearchLogsRequest(**fields), metadata=OPERATOR, timeout=10)

        assert await _until(lambda: _count(search(service="nmt"), 7))
        by_request = await search(request_id="req-logs-1")
        assert [e.message for e in by_request.entries] == ["model slow to answer", "translated भारत एक विशाल देश है"]
        entry = by_request.entries[1]
        assert entry.trace_id == trace_id and len(entry.span_id) == 16 and entry.level == pb.LOG_LEVEL_INFO
        assert entry.logger == "tests.telemetry" and entry.attributes["grpc_code"] == "OK"
        assert entry.attributes["duration_ms"] == 1.5
        assert [e.message for e in (await search(query="विशाल")).entries] == ["translated भारत एक विशाल देश है"]
        assert [e.message for e in (await search(query='"slow to answer" -fast')).entries] == ["model slow to answer"]
        assert len((await search(trace_id=trace_id.upper())).entries) == 2
        assert [e.level for e in (await search(level=pb.LOG_LEVEL_WARNING)).entries] == [pb.LOG_LEVEL_WARNING]
        assert not (await search(query="नमस्ते")).entries

        pages, token = [], ""
        while True:
            page = await search(service="nmt", page_size=3, page_token=token)
            pages.append([e.message for e in page.entries])
            token = page.next_page_token
            if not token:
                break
        assert [len(p) for p in pages] == [3, 3, 1]
        assert pages[0][:2] == ["tick 4", "tick 3"] and pages[-1] == ["translated भारत एक विशाल देश है"]
        first = await search(service="nmt", page_size=2)
        await _refused(search(service="asr", page_size=2, page_token=first.next_page_token),
                       grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN", "page_token")


async def _count(call, expected: int) -> bool:
    return len((await call).entries) == expected


def _ts(seconds: int, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


@pytest.mark.parametrize(("method", "request_", "reason", "field"), [
    ("GetTrace", pb.GetTraceRequest(), "FIELD_REQUIRED", "trace_id"),
    ("GetTrace", pb.GetTraceRequest(trace_id="xyz"), "INVALID_TRACE_ID", "trace_id"),
    ("GetTrace", pb.GetTraceRequest(trace_id="0" * 32), "INVALID_TRACE_ID", "trace_id"),
    ("GetTrace", pb.GetTraceRequest(trace_id="a" * 33), "INVALID_TRACE_ID", "trace_id"),
    ("SearchLogs", pb.SearchLogsRequest(trace_id="not-a-trace"), "INVALID_TRACE_ID", "trace_id"),
    ("SearchLogs", pb.SearchLogsRequest(start_time=_ts(2_000_000_000), end_time=_ts(1_000_000_000)),
     "FIELD_OUT_OF_RANGE", "start_time"),
    ("SearchLogs", pb.SearchLogsRequest(start_time=_ts(0), end_time=_ts(1_700_000_000)), "FIELD_OUT_OF_RANGE",
     "end_time"),
    ("SearchTraces", pb.SearchTracesRequest(start_time=_ts(-62_135_596_800)), "FIELD_OUT_OF_RANGE", "start_time"),
    ("SearchTraces", pb.SearchTracesRequest(end_time=_ts(1_700_000_000, 2_000_000_000)), "FIELD_OUT_OF_RANGE",
     "end_time"),
    ("SearchTraces", pb.SearchTracesRequest(end_time=_ts(10**12)), "FIELD_OUT_OF_RANGE", "end_time"),
    ("SearchTraces", pb.SearchTracesRequest(min_duration=duration_pb2.Duration(seconds=-1)), "FIELD_OUT_OF_RANGE",
     "min_duration"),
    ("SearchTraces", pb.SearchTracesRequest(page_size=-1), "FIELD_OUT_OF_RANGE", "page_size"),
    ("SearchTraces", pb.SearchTracesRequest(page_token="garbage"), "INVALID_PAGE_TOKEN", "page_token"),
    ("SearchTraces", pb.SearchTracesRequest(service="s" * 200), "FIELD_OUT_OF_RANGE", "service"),
    ("SearchLogs", pb.SearchLogsRequest(query="q" * 600), "FIELD_OUT_OF_RANGE", "query"),
    ("SearchLogs", pb.SearchLogsRequest(page_token="eyJoIjoiMCJ9"), "INVALID_PAGE_TOKEN", "page_token"),
])
async def test_bad_input_is_invalid_argument_naming_the_field(settings, method, request_, reason, field):
    """Malformed trace ids, absurd or inverted time ranges, negative sizes, foreign page tokens: INVALID_ARGUMENT
    with the reason and the field."""
    async with running(settings, telemetry_app.create) as (_app, _handle, channel):
        call = getattr(pb_grpc.TelemetryServiceStub(channel), method)(request_, metadata=ADMIN, timeout=10)
        await _refused(call, grpc.StatusCode.INVALID_ARGUMENT, reason, field)


async def test_scopes_and_unknown_traces(settings):
    """Reads need the telemetry or admin scope; an unknown trace is NOT_FOUND (TRACE_NOT_FOUND); hostile search
    text is just text (websearch syntax never fails)."""
    async with running(settings, telemetry_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TelemetryServiceStub(channel)
        await _refused(stub.SearchLogs(pb.SearchLogsRequest(), metadata=NMT_USER, timeout=10),
                       grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
        await _refused(stub.SearchLogs(pb.SearchLogsRequest(), timeout=10), grpc.StatusCode.UNAUTHENTICATED,
                       "UNAUTHENTICATED")
        await _refused(stub.GetTrace(pb.GetTraceRequest(trace_id="ab" * 16), metadata=OPERATOR, timeout=10),
                       grpc.StatusCode.NOT_FOUND, "TRACE_NOT_FOUND", "trace_id")
        for text in ("a & | ! ( ) :* <-> '", "\\", '"unclosed', "or or -", "🙂" * 100):
            assert not (await stub.SearchLogs(pb.SearchLogsRequest(query=text), metadata=OPERATOR,
                                              timeout=10)).entries


async def test_retention_keeps_the_newest_rows_and_drops_old_ones(settings):
    """Retention deletes the oldest rows beyond max_rows and rows older than the age bound; the newest stay."""
    from dataclasses import replace

    from services.telemetry.records import LogRow, SpanRow

    async with running(replace(settings, retention_max_rows=5), telemetry_app.create) as (app, _handle, channel):
        now = time.time_ns()
        old = now - 30 * 86_400 * 10**9
        spans = [SpanRow(f"{i + 1:032x}", f"{i + 1:016x}", "", "nmt", "op", 2, now + i, now + i + 1000, 1, "", "", {})
                 for i in range(8)] + [SpanRow("f" * 32, "f" * 16, "", "nmt", "old", 2, old, old + 1, 1, "", "", {})]
        logs = [LogRow(now + i, "nmt", 2, "l", f"line {i}", "", "", "", {}) for i in range(7)]
        app.ingest.offer(spans=spans, logs=logs)
        assert await app.ingest.drain()
        deleted = await app.retention.run_once()
        assert deleted == (4 + 1, 2)  # 4 past the newest 5 spans (the old one arrived last), then the old one
        stub = pb_grpc.TelemetryServiceStub(channel)
        found = await stub.SearchTraces(pb.SearchTracesRequest(), metadata=ADMIN, timeout=10)
        assert sorted(t.trace_id for t in found.traces) == [f"{i + 1:032x}" for i in range(4, 8)]
        entries = (await stub.SearchLogs(pb.SearchLogsRequest(), metadata=ADMIN, timeout=10)).entries
        assert [e.message for e in entries] == [f"line {i}" for i in range(6, 1, -1)]


async def test_exporters_never_block_when_the_collector_is_away():
    """With nothing listening, span export fails fast and counts the drop; the log handler's emit returns at once
    and, past its queue bound, drops and counts."""
    from deploy.local.parts import free_port

    port = free_port()
    provider, exporter = _provider("nmt", port)
    start = time.perf_counter()
    with provider.get_tracer("t").start_as_current_span("x"):
        pass
    assert exporter.dropped == 1 and time.perf_counter() - start < 3
    handler = OtlpLogHandler("nmt", f"127.0.0.1:{port}", max_queue=10, interval_s=60)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    start = time.perf_counter()
    for _ in range(1000):
        handler.emit(record)
    assert time.perf_counter() - start < 0.5
    assert handler.dropped == 990
    handler.close()
    provider.shutdown()
