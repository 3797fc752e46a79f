"""The alerting domain: rules checked and stored, rendered into Prometheus's rule file (then a
reload), alerts listed and acknowledged, silences made in Alertmanager, and Alertmanager's
notifications turned into recorded transitions, platform events and webhook deliveries.
Knows nothing of grpc; raises domain errors."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from ai4vc.events.v1 import events_pb2
from services.alerting import records, rules
from services.alerting.records import FIRING, RESOLVED, AlertRow, Reported
from services.alerting.rules import Kind, RuleSpec, Severity
from services.alerting.settings import AlertingSettings
from services.common.backends import db, outbox
from services.common.callers import Caller
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, Reason, Unavailable
from services.common.paging import checked_page_size, decode_page_token, encode_page_token, query_digest

log = logging.getLogger(__name__)
DEFAULT_PAGE_SIZE = 50
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_COMPONENT = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_METHOD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
_MODEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s]*)?")
MAX_SUMMARY = 1024
MAX_FOR_S = 3600
MAX_WEBHOOKS = 8
MAX_URL = 2048
MAX_SECRET = 256
MAX_SILENCE_S = 30 * 86400
MAX_SILENCE_LABELS = 16
MAX_EVENT_COUNT = 1_000_000
MAX_WINDOW_S = 86400
SCOPE_MESSAGE = "alerting needs the alerting or admin scope"

DB_ERRORS = db.DB_ERRORS
_guarded = db.guarded("alerting")


@dataclasses.dataclass(frozen=True)
class RuleInput:
    """A rule as a request gives it (proto values, unchecked)."""

    name: str
    kind: int
    severity: int
    summary: str
    component: str
    method: str
    model: str
    threshold: float
    for_seconds: int
    for_nanos: int
    webhook_urls: tuple[str, ...]
    webhook_secret: str
    window_seconds: int = 0
    window_nanos: int = 0
    key_id: str = ""


def _out_of_range(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{field} {message}", reason=Reason.FIELD_OUT_OF_RANGE, field=field)


def _required(field: str) -> InvalidArgument:
    return InvalidArgument(f"{field} is required", reason=Reason.FIELD_REQUIRED, field=field)


def check_rule(given: RuleInput, rule_id: str, *, creating: bool, prefix: str = "rule.") -> RuleSpec:
    """The stored form of `given`, or INVALID_ARGUMENT naming the first bad field."""
    if creating:
        if not given.name:
            raise _required(prefix + "name")
        if not _NAME.fullmatch(given.name):
            raise _out_of_range(prefix + "name", "must be 1 to 64 of [A-Za-z0-9_], starting with a letter")
    if given.kind == 0:
        raise _required(prefix + "kind")
    try:
        kind = Kind(given.kind)
    except ValueError:
        raise _out_of_range(prefix + "kind", f"is {given.kind}, not a RuleKind") from None
    try:
        severity = Severity(given.severity or Severity.WARNING)
    except ValueError:
        raise _out_of_range(prefix + "severity", f"is {given.severity}, not a Severity") from None
    if len(given.summary) > MAX_SUMMARY:
        raise _out_of_range(prefix + "summary", f"must be at most {MAX_SUMMARY} characters")
    component = given.component
    if kind in (Kind.FAILED_LOGINS, Kind.QUOTA_USED):
        component = ""
    elif kind is Kind.TRITON_MODEL_NOT_READY:
        if not given.model:
            raise _required(prefix + "model")
        if not _MODEL.fullmatch(given.model):
            raise _out_of_range(prefix + "model", "must be 1 to 128 of [A-Za-z0-9_.-]")
    else:
        if not component:
            raise _required(prefix + "component")
    if component and not _COMPONENT.fullmatch(component):
        raise _out_of_range(prefix + "component", "must be 1 to 64 of [a-z0-9_-], starting with a letter")
    method = given.method if kind in rules.METHOD_KINDS else ""
    if method and not _METHOD.fullmatch(method):
        raise _out_of_range(prefix + "method", "must be 1 to 128 of [A-Za-z0-9_], starting with a letter")
    threshold = given.threshold if kind in rules.THRESHOLD_KINDS else 0.0
    if not math.isfinite(threshold) or threshold < 0 or (kind is Kind.ERROR_RATE and threshold > 1):
        raise _out_of_range(prefix + "threshold", "must be finite and not negative (error rates at most 1)")
    window_s = 0
    if kind is Kind.FAILED_LOGINS:
        if threshold != int(threshold) or not 1 <= threshold <= MAX_EVENT_COUNT:
            raise _out_of_range(prefix + "threshold", f"must be a whole number of events from 1 to {MAX_EVENT_COUNT}")
        if given.window_nanos or not 0 <= given.window_seconds <= MAX_WINDOW_S:
            raise _out_of_range(prefix + "window", f"must be whole seconds from 1 to {MAX_WINDOW_S}")
        window_s = given.window_seconds or rules.DEFAULT_WINDOW_S
    key_id = ""
    if kind is Kind.QUOTA_USED:
        threshold = threshold or rules.DEFAULT_QUOTA_RATIO
        if threshold > 10:
            raise _out_of_range(prefix + "threshold", "must be at most 10 (a share of the quota)")
        key_id = given.key_id
        if key_id and not _KEY_ID.fullmatch(key_id):
            raise _out_of_range(prefix + "key_id", "must be 1 to 64 of [A-Za-z0-9_.-]")
    if given.for_nanos or not 0 <= given.for_seconds <= MAX_FOR_S:
        raise _out_of_range(prefix + "for_duration", f"must be whole seconds from 0 to {MAX_FOR_S}")
    if len(given.webhook_urls) > MAX_WEBHOOKS:
        raise _out_of_range(prefix + "webhook_urls", f"may hold at most {MAX_WEBHOOKS} URLs")
    for i, url in enumerate(given.webhook_urls):
        if len(url) > MAX_URL or not _URL.fullmatch(url):
            raise _out_of_range(f"{prefix}webhook_urls[{i}]", f"must be an http(s) URL of at most {MAX_URL} characters")
    if len(given.webhook_secret) > MAX_SECRET:
        raise _out_of_range(prefix + "webhook_secret", f"must be at most {MAX_SECRET} characters")
    if creating and given.webhook_urls and not given.webhook_secret:
        raise _required(prefix + "webhook_secret")
    return RuleSpec(rule_id, given.name, kind, severity, given.summary, component, method,
                    given.model if kind is Kind.TRITON_MODEL_NOT_READY else "", float(threshold), given.for_seconds,
                    tuple(given.webhook_urls), given.webhook_secret, window_s, key_id)


def _checked_id(value: str, field: str) -> str:
    if not value:
        raise _required(field)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _out_of_range(field, "is not an id this service issued (a UUID)") from None


def _not_found_rule(rule_id: str) -> NotFound:
    return NotFound(f"no rule {rule_id}", reason=Reason.RULE_NOT_FOUND, metadata={"rule_id": rule_id})


def _parse_time(value: Any) -> datetime.datetime | None:
    """Alertmanager's RFC 3339 times; its zero time ("0001-01-01T00:00:00Z") means unset."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    text = value.replace("Z", "+00:00")
    # Python < 3.11 parsers choke on nanoseconds; keep microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


