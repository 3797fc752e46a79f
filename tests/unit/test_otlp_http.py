"""The OTLP/HTTP receiver's decoding: OTLP JSON (hex ids, OTLP 1.x scope names) and protobuf."""

from __future__ import annotations

import base64
import json

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from services.telemetry.otlp_http import parse

TRACE_ID, SPAN_ID = "ab" * 16, "cd" * 8
JSON_BODY = {"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "triton"}}]},
    "scopeSpans": [{"scope": {"name": "triton-server"}, "spans": [{
        "traceId": TRACE_ID, "spanId": SPAN_ID, "parentSpanId": "ef" * 8, "name": "compute", "kind": 1,
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000001000000"}]}]}]}


def test_otlp_json_as_triton_sends_it_is_parsed_with_its_hex_ids() -> None:
    """Hex trace/span ids and `scopeSpans` (OTLP 1.x JSON) land in the right fields of the parsed request."""
    request = parse(json.dumps(JSON_BODY).encode(), "application/json", trace_service_pb2.ExportTraceServiceRequest)
    [resource] = request.resource_spans
    [library] = resource.instrumentation_library_spans
    [span] = library.spans
    assert span.trace_id.hex() == TRACE_ID and span.span_id.hex() == SPAN_ID and span.parent_span_id.hex() == "ef" * 8
    assert span.name == "compute" and span.end_time_unix_nano - span.start_time_unix_nano == 1_000_000
    assert resource.resource.attributes[0].value.string_value == "triton"


def test_protobuf_bodies_round_trip() -> None:
    """A protobuf body (the default content type) parses to the same request."""
    request = parse(json.dumps(JSON_BODY).encode(), "application/json", trace_service_pb2.ExportTraceServiceRequest)
    again = parse(request.SerializeToString(), "application/x-protobuf", trace_service_pb2.ExportTraceServiceRequest)
    assert again == request


def test_base64_ids_are_left_alone() -> None:
    """Ids already in protobuf-JSON base64 (not hex) are not mangled."""
    body = json.loads(json.dumps(JSON_BODY))
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceId"] = base64.b64encode(bytes.fromhex(TRACE_ID)).decode()
    request = parse(json.dumps(body).encode(), "application/json", trace_service_pb2.ExportTraceServiceRequest)
    assert request.resource_spans[0].instrumentation_library_spans[0].spans[0].trace_id.hex() == TRACE_ID


async def test_receiver_answers_each_request_and_keeps_the_connection() -> None:
    """Over one keep-alive connection: JSON spans are taken (200), garbage is 400, another path 404;
    a declared body over the limit is 413 and closes; the spans reach the ingest."""
    import asyncio

    from services.telemetry.otlp_http import MAX_BODY_BYTES, OtlpHttpReceiver

    class Taken:
        def __init__(self) -> None:
            self.spans: list[object] = []

        def offer(self, spans: list[object] = (), logs: list[object] = ()) -> None:  # type: ignore[assignment]
            self.spans.extend(spans)

    taken = Taken()
    receiver = OtlpHttpReceiver(taken, "127.0.0.1", 0)  # type: ignore[arg-type]
    port = await receiver.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def post(path: str, body: bytes, kind: str = "application/json", length: int | None = None) -> int:
            size = len(body) if length is None else length
            writer.write(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: {kind}\r\ncontent-length: {size}\r\n\r\n"
                         .encode() + body)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
            length_line = next(line for line in headers.split("\r\n") if line.startswith("content-length"))
            await reader.readexactly(int(length_line.split(":")[1]))
            return status

        assert await post("/v1/traces", json.dumps(JSON_BODY).encode()) == 200
        assert await post("/v1/traces", b"{not json") == 400
        assert await post("/v1/traces", b"\xff\x00garbage", "application/x-protobuf") == 400
        assert await post("/v1/metrics", b"{}") == 404
        assert await post("/v1/traces", b"", length=MAX_BODY_BYTES + 1) == 413
        writer.close()
        assert len(taken.spans) == 1
    finally:
        await receiver.close()
