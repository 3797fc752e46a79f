"""What the telemetry service stores: spans and log records, decoded from OTLP export requests.

Knows nothing of grpc. Decoding is cheap and bounded (attribute counts and string lengths are
capped) so that the Export handler can do it and return; the writes happen later, in batches
(`core.Ingest`). Ids become lowercase hex; OTLP's span status (unset/ok/error = 0/1/2) becomes
the API's `SpanStatus` (1/2/3); OTLP severity numbers become the API's `LogLevel`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2

REQUEST_ID_ATTRIBUTE = "ai4vc.request_id"
MAX_ATTRIBUTES = 64
MAX_STRING = 4096
MAX_MESSAGE = 8192
MAX_NAME = 256
MAX_DEPTH = 4
# API LogLevel numbers.
DEBUG, INFO, WARNING, ERROR, CRITICAL = 1, 2, 3, 4, 5
LEVEL_NAMES = {"DEBUG": DEBUG, "TRACE": DEBUG, "INFO": INFO, "WARN": WARNING, "WARNING": WARNING, "ERROR": ERROR,
               "FATAL": CRITICAL, "CRITICAL": CRITICAL}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# Timestamps outside this are clamped: PostgreSQL and Python datetimes hold years 1 to 9999.
_MIN_NS, _MAX_NS = 0, 253402300799 * 10**9


@dataclasses.dataclass(frozen=True)
class SpanRow:
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status: int
    status_message: str
    request_id: str
    attributes: dict[str, Any]

    @property
    def duration_us(self) -> int:
        return max(0, self.end_ns - self.start_ns) // 1000


@dataclasses.dataclass(frozen=True)
class LogRow:
    time_ns: int
    service: str
    level: int
    logger: str
    message: str
    request_id: str
    trace_id: str
    span_id: str
    attributes: dict[str, Any]


def to_datetime(ns: int) -> datetime.datetime:
    return EPOCH + datetime.timedelta(microseconds=clamp_ns(ns) // 1000)


def to_ns(value: datetime.datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def clamp_ns(ns: int) -> int:
    return min(max(ns, _MIN_NS), _MAX_NS)


def _text(value: str, limit: int = MAX_STRING) -> str:
    # U+0000 cannot be stored in PostgreSQL text or jsonb.
    return value[:limit].replace("\x00", "\ufffd")


def _hex(raw: bytes, size: int) -> str:
    return raw.hex() if len(raw) == size and any(raw) else ""


def json_value(value: common_pb2.AnyValue, depth: int = 0) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return _text(value.string_value)
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        return number if number == number and abs(number) != float("inf") else str(number)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value[:MAX_STRING]).decode()
    if depth >= MAX_DEPTH:
        return None
    if kind == "array_value":
        return [json_value(v, depth + 1) for v in value.array_value.values[:MAX_ATTRIBUTES]]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values, depth + 1)
    return None


def attributes(values: Any, depth: int = 0) -> dict[str, Any]:
    return {_text(kv.key, MAX_NAME): json_value(kv.value, depth) for kv in list(values)[:MAX_ATTRIBUTES]}


def _service(resource_attributes: dict[str, Any]) -> str:
    return _text(str(resource_attributes.get("service.name") or "unknown"), 128)


def spans_of(request: trace_service_pb2.ExportTraceServiceRequest) -> list[SpanRow]:
    rows = []
    for resource_spans in request.resource_spans:
        service = _service(attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.instrumentation_library_spans:
            for span in scope_spans.spans:
                trace_id, span_id = _hex(span.trace_id, 16), _hex(span.span_id, 8)
                if not trace_id or not span_id:
                    continue  # not a span anyone could look up
                attrs = attributes(span.attributes)
                start = clamp_ns(span.start_time_unix_nano)
                rows.append(SpanRow(
                    trace_id=trace_id, span_id=span_id, parent_span_id=_hex(span.parent_span_id, 8),
                    service=service, name=_text(span.name, MAX_NAME), kind=int(span.kind),
                    start_ns=start, end_ns=max(start, clamp_ns(span.end_time_unix_nano)),
                    status=int(span.status.code) + 1, status_message=_text(span.status.message, 1024),
                    request_id=_text(str(attrs.get(REQUEST_ID_ATTRIBUTE) or ""), 128), attributes=attrs))
    return rows


def level_of(severity_number: int, severity_text: str) -> int:
    if severity_number <= 0:
        return LEVEL_NAMES.get(severity_text.upper(), 0)
    if severity_number <= 8:
        return DEBUG
    return min(CRITICAL, INFO + (severity_number - 9) // 4)


def logs_of(request: logs_service_pb2.ExportLogsServiceRequest) -> list[LogRow]:
    rows = []
    for resource_logs in request.resource_logs:
        service = _service(attributes(resource_logs.resource.attributes))
        for scope_logs in resource_logs.instrumentation_library_logs:
            for record in scope_logs.logs:
                attrs = attributes(record.attributes)
                body = record.body
                message = body.string_value if body.WhichOneof("value") == "string_value" else str(json_value(body))
                rows.append(LogRow(
                    time_ns=clamp_ns(record.time_unix_nano), service=service,
                    level=level_of(int(record.severity_number), record.severity_text),
                    logger=_text(str(attrs.pop("logger", "") or ""), MAX_NAME), message=_text(message, MAX_MESSAGE),
                    request_id=_text(str(attrs.pop(REQUEST_ID_ATTRIBUTE, "") or ""), 128),
                    trace_id=_hex(record.trace_id, 16), span_id=_hex(record.span_id, 8), attributes=attrs))
    return rows
