"""OTLP/gRPC export of spans and log records to the telemetry service, never in a request's way.

The OTLP messages are the `opentelemetry.proto` modules that the pinned `xds-protos` wheel
ships (OTLP 0.11 field names; on the wire the same as OTLP 1.x for everything used here —
`instrumentation_library_spans` is field 2, today's `scope_spans`). The `opentelemetry-proto`
1.45 wheel that matches our SDK needs protobuf ≥ 5, and this repository's generated code and
`grpcio-tools` pin protobuf 4.25, so the exporters are written here, on the SDK's public
`SpanExporter` interface, and the collector side (`services/telemetry`) registers its handlers
by method path.

Spans go through the SDK's `BatchSpanProcessor` (a bounded queue, exported from its own
thread). Log records go through `OtlpLogHandler`, a `logging.Handler` that captures the record
with the request id and the current trace and span ids, appends it to a bounded deque and
returns; a daemon thread encodes and exports batches. Either way a full queue drops (and
counts) the newest, and a failed export drops the batch (counted): a collector that is away
costs a request nothing but the capture.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from services.common.logs import request_id_var
from services.common.rpc import tls

TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS_EXPORT = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
REQUEST_ID_ATTRIBUTE = "ai4vc.request_id"
# Loggers whose records are never exported: our own, and what the export path itself logs
# (a failing export must not make more records to export).
_UNEXPORTED = (__name__, "opentelemetry", "grpc")
_SKIP = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# stdlib level → OTLP SeverityNumber (DEBUG=5, INFO=9, WARN=13, ERROR=17, FATAL=21).
_SEVERITY = ((logging.CRITICAL, 21), (logging.ERROR, 17), (logging.WARNING, 13), (logging.INFO, 9))
MAX_MESSAGE_CHARS = 8192


def any_value(value: Any) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return common_pb2.AnyValue(int_value=value)
        return common_pb2.AnyValue(string_value=str(value))
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, bytes):
        return common_pb2.AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(v) for v in value]))
    return common_pb2.AnyValue(string_value=repr(value))


def key_values(attributes: Mapping[str, Any] | None) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=str(k), value=any_value(v)) for k, v in (attributes or {}).items()]


def _resource(attributes: Mapping[str, Any]) -> resource_pb2.Resource:
    return resource_pb2.Resource(attributes=key_values(attributes))


def encode_spans(spans: Sequence[ReadableSpan]) -> trace_service_pb2.ExportTraceServiceRequest:
    """An OTLP trace export request: spans grouped by resource, then by instrumentation scope."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str], list[trace_pb2.Span]]]] = {}
    for span in spans:
        context = span.context
        if context is None:
            continue
        resource = span.resource
        _, scopes = by_resource.setdefault(id(resource), (resource, {}))
        scope = span.instrumentation_scope
        key = (scope.name, scope.version or "") if scope is not None else ("", "")
        parent = span.parent
        status = span.status
        scopes.setdefault(key, []).append(trace_pb2.Span(
            trace_id=context.trace_id.to_bytes(16, "big"),
            span_id=context.span_id.to_bytes(8, "big"),
            trace_state=context.trace_state.to_header() if context.trace_state else "",
            parent_span_id=parent.span_id.to_bytes(8, "big") if parent is not None else b"",
            name=span.name,
            kind=span.kind.value + 1,  # SDK INTERNAL=0 … CONSUMER=4; OTLP leaves 0 unspecified
            start_time_unix_nano=span.start_time or 0,
            end_time_unix_nano=span.end_time or 0,
            attributes=key_values(span.attributes),
            dropped_attributes_count=span.dropped_attributes,
            events=[trace_pb2.Span.Event(time_unix_nano=e.timestamp, name=e.name, attributes=key_values(e.attributes))
                    for e in span.events],
            links=[trace_pb2.Span.Link(trace_id=link.context.trace_id.to_bytes(16, "big"),
                                       span_id=link.context.span_id.to_bytes(8, "big"),
                                       attributes=key_values(link.attributes)) for link in span.links],
            status=trace_pb2.Status(code=status.status_code.value, message=status.description or ""),
        ))
    request = trace_service_pb2.ExportTraceServiceRequest()
    for resource, scopes in by_resource.values():
        request.resource_spans.append(trace_pb2.ResourceSpans(
            resource=_resource(resource.attributes if resource is not None else {}),
            instrumentation_library_spans=[
                trace_pb2.InstrumentationLibrarySpans(
                    instrumentation_library=common_pb2.InstrumentationLibrary(name=name, version=version),
                    spans=items)
                for (name, version), items in scopes.items()]))
    return request


