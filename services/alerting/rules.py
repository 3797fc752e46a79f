"""Rules as data → Prometheus alerting rules: the PromQL of each rule kind, and the rule file
Prometheus loads (written atomically: a temporary file renamed over the old one, so a reload
never reads half a file). Knows nothing of grpc or PostgreSQL.

Every expression reads the recording rules or raw metrics of `deploy/local/prometheus_config.py`;
label values come from validated patterns (no quotes, no regex metacharacters but the `.` of a
model name, escaped), so a rule cannot change the query it is put into.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml


class Kind(enum.IntEnum):
    """`ai4vc.alerting.v1.RuleKind`, numbered the same."""

    SERVICE_DOWN = 1
    ERROR_RATE = 2
    LATENCY_P99 = 3
    OPEN_STREAMS = 4
    TRITON_MODEL_NOT_READY = 5
    SPOOL_GROWING = 6
    FAILED_LOGINS = 7
    QUOTA_USED = 8


class Severity(enum.IntEnum):
    CRITICAL = 1
    WARNING = 2
    INFO = 3


SEVERITY_LABEL = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}
KIND_LABEL = {k: k.name.lower() for k in Kind}
# Kinds whose condition compares a value with `threshold`.
THRESHOLD_KINDS = frozenset({Kind.ERROR_RATE, Kind.LATENCY_P99, Kind.OPEN_STREAMS, Kind.SPOOL_GROWING,
                             Kind.FAILED_LOGINS, Kind.QUOTA_USED})
# Kinds the service evaluates itself from the platform's events (not rendered for Prometheus).
EVENT_KINDS = frozenset({Kind.FAILED_LOGINS})
# What a failed-login rule counts: the auth service's audit action for a refused login.
FAILED_LOGIN_ACTION = "session.login_failed"
DEFAULT_WINDOW_S = 300
DEFAULT_QUOTA_RATIO = 0.8
# Kinds that may narrow to one RPC method.
METHOD_KINDS = frozenset({Kind.ERROR_RATE, Kind.LATENCY_P99, Kind.OPEN_STREAMS})
GROUP_NAME = "ai4vc-alerting"


@dataclasses.dataclass(frozen=True)
class RuleSpec:
    """One rule as stored (validated)."""

    rule_id: str
    name: str
    kind: Kind
    severity: Severity
    summary: str
    component: str
    method: str
    model: str
    threshold: float
    for_s: int
    webhook_urls: tuple[str, ...]
    webhook_secret: str
    window_s: int = 0
    key_id: str = ""
    create_time: datetime.datetime | None = None
    update_time: datetime.datetime | None = None


def _method_matcher(method: str) -> str:
    # grpc_method is the full path ("/ai4vc.nmt.v1.NmtService/TranslateText").
    return f',grpc_method=~".*/{method}"' if method else ""


def expression(rule: RuleSpec) -> str:
    """The PromQL that is non-empty while the rule's condition holds."""
    threshold = repr(float(rule.threshold))
    comp = rule.component
    if rule.kind is Kind.SERVICE_DOWN:
        return f'up{{job="ai4vc",component="{comp}"}} == 0'
    if rule.kind is Kind.ERROR_RATE:
        return f'ai4vc:grpc_error_ratio:rate1m{{service="{comp}"{_method_matcher(rule.method)}}} > {threshold}'
    if rule.kind is Kind.LATENCY_P99:
        return f'ai4vc:grpc_latency_seconds:p99_1m{{service="{comp}"{_method_matcher(rule.method)}}} > {threshold}'
    if rule.kind is Kind.OPEN_STREAMS:
        return f'ai4vc:grpc_open_streams{{service="{comp}"{_method_matcher(rule.method)}}} > {threshold}'
    if rule.kind is Kind.TRITON_MODEL_NOT_READY:
        # Triton exports nv_inference_count for every model it has loaded and ready (zero
        # before any request); none means not loaded, not ready, or Triton not scraped.
        return f'absent(nv_inference_count{{model="{rule.model}"}})'
    if rule.kind is Kind.FAILED_LOGINS:
        return (f"at least {int(rule.threshold)} {FAILED_LOGIN_ACTION} audit events from one address"
                f" within {rule.window_s}s (evaluated by the alerting service from Kafka)")
    if rule.kind is Kind.QUOTA_USED:
        # Exported by the gateway (the edge's control plane) for every key with a daily quota.
        matcher = f'{{key_id="{rule.key_id}"}}' if rule.key_id else ""
        return f"max by (key_id, quota) (edge_quota_used_ratio{matcher}) >= {threshold}"
    if rule.kind is Kind.SPOOL_GROWING:
        # Records going to the disk spool (PostgreSQL away), or, worse, held in memory because the
        # spool cannot be written either (disk full): then the service refuses work at its bound.
        return (f'(sum by (component) (rate(records_spooled_total{{component="{comp}"}}[5m])) > {threshold})'
                f' or (max by (component) (ai4vc_records_held{{component="{comp}"}}) > 0)')
    raise ValueError(f"no expression for kind {rule.kind!r}")


def default_summary(rule: RuleSpec) -> str:
    what = {
        Kind.SERVICE_DOWN: f"{rule.component} is down (not scraped)",
        Kind.ERROR_RATE: f"{rule.component} error ratio above {rule.threshold:g}",
        Kind.LATENCY_P99: f"{rule.component} p99 latency above {rule.threshold:g} s",
        Kind.OPEN_STREAMS: f"{rule.component} has more than {rule.threshold:g} open streams",
        Kind.TRITON_MODEL_NOT_READY: f"Triton model {rule.model} is not ready",
        Kind.SPOOL_GROWING: f"{rule.component} is spooling records to disk (or holding them: spool unwritable)",
        Kind.FAILED_LOGINS: f"{int(rule.threshold)} or more failed logins from one address in {rule.window_s}s",
        Kind.QUOTA_USED: f"API key {rule.key_id or '(any)'} used {rule.threshold:.0%} of a daily quota",
    }[rule.kind]
    return what + (f" ({rule.method})" if rule.method and rule.kind in METHOD_KINDS else "")


def prometheus_rule(rule: RuleSpec) -> dict[str, object]:
    labels = {"severity": SEVERITY_LABEL[rule.severity], "ai4vc_rule_id": rule.rule_id,
              "ai4vc_kind": KIND_LABEL[rule.kind]}
    if rule.component:
        # RED recording rules are by `service`; the label Alertmanager groups and inhibits on is
        # `component`, so every alert carries it (the same value where the series has it).
        labels["component"] = rule.component
    out: dict[str, object] = {"alert": rule.name, "expr": expression(rule)}
    if rule.for_s:
        out["for"] = f"{rule.for_s}s"
    out["labels"] = labels
    out["annotations"] = {"summary": rule.summary or default_summary(rule)}
    return out


def render(rules: Sequence[RuleSpec]) -> str:
    """The rule file: one group holding every metric rule, by name (event rules are not Prometheus's)."""
    ordered = sorted((r for r in rules if r.kind not in EVENT_KINDS), key=lambda r: r.name)
    return yaml.safe_dump({"groups": [{"name": GROUP_NAME, "rules": [prometheus_rule(r) for r in ordered]}]},
                          sort_keys=False, width=1000)


def write_atomically(path: Path, text: str) -> bool:
    """Writes `text` to `path` by rename; False (nothing written) when it holds `text` already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
