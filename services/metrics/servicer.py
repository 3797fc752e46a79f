"""gRPC adapter for the metrics core: proto → domain call → proto. The caller's identity is read
from the headers the edge set, by `services.common.rpc.identity`."""

from __future__ import annotations

import datetime

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from ai4vc.metrics.v1 import metrics_service_pb2 as pb
from ai4vc.metrics.v1 import metrics_service_pb2_grpc as pb_grpc
from services.common.errors import InvalidArgument, Reason
from services.common.rpc.identity import caller_of
from services.metrics.core import MetricsCore, Row, Summary, Totals, check_query
from services.metrics.records import LATENCY_BOUNDS_S

GRANULARITIES = {pb.USAGE_GRANULARITY_UNSPECIFIED: "", pb.USAGE_GRANULARITY_MINUTE: "minute",
                 pb.USAGE_GRANULARITY_DAY: "day"}
# Instants accepted: 1970-01-01 up to (not including) 9000-01-01 UTC.
_MIN_SECONDS = 0
_MAX_SECONDS = int(datetime.datetime(9000, 1, 1, tzinfo=datetime.UTC).timestamp())



def instant(message: pb.QueryUsageRequest | pb.GetUsageSummaryRequest, field: str) -> datetime.datetime | None:
    """The field's instant (UTC), None when unset; FIELD_OUT_OF_RANGE outside 1970 to 9000."""
    if not message.HasField(field):  # type: ignore[arg-type]
        return None
    ts: timestamp_pb2.Timestamp = getattr(message, field)
    if not (_MIN_SECONDS <= ts.seconds < _MAX_SECONDS and 0 <= ts.nanos <= 999_999_999):
        raise InvalidArgument(f"{field} must be between 1970-01-01 and 9000-01-01 UTC",
                              reason=Reason.FIELD_OUT_OF_RANGE, field=field)
    return ts.ToDatetime(tzinfo=datetime.UTC)


def _ts(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(round(seconds * 1e9))
    return value


def totals_proto(totals: Totals) -> pb.UsageTotals:
    buckets = [pb.LatencyBucket(upper_bound=_duration(bound), count=count)
               for bound, count in zip(LATENCY_BOUNDS_S, totals.latency_buckets, strict=False)]
    buckets.append(pb.LatencyBucket(count=totals.latency_buckets[-1]))
    return pb.UsageTotals(
        request_count=totals.request_count, error_count=totals.error_count, errors_by_reason=totals.errors_by_reason,
        characters=totals.characters, audio_seconds=totals.audio_seconds,
        metered_characters=totals.metered_characters, metered_audio_seconds=totals.metered_audio_seconds,
        total_latency=_duration(totals.latency_seconds), latency_buckets=buckets)


def row_proto(row: Row) -> pb.UsageRow:
    return pb.UsageRow(bucket_start_time=_ts(row.bucket_start), totals=totals_proto(row.totals), **row.dimensions)


def summary_proto(summary: Summary) -> pb.UsageSummary:
    return pb.UsageSummary(
        totals=totals_proto(summary.totals),
        by_service=[pb.DimensionTotals(value=v, totals=totals_proto(t)) for v, t in summary.by_service],
        by_language=[pb.DimensionTotals(value=v, totals=totals_proto(t)) for v, t in summary.by_language])


class MetricsServicer(pb_grpc.MetricsServiceServicer):
    def __init__(self, core: MetricsCore) -> None:
        self.core = core

    async def QueryUsage(self, request: pb.QueryUsageRequest, context: grpc.aio.ServicerContext
                         ) -> pb.QueryUsageResponse:
        caller = caller_of(context).require()
        query = check_query(
            instant(request, "start_time"), instant(request, "end_time"),
            GRANULARITIES.get(request.granularity, "?"), list(request.group_by),
            {"key_id": request.key_ids, "service": request.services, "method": request.methods,
             "language_code": request.language_codes, "model": request.models})
        rows, token = await self.core.query_usage(caller, query, request.page_size, request.page_token)
        return pb.QueryUsageResponse(rows=[row_proto(r) for r in rows], next_page_token=token)

    async def GetUsageSummary(self, request: pb.GetUsageSummaryRequest, context: grpc.aio.ServicerContext
                              ) -> pb.GetUsageSummaryResponse:
        caller = caller_of(context).require()
        summary = await self.core.usage_summary(caller, request.key_id, request.username,
                                                instant(request, "start_time"), instant(request, "end_time"))
        return pb.GetUsageSummaryResponse(today=summary_proto(summary.today), range=summary_proto(summary.range),
                                          range_start_time=_ts(summary.range_start),
                                          range_end_time=_ts(summary.range_end))
