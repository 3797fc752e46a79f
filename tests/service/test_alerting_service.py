"""The alerting service in-process (production factory and interceptors) against a real
PostgreSQL schema and a real Alertmanager: rules are checked (INVALID_ARGUMENT naming the field,
NOT_FOUND, RULE_EXISTS), paged and rendered into the Prometheus rule file; an alert posted to
Alertmanager reaches the service's receiver, is recorded (ListAlerts, an event in the outbox) and
delivered to the rule's webhook with a valid HMAC signature — retried until the receiver takes
it, also across a restart; resolved follows; silences are made in Alertmanager."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import json
import urllib.request
from pathlib import Path

import asyncpg
import grpc
import pytest
import yaml
from google.protobuf import duration_pb2

from ai4vc.alerting.v1 import alerting_service_pb2 as pb
from ai4vc.alerting.v1 import alerting_service_pb2_grpc as pb_grpc
from ai4vc.events.v1 import events_pb2
from deploy.local import alertmanager_config
from deploy.local.parts import Alertmanager, free_port
from services.alerting import app as alerting_app
from services.alerting.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from services.alerting.settings import AlertingSettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running
from tests.webhook_util import WebhookReceiver

OPS = (("x-ai4vc-principal", "ops"), ("x-ai4vc-scopes", "alerting"))
NMT_USER = (("x-ai4vc-principal", "asha"), ("x-ai4vc-scopes", "nmt"))
SECRET = "s3cret-for-tests"


@pytest.fixture(scope="module")
def webhook_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def alertmanager(run_base: Path, webhook_port: int):  # type: ignore[no-untyped-def]
    """A real Alertmanager whose route posts to the service's receiver on `webhook_port`."""
    server = Alertmanager(run_base / f"am-{webhook_port}", free_port())
    timing = alertmanager_config.Timing(group_wait="0s", group_interval="1s", repeat_interval="1h")
    server.start(alertmanager_config.render(f"http://127.0.0.1:{webhook_port}/v1/alertmanager", timing))
    yield server
    server.stop()


@pytest.fixture
def settings(pg_schema, tmp_path: Path, alertmanager: Alertmanager, webhook_port: int) -> AlertingSettings:
    url, schema = pg_schema
    return AlertingSettings(port=0, metrics_port=-1, database_url=url, database_schema=schema, log_json=False,
                            rules_dir=str(tmp_path / "rules"), alertmanager_url=alertmanager.url,
                            webhook_port=webhook_port, delivery_backoff_s=0.05, delivery_max_backoff_s=0.2,
                            delivery_poll_s=0.05)


async def _refused(call, code: grpc.StatusCode, reason: str, field: str | None = None) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    info, fields = error_info(err.value)
    assert info is not None and info.reason == reason, (info, err.value.details())
    if field is not None:
        assert info.metadata["field"] == field and fields == [field], (info.metadata, fields)


def _down_rule(name: str = "nmt_down", **extra) -> pb.Rule:  # type: ignore[no-untyped-def]
    return pb.Rule(name=name, kind=pb.RULE_KIND_SERVICE_DOWN, component="nmt", severity=pb.SEVERITY_CRITICAL,
                   for_duration=duration_pb2.Duration(seconds=5), **extra)


def _rule_file(settings: AlertingSettings) -> list[dict]:  # type: ignore[type-arg]
    text = (Path(settings.rules_dir) / settings.rules_file).read_text()
    return list(yaml.safe_load(text)["groups"][0]["rules"] or [])


