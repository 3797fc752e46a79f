"""Alerting's pure parts: each rule kind's PromQL and labels, the rule file, the atomic write,
webhook signatures and backoff, Alertmanager's notification body, and the mesh's Prometheus and
Alertmanager configs wiring them together."""

from __future__ import annotations

import dataclasses
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.local import alertmanager_config, prometheus_config
from services.alerting import core, delivery, rules
from services.alerting.records import FIRING, RESOLVED
from services.alerting.rules import Kind, RuleSpec, Severity
from services.common.errors import InvalidArgument


def _spec(kind: Kind, **extra) -> RuleSpec:  # type: ignore[no-untyped-def]
    values = {"rule_id": "r1", "name": "x", "kind": kind, "severity": Severity.WARNING, "summary": "",
              "component": "nmt", "method": "", "model": "", "threshold": 0.0, "for_s": 0, "webhook_urls": (),
              "webhook_secret": ""} | extra
    return RuleSpec(**values)


@pytest.mark.parametrize(("spec", "expr"), [
    (_spec(Kind.SERVICE_DOWN), 'up{job="ai4vc",component="nmt"} == 0'),
    (_spec(Kind.ERROR_RATE, threshold=0.1), 'ai4vc:grpc_error_ratio:rate1m{service="nmt"} > 0.1'),
    (_spec(Kind.LATENCY_P99, threshold=0.25, method="TranslateText"),
     'ai4vc:grpc_latency_seconds:p99_1m{service="nmt",grpc_method=~".*/TranslateText"} > 0.25'),
    (_spec(Kind.OPEN_STREAMS, component="asr", threshold=100), 'ai4vc:grpc_open_streams{service="asr"} > 100.0'),
    (_spec(Kind.TRITON_MODEL_NOT_READY, component="", model="asr_am_ensemble"),
     'absent(nv_inference_count{model="asr_am_ensemble"})'),
    (_spec(Kind.QUOTA_USED, component="", threshold=0.8, key_id="k_1"),
     'max by (key_id, quota) (edge_quota_used_ratio{key_id="k_1"}) >= 0.8'),
    (_spec(Kind.QUOTA_USED, component="", threshold=0.9), "max by (key_id, quota) (edge_quota_used_ratio) >= 0.9"),
    (_spec(Kind.SPOOL_GROWING), '(sum by (component) (rate(records_spooled_total{component="nmt"}[5m])) > 0.0)'
                                ' or (max by (component) (ai4vc_records_held{component="nmt"}) > 0)'),
])
def test_each_kind_has_its_expression(spec: RuleSpec, expr: str) -> None:
    """Every rule kind reads the recorded series or raw metric the platform exports."""
    assert rules.expression(spec) == expr


def test_expressions_read_only_recorded_or_exported_names() -> None:
    """The ai4vc:* series the rules read are recording rules Prometheus has."""
    recorded = prometheus_config.recorded_names()
    for kind in Kind:
        expr = rules.expression(_spec(kind, model="m"))
        for name in (t for t in expr.replace("(", " ").replace("{", " ").split() if t.startswith("ai4vc:")):
            assert name in recorded, name


def test_rule_file_has_labels_for_routing_and_inhibition(tmp_path: Path) -> None:
    """Rules carry severity, rule id, kind and component; `for` only when set; written atomically."""
    text = rules.render([_spec(Kind.SERVICE_DOWN, name="b", for_s=5, severity=Severity.CRITICAL),
                         _spec(Kind.ERROR_RATE, name="a", threshold=0.5, summary="errors!")])
    group = yaml.safe_load(text)["groups"][0]
    assert group["name"] == rules.GROUP_NAME
    first, second = group["rules"]
    assert first["alert"] == "a" and "for" not in first and first["annotations"]["summary"] == "errors!"
    assert second["for"] == "5s" and second["labels"] == {"severity": "critical", "ai4vc_rule_id": "r1",
                                                          "ai4vc_kind": "service_down", "component": "nmt"}
    path = tmp_path / "d" / "rules.yml"
    assert rules.write_atomically(path, text) and path.read_text() == text
    assert not rules.write_atomically(path, text)  # unchanged: no rewrite, no reload
    assert [p.name for p in path.parent.iterdir()] == ["rules.yml"]


def test_rule_input_is_checked() -> None:
    """Values that could change the PromQL they are put into are refused, naming the field."""
    good = core.RuleInput("n", 2, 0, "", "nmt", "TranslateText", "", 0.2, 30, 0, ("https://h/x",), "k")
    spec = core.check_rule(good, "id", creating=True)
    assert spec.severity is Severity.WARNING and spec.for_s == 30
    for bad, field in [(good.__class__(**{**good.__dict__, "component": 'n"} or vector(1) #'}), "rule.component"),
                       (good.__class__(**{**good.__dict__, "method": ".*"}), "rule.method"),
                       (good.__class__(**{**good.__dict__, "for_nanos": 5}), "rule.for_duration"),
                       (good.__class__(**{**good.__dict__, "threshold": float("nan")}), "rule.threshold")]:
        with pytest.raises(InvalidArgument) as err:
            core.check_rule(bad, "id", creating=True)
        assert err.value.field == field


def test_signature_and_backoff() -> None:
    """The signature covers timestamp and body; backoff grows from base to its cap, jittered."""
    signature = delivery.sign("k", "100", b"{}")
    assert delivery.verify("k", "100", b"{}", signature)
    assert not delivery.verify("k", "101", b"{}", signature) and not delivery.verify("k", "100", b"{ }", signature)
    rng = random.Random(1)
    waits = [delivery.backoff_s(n, 1.0, 60.0, rng) for n in range(12)]
    assert all(1.0 <= w <= 60.0 for w in waits) and max(waits[8:]) > 8


