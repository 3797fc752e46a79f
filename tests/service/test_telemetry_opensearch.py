"""The telemetry service on its optional OpenSearch store, against osmem-server — an in-memory
OpenSearch API emulator (PyPI `osmem-server`), not a real OpenSearch: started from this test,
one clone of it per test. Export → GetTrace / SearchTraces / SearchLogs, paging and retention
through the same API as the PostgreSQL store."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from osmem_server import OsmemServer

from ai4vc.telemetry.v1 import telemetry_service_pb2 as pb
from ai4vc.telemetry.v1 import telemetry_service_pb2_grpc as pb_grpc
from services.common.logs import request_id_var
from services.common.otlp import OtlpLogHandler
from services.telemetry import app as telemetry_app
from services.telemetry.records import LogRow, SpanRow
from services.telemetry.settings import TelemetrySettings
from tests.service.harness import running
from tests.service.test_telemetry_service import ADMIN, _export_request_trace, _provider, _until


@pytest.fixture(scope="module")
def emulator() -> Iterator[OsmemServer]:
    """The OpenSearch API emulator (osmem-server), once for this module."""
    server = OsmemServer.start(japanese=False)
    yield server
    server.close()


@pytest.fixture
def settings(emulator) -> Iterator[TelemetrySettings]:
    with emulator.clone() as clone:
        yield TelemetrySettings(port=0, metrics_port=-1, opensearch_url=clone.url, log_json=False,
                                flush_interval_s=0.02, retention_interval_s=3600)


async def test_opensearch_store_answers_the_same_api(settings):
    """Spans and log records exported over OTLP land in OpenSearch; GetTrace, SearchTraces and SearchLogs
    (full text, request id, trace id, level, pages) answer as with PostgreSQL."""
    async with running(settings, telemetry_app.create) as (app, handle, channel):
        provider, exporter = _provider("nmt", handle.port)
        trace_id, root_id = await asyncio.to_thread(_export_request_trace, provider)
        handler = OtlpLogHandler("nmt", f"127.0.0.1:{handle.port}", interval_s=0.05)
        logger = logging.getLogger("tests.telemetry.os")
        logger.propagate = False
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        token = request_id_var.set("req-os-1")
        logger.warning("model slow to answer")
        request_id_var.reset(token)
        for i in range(4):
            logger.info("tick %d done", i)
        await asyncio.to_thread(handler.close)
        logger.removeHandler(handler)
        stub = pb_grpc.TelemetryServiceStub(channel)

        async def whole_trace():
            answer = await stub.SearchTraces(pb.SearchTracesRequest(request_id="req-1"), metadata=ADMIN, timeout=10)
            return answer if answer.traces and answer.traces[0].span_count == 3 else None

        found = await _until(whole_trace)
        assert found is not None and found.traces[0].trace_id == trace_id
        assert found.traces[0].root_name == "/ai4vc.nmt.v1.NmtService/TranslateText"
        assert found.traces[0].error_count == 1
        answer = await stub.GetTrace(pb.GetTraceRequest(trace_id=trace_id), metadata=ADMIN, timeout=10)
        assert answer.spans[0].span_id == root_id and len(answer.spans) == 3
        assert {s.parent_span_id for s in answer.spans[1:]} == {root_id}

        async def logs(**fields):
            return (await stub.SearchLogs(pb.SearchLogsRequest(**fields), metadata=ADMIN, timeout=10)).entries

        assert await _until(lambda: _has(logs(service="nmt"), 5))
        assert [e.message for e in await logs(request_id="req-os-1")] == ["model slow to answer"]
        assert [e.message for e in await logs(query="slow answer")] == ["model slow to answer"]
        assert [e.level for e in await logs(level=pb.LOG_LEVEL_WARNING)] == [pb.LOG_LEVEL_WARNING]
        messages, page_token = [], ""
        while True:
            page = await stub.SearchLogs(pb.SearchLogsRequest(service="nmt", page_size=2, page_token=page_token),
                                         metadata=ADMIN, timeout=10)
            messages += [e.message for e in page.entries]
            page_token = page.next_page_token
            if not page_token:
                break
        assert messages == ["tick 3 done", "tick 2 done", "tick 1 done", "tick 0 done", "model slow to answer"]
        provider.shutdown()


async def _has(call, count: int) -> bool:
    return len(await call) == count


async def test_opensearch_retention_and_trace_pages(settings):
    """Retention deletes documents older than the age bound and the oldest beyond the row bound; SearchTraces
    pages through traces without repeating one."""
    from dataclasses import replace

    async with running(replace(settings, retention_max_rows=6), telemetry_app.create) as (app, _handle, channel):
        now = time.time_ns()
        old = now - 30 * 86_400 * 10**9
        spans = [SpanRow(f"{i // 2 + 1:032x}", f"{i + 1:016x}", "", "nmt", "op", 2, now + i * 1000,
                         now + i * 1000 + 500, 1, "", "", {}) for i in range(8)]
        spans.append(SpanRow("f" * 32, "f" * 16, "", "nmt", "old", 2, old, old + 1, 1, "", "", {}))
        app.ingest.offer(spans=spans, logs=[LogRow(old, "nmt", 2, "l", "ancient", "", "", "", {})])
        assert await app.ingest.drain()
        stub = pb_grpc.TelemetryServiceStub(channel)
        seen, token = [], ""
        while True:
            page = await stub.SearchTraces(pb.SearchTracesRequest(page_size=1, page_token=token), metadata=ADMIN,
                                           timeout=10)
            seen += [t.trace_id for t in page.traces]
            token = page.next_page_token
            if not token:
                break
        assert seen == [f"{i:032x}" for i in (4, 3, 2, 1)]
        assert await app.retention.run_once() == (1 + 2, 1)
        left = await stub.SearchTraces(pb.SearchTracesRequest(), metadata=ADMIN, timeout=10)
        assert sorted(t.trace_id for t in left.traces) == [f"{i:032x}" for i in (2, 3, 4)]
