"""gRPC adapter of AlertingService: proto → core → proto."""

from __future__ import annotations

import datetime
from typing import cast

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from ai4vc.alerting.v1 import alerting_service_pb2 as pb
from ai4vc.alerting.v1 import alerting_service_pb2_grpc as pb_grpc
from services.alerting import rules
from services.alerting.core import AlertingCore, RuleInput
from services.alerting.records import AlertRow
from services.alerting.rules import RuleSpec
from services.common.rpc.identity import caller_of


def _ts(value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def rule_input(rule: pb.Rule) -> RuleInput:
    return RuleInput(rule.name, int(rule.kind), int(rule.severity), rule.summary, rule.component, rule.method,
                     rule.model, rule.threshold, rule.for_duration.seconds, rule.for_duration.nanos,
                     tuple(rule.webhook_urls), rule.webhook_secret, rule.window.seconds, rule.window.nanos,
                     rule.key_id)


def rule_proto(spec: RuleSpec) -> pb.Rule:
    return pb.Rule(rule_id=spec.rule_id, name=spec.name, kind=cast(pb.RuleKind, int(spec.kind)),
                   severity=cast(pb.Severity, int(spec.severity)), summary=spec.summary, component=spec.component,
                   method=spec.method, model=spec.model, threshold=spec.threshold,
                   for_duration=duration_pb2.Duration(seconds=spec.for_s), webhook_urls=list(spec.webhook_urls),
                   webhook_secret_set=bool(spec.webhook_secret), create_time=_ts(spec.create_time),
                   update_time=_ts(spec.update_time), expression=rules.expression(spec),
                   window=duration_pb2.Duration(seconds=spec.window_s) if spec.window_s else None,
                   key_id=spec.key_id)


def alert_proto(row: AlertRow) -> pb.Alert:
    return pb.Alert(alert_id=row.alert_id, rule_id=row.rule_id, rule_name=row.rule_name,
                    state=cast(pb.AlertState, row.state), severity=cast(pb.Severity, row.severity),
                    summary=row.summary, labels=row.labels, start_time=_ts(row.start_time),
                    end_time=_ts(row.end_time), acknowledged_by=row.acknowledged_by,
                    acknowledge_time=_ts(row.acknowledge_time), fingerprint=row.fingerprint)


class AlertingServicer(pb_grpc.AlertingServiceServicer):
    def __init__(self, core: AlertingCore) -> None:
        self.core = core

    async def CreateRule(self, request: pb.CreateRuleRequest, context: grpc.aio.ServicerContext
                         ) -> pb.CreateRuleResponse:
        spec = await self.core.create_rule(caller_of(context), rule_input(request.rule))
        return pb.CreateRuleResponse(rule=rule_proto(spec))

    async def ListRules(self, request: pb.ListRulesRequest, context: grpc.aio.ServicerContext
                        ) -> pb.ListRulesResponse:
        found, token = await self.core.list_rules(caller_of(context), request.page_size, request.page_token)
        return pb.ListRulesResponse(rules=[rule_proto(r) for r in found], next_page_token=token)

    async def UpdateRule(self, request: pb.UpdateRuleRequest, context: grpc.aio.ServicerContext
                         ) -> pb.UpdateRuleResponse:
        spec = await self.core.update_rule(caller_of(context), request.rule_id, rule_input(request.rule))
        return pb.UpdateRuleResponse(rule=rule_proto(spec))

    async def DeleteRule(self, request: pb.DeleteRuleRequest, context: grpc.aio.ServicerContext
                         ) -> pb.DeleteRuleResponse:
        await self.core.delete_rule(caller_of(context), request.rule_id)
        return pb.DeleteRuleResponse()

    async def ListAlerts(self, request: pb.ListAlertsRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ListAlertsResponse:
        found, token = await self.core.list_alerts(caller_of(context), int(request.state), request.rule_id,
                                                   request.page_size, request.page_token)
        return pb.ListAlertsResponse(alerts=[alert_proto(a) for a in found], next_page_token=token)

    async def AcknowledgeAlert(self, request: pb.AcknowledgeAlertRequest, context: grpc.aio.ServicerContext
                               ) -> pb.AcknowledgeAlertResponse:
        row = await self.core.acknowledge(caller_of(context), request.alert_id)
        return pb.AcknowledgeAlertResponse(alert=alert_proto(row))

    async def SilenceAlerts(self, request: pb.SilenceAlertsRequest, context: grpc.aio.ServicerContext
                            ) -> pb.SilenceAlertsResponse:
        duration = request.duration.seconds + request.duration.nanos / 1e9
        silence_id, end = await self.core.silence(caller_of(context), request.rule_id, dict(request.labels),
                                                  duration, request.comment)
        return pb.SilenceAlertsResponse(silence_id=silence_id, end_time=_ts(end))