def test_notification_body_is_parsed() -> None:
    """Alertmanager's webhook JSON (v4) → alerts; its zero endsAt is no end; garbage is a ValueError."""
    body = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "a"}, "annotations": {"summary": "s"},
         "startsAt": "2026-12-02T05:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "f1"},
        {"status": "resolved", "labels": {"alertname": "a"}, "annotations": {},
         "startsAt": "2026-12-02T05:00:00Z", "endsAt": "2026-12-02T05:01:00Z", "fingerprint": "f2"}]}
    firing, resolved = core.parse_notification(body)
    assert firing.state == FIRING and firing.end_time is None and firing.summary == "s"
    assert resolved.state == RESOLVED and resolved.end_time is not None
    assert firing.alert_id != resolved.alert_id
    for bad in ({}, {"alerts": [1]}, {"alerts": [{"labels": {}, "startsAt": "x", "fingerprint": "f"}]}):
        with pytest.raises(ValueError):
            core.parse_notification(bad)


def test_mesh_configs_wire_prometheus_to_alertmanager_to_the_service() -> None:
    """Prometheus loads the alerting rules and sends to Alertmanager; Alertmanager routes to the receiver
    and inhibits a down component's error and latency alerts."""
    prom = yaml.safe_load(prometheus_config.render([], Path("/r/rules.yml"), alert_rules_dir=Path("/r/alerting"),
                                                   alertmanager="127.0.0.1:9096"))
    assert prom["rule_files"] == ["/r/rules.yml", "/r/alerting/*.yml"]
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9096"]
    am = yaml.safe_load(alertmanager_config.render("http://127.0.0.1:8097/v1/alertmanager"))
    assert am["receivers"][0]["webhook_configs"][0] == {"url": "http://127.0.0.1:8097/v1/alertmanager",
                                                        "send_resolved": True, "max_alerts": 0}
    (inhibit,) = am["inhibit_rules"]
    assert inhibit["equal"] == ["component"] and "service_down" in inhibit["source_matchers"][0]


def test_event_rules_are_not_given_to_prometheus() -> None:
    """A failed-login rule is evaluated by the service, so the rule file leaves it out."""
    text = rules.render([_spec(Kind.FAILED_LOGINS, name="storm", component="", threshold=5, window_s=60),
                         _spec(Kind.SERVICE_DOWN, name="down")])
    assert [r["alert"] for r in yaml.safe_load(text)["groups"][0]["rules"]] == ["down"]


def test_quota_rule_reads_the_gauge_the_gateway_exports() -> None:
    """The gateway's QuotaCollector exports edge_quota_used_ratio per limited key and quota, which quota rules read."""
    import types

    from gateway.edge.plane import QuotaCollector
    from gateway.edge.render import EdgeKey

    plane = types.SimpleNamespace(
        keys={"k1": EdgeKey("k1", "o", frozenset(), "", characters_per_day=100),
              "k2": EdgeKey("k2", "o", frozenset(), "", characters_per_day=10, audio_seconds_per_day=60)},
        quota_used={"k1": (0.85, 0.0), "k2": (0.1, 0.5), "gone": (1.0, 1.0)})
    (family,) = QuotaCollector(plane).collect()  # type: ignore[arg-type]
    assert family.name == "edge_quota_used_ratio"
    assert {(s.labels["key_id"], s.labels["quota"], s.value) for s in family.samples} == {
        ("k1", "characters", 0.85), ("k2", "characters", 0.1), ("k2", "audio_seconds", 0.5)}
    spec = core.check_rule(core.RuleInput("q", int(Kind.QUOTA_USED), 0, "", "", "", "", 0.0, 0, 0, (), ""),
                           "id", creating=True)
    assert spec.threshold == rules.DEFAULT_QUOTA_RATIO and "edge_quota_used_ratio" in rules.expression(spec)


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus, installed by bootstrap) is missing")
def test_spool_rule_fires_when_records_are_held_in_memory(tmp_path: Path) -> None:
    """A spool rule fires for a component whose spool cannot be written (records held in memory, nothing
    spooled), and not for one that spools nothing and holds nothing — run in the real Prometheus engine."""
    spec = _spec(Kind.SPOOL_GROWING, name="spool", severity=Severity.CRITICAL)
    (tmp_path / "rules.yml").write_text(rules.render([spec, dataclasses.replace(spec, name="spool-tts",
                                                                                  rule_id="r2", component="tts")]))
    labels = '{component="%s",sink="requests"}'
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": "ai4vc_records_held" + labels % "nmt", "values": "0 0 12 40 40"},
            {"series": "records_spooled_total" + labels % "nmt", "values": "0x4"},
            {"series": "ai4vc_records_held" + labels % "tts", "values": "0x4"},
            {"series": "records_spooled_total" + labels % "tts", "values": "0x4"},
        ],
        "alert_rule_test": [
            {"alertname": "spool", "eval_time": "1m", "exp_alerts": []},
            {"alertname": "spool", "eval_time": "3m", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "ai4vc_rule_id": "r1", "ai4vc_kind": "spool_growing",
                               "component": "nmt"},
                "exp_annotations": {"summary": rules.default_summary(spec)}}]},
            {"alertname": "spool-tts", "eval_time": "3m", "exp_alerts": []},
        ],
    }]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    result = subprocess.run([str(PROMTOOL), "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