class AlertingCore:
    def __init__(self, settings: AlertingSettings, pool: asyncpg.Pool, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.pool = pool
        self.http = http
        self.rules_path = Path(settings.rules_dir) / settings.rules_file
        self._sync_lock = asyncio.Lock()
        self.reloads = 0
        self.reload_failures = 0
        # Called after every rule change (the event-rule evaluator reads the rules again).
        self.on_rules_changed: Callable[[], None] = lambda: None

    # -- rules ---------------------------------------------------------------------------------

    @_guarded
    async def create_rule(self, caller: Caller, given: RuleInput) -> RuleSpec:
        caller.require_scope("alerting", SCOPE_MESSAGE)
        spec = check_rule(given, str(uuid.uuid4()), creating=True)
        try:
            stored = await records.insert_rule(self.pool, spec)
        except records.RuleExists:
            raise FailedPrecondition(f"a rule named {spec.name!r} exists", reason=Reason.RULE_EXISTS,
                                     field="rule.name") from None
        await self.sync()
        return stored

    @_guarded
    async def update_rule(self, caller: Caller, rule_id: str, given: RuleInput) -> RuleSpec:
        caller.require_scope("alerting", SCOPE_MESSAGE)
        rule_id = _checked_id(rule_id, "rule_id")
        spec = check_rule(given, rule_id, creating=False)
        stored = await records.update_rule(self.pool, spec)
        if stored is None:
            raise _not_found_rule(rule_id)
        await self.sync()
        return stored

    @_guarded
    async def delete_rule(self, caller: Caller, rule_id: str) -> None:
        caller.require_scope("alerting", SCOPE_MESSAGE)
        rule_id = _checked_id(rule_id, "rule_id")
        if not await records.delete_rule(self.pool, rule_id):
            raise _not_found_rule(rule_id)
        await self.sync()

    @_guarded
    async def list_rules(self, caller: Caller, page_size: int, page_token: str) -> tuple[list[RuleSpec], str]:
        caller.require_scope("alerting", SCOPE_MESSAGE)
        size = checked_page_size(page_size, DEFAULT_PAGE_SIZE)
        offset = decode_page_token(page_token, query_digest({"list": "rules"}))
        found = await records.list_rules(self.pool, offset, size + 1)
        token = encode_page_token(offset + size, query_digest({"list": "rules"})) if len(found) > size else ""
        return found[:size], token

    async def sync(self) -> bool:
        """Writes the rule file from the stored rules and, when it changed, asks Prometheus to
        reload. A Prometheus that is away is no error: it reads the file when it starts."""
        self.on_rules_changed()
        async with self._sync_lock:
            text = rules.render(await records.all_rules(self.pool))
            changed = await asyncio.to_thread(rules.write_atomically, self.rules_path, text)
            if changed and self.settings.prometheus_url:
                await self.reload_prometheus()
            return changed

    async def reload_prometheus(self) -> None:
        url = self.settings.prometheus_url.rstrip("/") + "/-/reload"
        try:
            answer = await self.http.post(url, timeout=self.settings.upstream_timeout_s)
            answer.raise_for_status()
            self.reloads += 1
        except httpx.HTTPError as exc:
            self.reload_failures += 1
            log.warning("Prometheus reload failed (it reads the rule file when it starts): %s", exc)

    # -- alerts --------------------------------------------------------------------------------

    @_guarded
    async def list_alerts(self, caller: Caller, state: int, rule_id: str, page_size: int, page_token: str
                          ) -> tuple[list[AlertRow], str]:
        caller.require_scope("alerting", SCOPE_MESSAGE)
        if state not in (0, FIRING, RESOLVED):
            raise _out_of_range("state", f"is {state}, not an AlertState")
        rule_id = _checked_id(rule_id, "rule_id") if rule_id else ""
        size = checked_page_size(page_size, DEFAULT_PAGE_SIZE)
        bound = query_digest({"state": state, "rule_id": rule_id})
        offset = decode_page_token(page_token, bound)
        found = await records.list_alerts(self.pool, state, rule_id, offset, size + 1)
        token = encode_page_token(offset + size, bound) if len(found) > size else ""
        return found[:size], token

    @_guarded
    async def acknowledge(self, caller: Caller, alert_id: str) -> AlertRow:
        caller.require_scope("alerting", SCOPE_MESSAGE)
        alert_id = _checked_id(alert_id, "alert_id")
        row = await records.acknowledge(self.pool, alert_id, caller.principal)
        if row is None:
            raise NotFound(f"no alert {alert_id}", reason=Reason.ALERT_NOT_FOUND, metadata={"alert_id": alert_id})
        return row

    @_guarded
    async def silence(self, caller: Caller, rule_id: str, labels: Mapping[str, str], duration_s: float,
                      comment: str) -> tuple[str, datetime.datetime]:
        caller.require_scope("alerting", SCOPE_MESSAGE)
        rule_id = _checked_id(rule_id, "rule_id")
        if duration_s == 0:
            raise _required("duration")
        if not 1 <= duration_s <= MAX_SILENCE_S:
            raise _out_of_range("duration", f"must be from 1 s to {MAX_SILENCE_S // 86400} days")
        if len(labels) > MAX_SILENCE_LABELS:
            raise _out_of_range("labels", f"may hold at most {MAX_SILENCE_LABELS} labels")
        for name, value in sorted(labels.items()):
            if not _LABEL.fullmatch(name):
                raise _out_of_range(f"labels[{name!r}]", "names 1 to 64 of [A-Za-z0-9_], starting with a letter")
            if len(value) > 256:
                raise _out_of_range(f"labels[{name!r}]", "values are at most 256 characters")
        if len(comment) > MAX_SUMMARY:
            raise _out_of_range("comment", f"must be at most {MAX_SUMMARY} characters")
        rule = await records.get_rule(self.pool, rule_id)
        if rule is None:
            raise _not_found_rule(rule_id)
        if not self.settings.alertmanager_url:
            raise Unavailable("no Alertmanager is configured", reason=Reason.BACKEND_UNAVAILABLE,
                              metadata={"service": "alertmanager"})
        start = datetime.datetime.now(datetime.UTC)
        end = start + datetime.timedelta(seconds=duration_s)
        matchers = [{"name": "alertname", "value": rule.name, "isRegex": False, "isEqual": True},
                    {"name": "ai4vc_rule_id", "value": rule.rule_id, "isRegex": False, "isEqual": True}]
        matchers += [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(labels.items())
                     if k not in ("alertname", "ai4vc_rule_id")]
        body = {"matchers": matchers, "startsAt": start.isoformat(), "endsAt": end.isoformat(),
                "createdBy": caller.principal or "ai4vc", "comment": comment or f"silenced through {rule.name}"}
        url = self.settings.alertmanager_url.rstrip("/") + "/api/v2/silences"
        try:
            answer = await self.http.post(url, json=body, timeout=self.settings.upstream_timeout_s)
            answer.raise_for_status()
            silence_id = str(answer.json()["silenceID"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("Alertmanager refused or did not answer a silence: %s", exc)
            raise Unavailable("Alertmanager cannot take the silence now; try again",
                              reason=Reason.BACKEND_UNAVAILABLE, metadata={"service": "alertmanager"},
                              retry_after_s=1.0) from exc
        return silence_id, end

    # -- notifications from Alertmanager -------------------------------------------------------

    async def receive(self, payload: Mapping[str, Any]) -> int:
        """Records what one Alertmanager webhook notification reports; the number of transitions.
        Raises ValueError for a body that is not a notification. Committed before the receiver
        answers, so Alertmanager retries what was not recorded."""
        reported = parse_notification(payload)
        transitions = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for item in reported:
                rule_id = item.labels.get("ai4vc_rule_id", "")
                rule = None
                if rule_id:
                    with_id = _valid_uuid(rule_id)
                    rule = await records.get_rule(self.pool, with_id) if with_id else None
                severity = _severity_of(item.labels.get("severity", ""))
                row, changed = await records.record(conn, item, rule, severity)
                if not changed:
                    continue
                transitions += 1
                state = "firing" if row.state == FIRING else "resolved"
                event = outbox.new_event(
                    outbox.ALERT_TYPE, "alerting", row.alert_id, "system",
                    id=outbox.event_id(row.alert_id, state, outbox.ALERT_TYPE),
                    alert=events_pb2.Alert(name=row.rule_name, state=state,
                                           severity=rules.SEVERITY_LABEL.get(Severity(severity), "warning"),
                                           summary=row.summary, labels=row.labels))
                await outbox.append(conn, [event])
                if rule is not None and rule.webhook_urls:
                    body = webhook_body(row, state)
                    await records.enqueue(conn, row.alert_id, row.state,
                                          [(url, rule.webhook_secret) for url in rule.webhook_urls], body)
        return transitions


def _valid_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return ""


def _severity_of(label: str) -> int:
    for severity, name in rules.SEVERITY_LABEL.items():
        if name == label:
            return int(severity)
    return int(Severity.WARNING)


def parse_notification(payload: Mapping[str, Any]) -> list[Reported]:
    """The alerts of an Alertmanager webhook body (version 4)."""
    alerts = payload.get("alerts") if isinstance(payload, Mapping) else None
    if not isinstance(alerts, list):
        raise ValueError("not an Alertmanager notification: no alerts")
    out = []
    for alert in alerts:
        if not isinstance(alert, Mapping):
            raise ValueError("an alert is not an object")
        labels = alert.get("labels") or {}
        annotations = alert.get("annotations") or {}
        fingerprint = alert.get("fingerprint")
        start = _parse_time(alert.get("startsAt"))
        if not isinstance(labels, Mapping) or not isinstance(fingerprint, str) or not fingerprint or start is None:
            raise ValueError("an alert lacks labels, fingerprint or startsAt")
        state = RESOLVED if alert.get("status") == "resolved" else FIRING
        out.append(Reported(fingerprint, state, {str(k): str(v) for k, v in labels.items()},
                            str(annotations.get("summary", "")) if isinstance(annotations, Mapping) else "",
                            start, _parse_time(alert.get("endsAt"))))
    return out


def webhook_body(row: AlertRow, state: str) -> bytes:
    """What a user's webhook receives for one transition (JSON, stable key order)."""
    return json.dumps({
        "alert_id": row.alert_id, "rule_id": row.rule_id, "rule_name": row.rule_name, "state": state,
        "severity": rules.SEVERITY_LABEL.get(Severity(row.severity), "warning"), "summary": row.summary,
        "labels": row.labels, "start_time": row.start_time.isoformat(),
        "end_time": row.end_time.isoformat() if row.end_time else None, "fingerprint": row.fingerprint,
    }, sort_keys=True, separators=(",", ":")).encode()