class OtlpSpanExporter(SpanExporter):
    """Sends span batches to an OTLP/gRPC collector; a batch that fails is dropped and counted."""

    def __init__(self, endpoint: str, timeout_s: float = 2.0,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.exported = 0
        self.dropped = 0
        # Over TLS with this process's certificate when the mesh runs mTLS (services/common/rpc/tls.py).
        self._channel = tls.sync_secure_or_insecure(endpoint, credentials)
        self._export = self._channel.unary_unary(
            TRACE_EXPORT, request_serializer=trace_service_pb2.ExportTraceServiceRequest.SerializeToString,
            response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self._export(encode_spans(spans), timeout=self.timeout_s)
        except grpc.RpcError:
            self.dropped += len(spans)
            return SpanExportResult.FAILURE
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._channel.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def severity_number(levelno: int) -> int:
    for level, number in _SEVERITY:
        if levelno >= level:
            return number
    return 5


class OtlpLogHandler(logging.Handler):
    """Exports log records over OTLP/gRPC from a background thread; `emit` never blocks."""

    def __init__(self, service: str, endpoint: str, *, max_queue: int = 10_000, batch_size: int = 512,
                 interval_s: float = 0.5, timeout_s: float = 2.0, resource: Mapping[str, Any] | None = None,
                 credentials: grpc.ChannelCredentials | None = None) -> None:
        super().__init__()
        self.service = service
        self.endpoint = endpoint
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.resource = _resource({"service.name": service, **(resource or {})})
        self.exported = 0
        self.dropped = 0  # queue full, or the export failed
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._channel = tls.sync_secure_or_insecure(endpoint, credentials)
        self._export = self._channel.unary_unary(
            LOGS_EXPORT, request_serializer=logs_service_pb2.ExportLogsServiceRequest.SerializeToString,
            response_deserializer=logs_service_pb2.ExportLogsServiceResponse.FromString)
        self._thread = threading.Thread(target=self._run, name="otlp-logs", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_UNEXPORTED):
            return
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            return
        try:
            context = trace.get_current_span().get_span_context()
            extras = {k: v for k, v in record.__dict__.items() if k not in _SKIP and not k.startswith("_")}
            if record.exc_info:
                extras["exception"] = logging.Formatter().formatException(record.exc_info)
            self._queue.append((int(record.created * 1e9), record.levelno, record.levelname, record.name,
                                record.getMessage()[:MAX_MESSAGE_CHARS], request_id_var.get(),
                                context.trace_id if context.is_valid else 0,
                                context.span_id if context.is_valid else 0, extras))
        except Exception:  # noqa: BLE001 - a record that cannot be captured is dropped, never raised
            self.dropped += 1
            return
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def encode(self, items: Iterable[tuple[Any, ...]]) -> logs_service_pb2.ExportLogsServiceRequest:
        records = []
        for time_ns, levelno, levelname, logger, message, request_id, trace_id, span_id, extras in items:
            attributes = {"logger": logger, **({REQUEST_ID_ATTRIBUTE: request_id} if request_id else {})}
            for key, value in extras.items():
                attributes[key] = value if isinstance(value, (str, int, float, bool)) else repr(value)
            records.append(logs_pb2.LogRecord(
                time_unix_nano=time_ns, severity_number=severity_number(levelno), severity_text=levelname,
                body=common_pb2.AnyValue(string_value=message), attributes=key_values(attributes),
                trace_id=trace_id.to_bytes(16, "big") if trace_id else b"",
                span_id=span_id.to_bytes(8, "big") if span_id else b""))
        return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
            resource=self.resource, instrumentation_library_logs=[logs_pb2.InstrumentationLibraryLogs(
                instrumentation_library=common_pb2.InstrumentationLibrary(name="ai4vc"), logs=records)])])

    def _send(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            try:
                self._export(self.encode(batch), timeout=self.timeout_s)
            except grpc.RpcError:
                self.dropped += len(batch)
                return  # the rest waits for the next round (or is dropped when the queue fills)
            except Exception:  # noqa: BLE001 - an unencodable batch is dropped; the thread lives on
                self.dropped += len(batch)
                continue
            self.exported += len(batch)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self._send()

    def flush(self, timeout_s: float = 2.0) -> None:  # type: ignore[override]
        """Exports what is queued (for up to `timeout_s`): shutdown, tests."""
        deadline = time.monotonic() + timeout_s
        while self._queue and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.01)

    def close(self) -> None:
        self.flush()
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=self.timeout_s + 1)
        self._channel.close()
        super().close()
