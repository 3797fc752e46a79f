"""OTLP/HTTP receiver: `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON bodies, for
exporters that speak only HTTP — Triton's OpenTelemetry tracer among them (it sends JSON) —
beside the OTLP/gRPC collector on the service's gRPC port. Same ingest: decode, queue, answer at
once; never waits on the store.

A small HTTP/1.1 server on asyncio streams (keep-alive, Content-Length bodies: OTLP exporters
send a length). Bodies over `MAX_BODY_BYTES` get 413, other paths 404, an undecodable body 400;
the connection survives all of them.

OTLP's JSON encoding differs from protobuf's JSON mapping in two ways this undoes before parsing:
trace and span ids are hex (not base64), and OTLP 1.x names `scopeSpans`/`scopeLogs`/`scope`
what the OTLP 0.11 messages we parse with (from the `xds-protos` wheel) call
`instrumentationLibrarySpans`/`instrumentationLibraryLogs`/`instrumentationLibrary` (same field
numbers, so the protobuf encoding is the same).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from services.telemetry import records
from services.telemetry.core import Ingest

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
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
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self.routes: dict[str, tuple[type[Message], Callable[[Any], None], Message]] = {
            "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest,
                           lambda request: self.ingest.offer(spans=records.spans_of(request)),
                           trace_service_pb2.ExportTraceServiceResponse()),
            "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest,
                         lambda request: self.ingest.offer(logs=records.logs_of(request)),
                         logs_service_pb2.ExportLogsServiceResponse()),
        }

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEADER_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("OTLP/HTTP receiver listening", extra={"port": self.port})
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                parts = request_line.split(" ")
                headers = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                try:
                    length = int(headers.get("content-length", "0"))
                except ValueError:
                    length = -1
                if length < 0 or length > MAX_BODY_BYTES:
                    await self._answer(writer, 413 if length > 0 else 400, b"", "", close=True)
                    return
                body = await reader.readexactly(length) if length else b""
                content_type = headers.get("content-type", "application/x-protobuf")
                status, payload = self._handle(parts[0] if parts else "", parts[1] if len(parts) > 1 else "",
                                               body, content_type)
                keep = headers.get("connection", "").lower() != "close"
                await self._answer(writer, status, payload, content_type, close=not keep)
                if not keep:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _handle(self, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        route = self.routes.get(path.split("?", 1)[0])
        if route is None or method != "POST":
            return 404, b""
        message, offer, answer = route
        try:
            request = parse(body, content_type, message)
        except (DecodeError, ValueError, json_format.ParseError, binascii.Error, TypeError):
            return 400, b""
        offer(request)
        return 200, (b"{}" if "json" in content_type else answer.SerializeToString())

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes, content_type: str, *,
                      close: bool) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}[status]
        kind = "application/json" if "json" in content_type else "application/x-protobuf"
        head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {len(body)}\r\n"
        if close:
            head += "connection: close\r\n"
        writer.write((head + "\r\n").encode("latin-1") + body)
        await writer.drain()
