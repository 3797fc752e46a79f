"""OTLP/HTTP receiver: `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON bodies, for
exporters that speak only HTTP — Triton's OpenTelemetry tracer among them (it sends JSON) —
beside the OTLP/gRPC collector on the service's gRPC port. Same ingest: decode, queue, answer at
once; never waits on the store.

On the chassis' small HTTP/1.1 server (`services.common.http_server`: keep-alive,
Content-Length bodies — OTLP exporters send a length). Bodies over `MAX_BODY_BYTES` get 413,
other paths 404, an undecodable body 400 (the connection survives both).

OTLP's JSON encoding differs from protobuf's JSON mapping in two ways this undoes before parsing:
trace and span ids are hex (not base64), and OTLP 1.x names `scopeSpans`/`scopeLogs`/`scope`
what the OTLP 0.11 messages we parse with (from the `xds-protos` wheel) call
`instrumentationLibrarySpans`/`instrumentationLibraryLogs`/`instrumentationLibrary` (same field
numbers, so the protobuf encoding is the same).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from services.common.http_server import HttpServer, Request, Response
from services.telemetry import records
from services.telemetry.core import Ingest

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024 * 1024
_IDS = ("traceId", "spanId", "parentSpanId")
_RENAMES = {"scopeSpans": "instrumentationLibrarySpans", "scopeLogs": "instrumentationLibraryLogs",
            "scope": "instrumentationLibrary"}


def _from_otlp_json(value: Any) -> Any:
    """OTLP JSON → the protobuf JSON mapping of the 0.11 messages (see the module docstring)."""
    if isinstance(value, list):
        return [_from_otlp_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in _IDS and isinstance(item, str):
            try:
                item = base64.b64encode(bytes.fromhex(item)).decode()
            except ValueError:
                pass  # already base64, or garbage the parser will refuse
        out[_RENAMES.get(key, key)] = _from_otlp_json(item)
    return out


def parse(body: bytes, content_type: str, message: type[Message]) -> Message:
    """An Export request from an OTLP/HTTP body (protobuf, or JSON when the content type says so)."""
    if "json" in content_type:
        return json_format.ParseDict(_from_otlp_json(json.loads(body)), message(), ignore_unknown_fields=True)
    return message.FromString(body)


class OtlpHttpReceiver:
    def __init__(self, ingest: Ingest, host: str, port: int) -> None:
        self.ingest = ingest
        self.routes: dict[str, tuple[type[Message], Callable[[Any], None], Message]] = {
            "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest,
                           lambda request: self.ingest.offer(spans=records.spans_of(request)),
                           trace_service_pb2.ExportTraceServiceResponse()),
            "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest,
                         lambda request: self.ingest.offer(logs=records.logs_of(request)),
                         logs_service_pb2.ExportLogsServiceResponse()),
        }
        self.server = HttpServer(self._handle, host, port, name="OTLP/HTTP receiver", max_body_bytes=MAX_BODY_BYTES)

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> int:
        return await self.server.start()

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "application/x-protobuf")
        kind = "application/json" if "json" in content_type else "application/x-protobuf"
        route = self.routes.get(request.path)
        if route is None or request.method != "POST":
            return Response(404, content_type=kind)
        message, offer, answer = route
        try:
            parsed = parse(request.body, content_type, message)
        except (DecodeError, ValueError, json_format.ParseError, binascii.Error, TypeError) as exc:
            log.warning("OTLP/HTTP export refused: %s: %s", type(exc).__name__, str(exc)[:300],
                        extra={"path": request.path, "bytes": len(request.body)})
            return Response(400, content_type=kind)
        offer(parsed)
        return Response(200, b"{}" if "json" in content_type else answer.SerializeToString(), kind)