def _post_alerts(alertmanager: Alertmanager, alerts: list[dict]) -> None:  # type: ignore[type-arg]
    request = urllib.request.Request(f"{alertmanager.url}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def _get_json(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=5) as answer:
        return dict(json.loads(answer.read()))


def _alert(rule: pb.Rule, start: datetime.datetime, end: datetime.datetime | None = None) -> dict:  # type: ignore[type-arg]
    body: dict = {"labels": {"alertname": rule.name, "ai4vc_rule_id": rule.rule_id, "component": "nmt",  # type: ignore[type-arg]
                             "replica": "nmt", "severity": "critical", "ai4vc_kind": "service_down"},
                  "annotations": {"summary": "nmt is down"}, "startsAt": start.isoformat()}
    if end is not None:
        body["endsAt"] = end.isoformat()
    return body


async def test_rules_are_checked_stored_paged_and_rendered(settings):
    """CreateRule/UpdateRule/DeleteRule keep the rule file equal to the stored rules; ListRules pages by name."""
    async with running(settings, alerting_app.create) as (_app, _handle, channel):
        assert await health_status(channel) == 1
        stub = pb_grpc.AlertingServiceStub(channel)
        made = (await stub.CreateRule(pb.CreateRuleRequest(rule=_down_rule()), metadata=OPS)).rule
        assert made.rule_id and made.expression == 'up{job="ai4vc",component="nmt"} == 0'
        errors = (await stub.CreateRule(pb.CreateRuleRequest(rule=pb.Rule(
            name="nmt_errors", kind=pb.RULE_KIND_ERROR_RATE, component="nmt", method="TranslateText", threshold=0.05,
            webhook_urls=["http://127.0.0.1:1/x"], webhook_secret=SECRET)), metadata=OPS)).rule
        assert errors.webhook_secret_set and not errors.webhook_secret
        await stub.CreateRule(pb.CreateRuleRequest(rule=pb.Rule(
            name="nmt_model", kind=pb.RULE_KIND_TRITON_MODEL_NOT_READY, model="nmt")), metadata=OPS)
        rendered = {r["alert"]: r for r in _rule_file(settings)}
        assert set(rendered) == {"nmt_down", "nmt_errors", "nmt_model"}
        assert rendered["nmt_down"]["for"] == "5s" and rendered["nmt_down"]["labels"]["severity"] == "critical"
        assert rendered["nmt_errors"]["expr"] == ('ai4vc:grpc_error_ratio:rate1m{service="nmt",'
                                                  'grpc_method=~".*/TranslateText"} > 0.05')
        assert rendered["nmt_model"]["expr"] == 'absent(nv_inference_count{model="nmt"})'

        first = await stub.ListRules(pb.ListRulesRequest(page_size=2), metadata=OPS)
        assert [r.name for r in first.rules] == ["nmt_down", "nmt_errors"] and first.next_page_token
        second = await stub.ListRules(pb.ListRulesRequest(page_size=2, page_token=first.next_page_token),
                                      metadata=OPS)
        assert [r.name for r in second.rules] == ["nmt_model"] and not second.next_page_token

        changed = pb.Rule(kind=pb.RULE_KIND_LATENCY_P99, component="nmt", threshold=0.5)
        updated = (await stub.UpdateRule(pb.UpdateRuleRequest(rule_id=errors.rule_id, rule=changed),
                                         metadata=OPS)).rule
        assert updated.name == "nmt_errors" and updated.kind == pb.RULE_KIND_LATENCY_P99 and updated.webhook_secret_set
        rendered = {r["alert"]: r for r in _rule_file(settings)}
        assert rendered["nmt_errors"]["expr"] == 'ai4vc:grpc_latency_seconds:p99_1m{service="nmt"} > 0.5'
        await stub.DeleteRule(pb.DeleteRuleRequest(rule_id=errors.rule_id), metadata=OPS)
        assert {r["alert"] for r in _rule_file(settings)} == {"nmt_down", "nmt_model"}


async def test_bad_rules_and_unknown_ids_are_refused_naming_the_field(settings):
    """Bad input is INVALID_ARGUMENT with the field; unknown ids NOT_FOUND; a taken name RULE_EXISTS; no scope 403."""
    async with running(settings, alerting_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AlertingServiceStub(channel)
        bad = [
            (pb.Rule(kind=pb.RULE_KIND_SERVICE_DOWN, component="nmt"), "FIELD_REQUIRED", "rule.name"),
            (pb.Rule(name="9x", kind=pb.RULE_KIND_SERVICE_DOWN, component="nmt"), "FIELD_OUT_OF_RANGE", "rule.name"),
            (pb.Rule(name="a"), "FIELD_REQUIRED", "rule.kind"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_ERROR_RATE), "FIELD_REQUIRED", "rule.component"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_ERROR_RATE, component='nmt"}'), "FIELD_OUT_OF_RANGE",
             "rule.component"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_ERROR_RATE, component="nmt", method="a|b"), "FIELD_OUT_OF_RANGE",
             "rule.method"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_ERROR_RATE, component="nmt", threshold=2), "FIELD_OUT_OF_RANGE",
             "rule.threshold"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_TRITON_MODEL_NOT_READY), "FIELD_REQUIRED", "rule.model"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_SERVICE_DOWN, component="nmt",
                     for_duration=duration_pb2.Duration(seconds=7200)), "FIELD_OUT_OF_RANGE", "rule.for_duration"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_SERVICE_DOWN, component="nmt", webhook_urls=["ftp://x"],
                     webhook_secret="k"), "FIELD_OUT_OF_RANGE", "rule.webhook_urls[0]"),
            (pb.Rule(name="a", kind=pb.RULE_KIND_SERVICE_DOWN, component="nmt", webhook_urls=["http://x/y"]),
             "FIELD_REQUIRED", "rule.webhook_secret"),
        ]
        for rule, reason, field in bad:
            await _refused(stub.CreateRule(pb.CreateRuleRequest(rule=rule), metadata=OPS),
                           grpc.StatusCode.INVALID_ARGUMENT, reason, field)
        await _refused(stub.CreateRule(pb.CreateRuleRequest(rule=pb.Rule(
            name="q", kind=pb.RULE_KIND_QUOTA_USED, key_id="k/1")), metadata=OPS),
            grpc.StatusCode.INVALID_ARGUMENT, "FIELD_OUT_OF_RANGE", "rule.key_id")
        quota = (await stub.CreateRule(pb.CreateRuleRequest(rule=pb.Rule(
            name="quota_80", kind=pb.RULE_KIND_QUOTA_USED, key_id="k_1")), metadata=OPS)).rule
        assert quota.threshold == 0.8 and quota.key_id == "k_1"
        assert quota.expression == 'max by (key_id, quota) (edge_quota_used_ratio{key_id="k_1"}) >= 0.8'
        made = (await stub.CreateRule(pb.CreateRuleRequest(rule=_down_rule()), metadata=OPS)).rule
        await _refused(stub.CreateRule(pb.CreateRuleRequest(rule=_down_rule()), metadata=OPS),
                       grpc.StatusCode.FAILED_PRECONDITION, "RULE_EXISTS", "rule.name")
        missing = "00000000-0000-4000-8000-000000000000"
        await _refused(stub.UpdateRule(pb.UpdateRuleRequest(rule_id=missing, rule=_down_rule()), metadata=OPS),
                       grpc.StatusCode.NOT_FOUND, "RULE_NOT_FOUND")
        await _refused(stub.DeleteRule(pb.DeleteRuleRequest(rule_id=missing), metadata=OPS),
                       grpc.StatusCode.NOT_FOUND, "RULE_NOT_FOUND")
        await _refused(stub.DeleteRule(pb.DeleteRuleRequest(), metadata=OPS),
                       grpc.StatusCode.INVALID_ARGUMENT, "FIELD_REQUIRED", "rule_id")
        await _refused(stub.DeleteRule(pb.DeleteRuleRequest(rule_id="nope"), metadata=OPS),
                       grpc.StatusCode.INVALID_ARGUMENT, "FIELD_OUT_OF_RANGE", "rule_id")
        await _refused(stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(alert_id=missing), metadata=OPS),
                       grpc.StatusCode.NOT_FOUND, "ALERT_NOT_FOUND")
        await _refused(stub.ListAlerts(pb.ListAlertsRequest(page_size=-1), metadata=OPS),
                       grpc.StatusCode.INVALID_ARGUMENT, "FIELD_OUT_OF_RANGE", "page_size")
        await _refused(stub.ListAlerts(pb.ListAlertsRequest(page_token="garbage"), metadata=OPS),
                       grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN", "page_token")
        await _refused(stub.SilenceAlerts(pb.SilenceAlertsRequest(rule_id=made.rule_id), metadata=OPS),
                       grpc.StatusCode.INVALID_ARGUMENT, "FIELD_REQUIRED", "duration")
        await _refused(stub.SilenceAlerts(pb.SilenceAlertsRequest(
            rule_id=made.rule_id, duration=duration_pb2.Duration(seconds=60), labels={"bad-name": "x"}),
            metadata=OPS), grpc.StatusCode.INVALID_ARGUMENT, "FIELD_OUT_OF_RANGE", "labels['bad-name']")
        await _refused(stub.SilenceAlerts(pb.SilenceAlertsRequest(
            rule_id=missing, duration=duration_pb2.Duration(seconds=60)), metadata=OPS),
            grpc.StatusCode.NOT_FOUND, "RULE_NOT_FOUND")
        await _refused(stub.ListRules(pb.ListRulesRequest(), metadata=NMT_USER),
                       grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
        assert await health_status(channel) == 1  # still serving after all of it


async def _events(settings: AlertingSettings) -> list[events_pb2.Event]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch(f'SELECT payload FROM "{settings.database_schema}".event_outbox ORDER BY created_time')
    finally:
        await conn.close()
    return [events_pb2.Event.FromString(r["payload"]) for r in rows]


async def test_alertmanager_notification_is_recorded_signed_delivered_and_resolved(settings, alertmanager):
    """Firing then resolved, posted to the real Alertmanager: recorded, an event each, signed webhook each, retried."""
    receiver = await WebhookReceiver(fail_first=2).start()
    try:
        async with running(settings, alerting_app.create) as (_app, _handle, channel):
            stub = pb_grpc.AlertingServiceStub(channel)
            rule = (await stub.CreateRule(pb.CreateRuleRequest(rule=_down_rule(
                "svc_down_notify", webhook_urls=[receiver.url], webhook_secret=SECRET)), metadata=OPS)).rule
            start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
            await asyncio.to_thread(_post_alerts, alertmanager, [_alert(rule, start)])
            (firing,) = await receiver.wait_for(1, 30)
            assert receiver.attempts >= 3  # two refusals, retried with backoff
            assert verify(SECRET, firing.headers[TIMESTAMP_HEADER], firing.body, firing.headers[SIGNATURE_HEADER])
            assert not verify("other", firing.headers[TIMESTAMP_HEADER], firing.body, firing.headers[SIGNATURE_HEADER])
            body = firing.json()
            assert body["state"] == "firing" and body["rule_id"] == rule.rule_id
            assert body["labels"]["component"] == "nmt"
            listed = await stub.ListAlerts(pb.ListAlertsRequest(state=pb.ALERT_STATE_FIRING, rule_id=rule.rule_id),
                                           metadata=OPS)
            (alert,) = listed.alerts
            assert alert.alert_id == body["alert_id"] and alert.severity == pb.SEVERITY_CRITICAL
            acked = (await stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(alert_id=alert.alert_id),
                                                 metadata=OPS)).alert
            assert acked.acknowledged_by == "ops" and acked.HasField("acknowledge_time")

            await asyncio.to_thread(_post_alerts, alertmanager,
                                    [_alert(rule, start, datetime.datetime.now(datetime.UTC))])
            _, resolved = await receiver.wait_for(2, 30)
            assert resolved.json()["state"] == "resolved" and resolved.json()["alert_id"] == alert.alert_id
            assert verify(SECRET, resolved.headers[TIMESTAMP_HEADER], resolved.body,
                          resolved.headers[SIGNATURE_HEADER])
            done = await stub.ListAlerts(pb.ListAlertsRequest(state=pb.ALERT_STATE_RESOLVED), metadata=OPS)
            assert [a.alert_id for a in done.alerts] == [alert.alert_id] and done.alerts[0].HasField("end_time")
            assert not (await stub.ListAlerts(pb.ListAlertsRequest(state=pb.ALERT_STATE_FIRING),
                                              metadata=OPS)).alerts
            states = [(e.alert.name, e.alert.state) for e in await _events(settings) if e.HasField("alert")]
            assert states == [("svc_down_notify", "firing"), ("svc_down_notify", "resolved")]

            silence = await stub.SilenceAlerts(pb.SilenceAlertsRequest(
                rule_id=rule.rule_id, labels={"component": "nmt"}, duration=duration_pb2.Duration(seconds=600),
                comment="maintenance"), metadata=OPS)
            made = await asyncio.to_thread(_get_json, f"{alertmanager.url}/api/v2/silence/{silence.silence_id}")
            assert made["status"]["state"] == "active" and made["comment"] == "maintenance"
            assert {(m["name"], m["value"]) for m in made["matchers"]} >= {("alertname", rule.name),
                                                                           ("component", "nmt")}
    finally:
        await receiver.close()


async def test_undelivered_webhooks_survive_a_restart(settings, alertmanager):
    """A webhook whose receiver is away is kept in PostgreSQL and delivered by the next start of the service."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    async with running(settings, alerting_app.create) as (app, _handle, channel):
        stub = pb_grpc.AlertingServiceStub(channel)
        rule = (await stub.CreateRule(pb.CreateRuleRequest(rule=_down_rule(
            "svc_down_restart", webhook_urls=[url], webhook_secret=SECRET)), metadata=OPS)).rule
        await asyncio.to_thread(_post_alerts, alertmanager,
                                [_alert(rule, datetime.datetime.now(datetime.UTC).replace(microsecond=0))])
        for _ in range(300):
            if app.dispatcher.failures >= 2:
                break
            await asyncio.sleep(0.05)
        assert app.dispatcher.failures >= 2 and app.dispatcher.sent == 0
    receiver = await WebhookReceiver().start(port)
    try:
        async with running(settings, alerting_app.create):
            (firing,) = await receiver.wait_for(1, 30)
            assert firing.json()["rule_id"] == rule.rule_id
            assert verify(SECRET, firing.headers[TIMESTAMP_HEADER], firing.body, firing.headers[SIGNATURE_HEADER])
    finally:
        await receiver.close()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(_post_alerts, alertmanager, [_alert(
                rule, datetime.datetime.now(datetime.UTC), datetime.datetime.now(datetime.UTC))])


async def test_failed_logins_from_one_address_fire_an_event_rule(settings, alertmanager, kafka):
    """N refused logins (auth's audit events on Kafka) from one address within the window fire an alert
    carrying that address; fewer from another address do not. Event rules stay out of Prometheus's file."""
    from aiokafka import AIOKafkaProducer
    from google.protobuf import struct_pb2

    from services.common.backends import outbox

    settings = dataclasses.replace(settings, kafka_bootstrap=kafka.bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=False)
    await producer.start()

    async def refused_login(address: str) -> None:
        details = struct_pb2.Struct()
        details.update({"target_type": "user", "address": address})
        event = outbox.new_event(outbox.AUDIT_TYPE, "auth", "meera", "meera",
                                 audit=events_pb2.AuditEntry(action="session.login_failed", target="meera",
                                                             details=details))
        await producer.send_and_wait("ai4vc.audit", event.SerializeToString(), key=b"meera")

    receiver = await WebhookReceiver().start()
    try:
        await refused_login("192.0.2.1")  # makes the topic (the reader starts at its end)
        async with running(settings, alerting_app.create) as (app, _handle, channel):
            stub = pb_grpc.AlertingServiceStub(channel)
            rule = (await stub.CreateRule(pb.CreateRuleRequest(rule=pb.Rule(
                name="login_storm", kind=pb.RULE_KIND_FAILED_LOGINS, threshold=3,
                window=duration_pb2.Duration(seconds=60), webhook_urls=[receiver.url], webhook_secret=SECRET)),
                metadata=OPS)).rule
            assert rule.window.seconds == 60 and "login_storm" not in {r["alert"] for r in _rule_file(settings)}
            await asyncio.wait_for(app.event_rules.assigned.wait(), 30)  # type: ignore[attr-defined]
            for address in ("198.51.100.9", "198.51.100.9", "203.0.113.5", "198.51.100.9", "203.0.113.5"):
                await refused_login(address)
            (firing,) = await receiver.wait_for(1, 30)
            body = firing.json()
            assert body["state"] == "firing" and body["rule_id"] == rule.rule_id
            assert body["labels"]["address"] == "198.51.100.9"
            assert verify(SECRET, firing.headers[TIMESTAMP_HEADER], firing.body, firing.headers[SIGNATURE_HEADER])
            listed = await stub.ListAlerts(pb.ListAlertsRequest(rule_id=rule.rule_id), metadata=OPS)
            assert [a.labels["address"] for a in listed.alerts] == ["198.51.100.9"]
            await _refused(stub.CreateRule(pb.CreateRuleRequest(rule=pb.Rule(
                name="bad_storm", kind=pb.RULE_KIND_FAILED_LOGINS, threshold=2.5)), metadata=OPS),
                grpc.StatusCode.INVALID_ARGUMENT, "FIELD_OUT_OF_RANGE", "rule.threshold")
            await _refused(stub.CreateRule(pb.CreateRuleRequest(rule=pb.Rule(
                name="bad_storm", kind=pb.RULE_KIND_FAILED_LOGINS, threshold=2,
                window=duration_pb2.Duration(seconds=100_000))), metadata=OPS),
                grpc.StatusCode.INVALID_ARGUMENT, "FIELD_OUT_OF_RANGE", "rule.window")
    finally:
        await receiver.close()
        await producer.stop()
