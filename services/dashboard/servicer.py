"""gRPC adapter for the dashboard core: proto → domain call → proto."""

from __future__ import annotations

import datetime

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from ai4vc.dashboard.v1 import dashboard_service_pb2 as pb
from ai4vc.dashboard.v1 import dashboard_service_pb2_grpc as pb_grpc
from services.common.rpc.identity import caller_of, identity_of
from services.dashboard import core

SECTIONS = {core.AVAILABLE: pb.SECTION_STATE_AVAILABLE, core.UNAVAILABLE: pb.SECTION_STATE_UNAVAILABLE,
            core.NOT_CONFIGURED: pb.SECTION_STATE_NOT_CONFIGURED}
STATES = {core.SERVING: pb.SERVING_STATE_SERVING, core.DEGRADED: pb.SERVING_STATE_DEGRADED,
          core.NOT_SERVING: pb.SERVING_STATE_NOT_SERVING, core.UNREACHABLE: pb.SERVING_STATE_UNREACHABLE,
          core.UNKNOWN: pb.SERVING_STATE_UNKNOWN}


def _ts(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def _duration(seconds: float | None) -> duration_pb2.Duration | None:
    if seconds is None:
        return None
    out = duration_pb2.Duration()
    out.FromNanoseconds(round(seconds * 1e9))
    return out


def _section(section: core.Section) -> pb.SectionStatus:
    return pb.SectionStatus(state=SECTIONS[section.state], detail=section.detail)


def overview_proto(overview: core.Overview) -> pb.GetOverviewResponse:
    shared = overview.shared
    services = [pb.ServiceOverview(
        service=s.name, grpc_service=s.grpc_service, state=STATES[s.state],
        replicas=[pb.ReplicaHealth(address=a, state=STATES[st]) for a, st in s.replicas],
        request_rate=s.traffic.request_rate, error_ratio=s.traffic.error_ratio,
        p50_latency=_duration(s.traffic.p50_s), p99_latency=_duration(s.traffic.p99_s),
        open_streams=s.traffic.open_streams) for s in shared.services]
    alerts = [pb.FiringAlert(name=a.name, severity=a.severity, summary=a.summary,
                             start_time=_ts(a.start) if a.start else None, source=a.source, labels=a.labels)
              for a in shared.alerts]
    return pb.GetOverviewResponse(
        compute_time=_ts(shared.computed), services=services, health_status=_section(shared.health),
        traffic_status=_section(shared.traffic),
        triton_models=[pb.TritonModel(name=m.name, version=m.version, ready=m.ready, state=m.state, reason=m.reason)
                       for m in shared.models],
        triton_status=_section(shared.triton), firing_alerts=alerts, alerts_status=_section(shared.alerts_status),
        top_keys=[pb.KeyUsage(key_id=k.key_id, request_count=k.request_count, error_count=k.error_count,
                              characters=k.characters, audio_seconds=k.audio_seconds) for k in overview.top_keys],
        usage_status=_section(overview.usage), total_request_rate=shared.total_rate,
        total_error_ratio=shared.total_error_ratio)


class DashboardServicer(pb_grpc.DashboardServiceServicer):
    def __init__(self, core: core.DashboardCore) -> None:
        self.core = core

    async def GetOverview(self, request: pb.GetOverviewRequest, context: grpc.aio.ServicerContext
                          ) -> pb.GetOverviewResponse:
        overview = await self.core.overview(caller_of(context), identity_of(context).metadata(),
                                            request.top_key_count)
        return overview_proto(overview)
