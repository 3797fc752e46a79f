"""gRPC adapters: the TelemetryService API (proto → core → proto), and the OTLP collector
services (TraceService/Export, LogsService/Export) that decode an export and hand it to the
ingest queue without waiting on the store. The OTLP handlers are registered by method path
(`xds-protos` ships OTLP's messages but no grpc stubs; see `services.common.otlp`)."""

from __future__ import annotations

from typing import Any, cast

import grpc
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from ai4vc.telemetry.v1 import telemetry_service_pb2 as pb
from ai4vc.telemetry.v1 import telemetry_service_pb2_grpc as pb_grpc
from services.common.rpc.identity import caller_of
from services.telemetry import records
from services.telemetry.core import Ingest, TelemetryCore, TraceSummary, duration_us, instant_ns
from services.telemetry.records import LogRow, SpanRow

TRACE_SERVICE = trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name
LOGS_SERVICE = logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name



def _ts(ns: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=ns // 10**9, nanos=ns % 10**9)


def _duration(ns: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=ns // 10**9, nanos=ns % 10**9)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update({k: v if isinstance(v, (str, bool, int, float, list, dict, type(None))) else str(v)
                   for k, v in values.items()})
    return struct


def _instant(request: Any, field: str) -> int | None:
    if not request.HasField(field):
        return None
    value = getattr(request, field)
    return instant_ns(value.seconds, value.nanos, field)


def span_proto(span: SpanRow) -> pb.Span:
    return pb.Span(trace_id=span.trace_id, span_id=span.span_id, parent_span_id=span.parent_span_id,
                   service=span.service, name=span.name,
                   kind=cast(pb.SpanKind, span.kind if 0 <= span.kind <= 5 else 0),
                   start_time=_ts(span.start_ns), end_time=_ts(span.end_ns),
                   duration=_duration(span.end_ns - span.start_ns),
                   status=cast(pb.SpanStatus, span.status if 1 <= span.status <= 3 else 0),
                   status_message=span.status_message,
                   request_id=span.request_id, attributes=_struct(span.attributes))


def summary_proto(found: TraceSummary) -> pb.TraceSummary:
    return pb.TraceSummary(trace_id=found.trace_id, root_service=found.root_service, root_name=found.root_name,
                           start_time=_ts(found.start_ns), duration=_duration(max(0, found.end_ns - found.start_ns)),
                           span_count=found.span_count, error_count=found.error_count, request_id=found.request_id,
                           services=found.services)


def log_proto(row: LogRow) -> pb.LogEntry:
    return pb.LogEntry(time=_ts(row.time_ns), service=row.service,
                       level=cast(pb.LogLevel, row.level if 0 <= row.level <= 5 else 0),
                       logger=row.logger, message=row.message, request_id=row.request_id, trace_id=row.trace_id,
                       span_id=row.span_id, attributes=_struct(row.attributes))


class TelemetryServicer(pb_grpc.TelemetryServiceServicer):
    def __init__(self, core: TelemetryCore) -> None:
        self.core = core

    async def GetTrace(self, request: pb.GetTraceRequest, context: grpc.aio.ServicerContext) -> pb.GetTraceResponse:
        trace_id, spans, truncated = await self.core.get_trace(caller_of(context), request.trace_id)
        return pb.GetTraceResponse(trace_id=trace_id, spans=[span_proto(s) for s in spans], truncated=truncated)

    async def SearchTraces(self, request: pb.SearchTracesRequest, context: grpc.aio.ServicerContext
                           ) -> pb.SearchTracesResponse:
        caller = caller_of(context)
        min_duration = duration_us(request.min_duration.seconds, request.min_duration.nanos, "min_duration")
        found, token = await self.core.search_traces(
            caller, service=request.service, span_name=request.span_name, min_duration_us=min_duration,
            status=int(request.status), request_id=request.request_id, start_ns=_instant(request, "start_time"),
            end_ns=_instant(request, "end_time"), page_size=request.page_size, page_token=request.page_token)
        return pb.SearchTracesResponse(traces=[summary_proto(t) for t in found], next_page_token=token)

    async def SearchLogs(self, request: pb.SearchLogsRequest, context: grpc.aio.ServicerContext
                         ) -> pb.SearchLogsResponse:
        found, token = await self.core.search_logs(
            caller_of(context), text=request.query, service=request.service, min_level=int(request.level),
            request_id=request.request_id, trace_id=request.trace_id, start_ns=_instant(request, "start_time"),
            end_ns=_instant(request, "end_time"), page_size=request.page_size, page_token=request.page_token)
        return pb.SearchLogsResponse(entries=[log_proto(r) for r in found], next_page_token=token)


class Collector:
    """OTLP/gRPC receivers: decode, queue, answer. An export never waits on the store."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def export_traces(self, request: trace_service_pb2.ExportTraceServiceRequest,
                            context: grpc.aio.ServicerContext) -> trace_service_pb2.ExportTraceServiceResponse:
        self.ingest.offer(spans=records.spans_of(request))
        return trace_service_pb2.ExportTraceServiceResponse()

    async def export_logs(self, request: logs_service_pb2.ExportLogsServiceRequest,
                          context: grpc.aio.ServicerContext) -> logs_service_pb2.ExportLogsServiceResponse:
        self.ingest.offer(logs=records.logs_of(request))
        return logs_service_pb2.ExportLogsServiceResponse()

    def register(self, server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler(TRACE_SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(
                self.export_traces, request_deserializer=trace_service_pb2.ExportTraceServiceRequest.FromString,
                response_serializer=trace_service_pb2.ExportTraceServiceResponse.SerializeToString)}),
            grpc.method_handlers_generic_handler(LOGS_SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(
                self.export_logs, request_deserializer=logs_service_pb2.ExportLogsServiceRequest.FromString,
                response_serializer=logs_service_pb2.ExportLogsServiceResponse.SerializeToString)}),
        ))
