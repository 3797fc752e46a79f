"""Event rules, evaluated by the service itself: the auth service's audit events on Kafka
(`ai4vc.audit`, read with the chassis `EventConsumer`, from the end: a restart starts counting
afresh) are counted per rule and client address in a sliding window; an address at or over a
rule's threshold becomes an alert posted to Alertmanager, with `endsAt` one window ahead and
renewed by each further event — so it resolves once the address stays quiet for a window, and
grouping, inhibition, silences and the receiver (records, events, webhooks) are the same as for
Prometheus's alerts."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import logging
import time

import asyncpg
import httpx

from ai4vc.events.v1 import events_pb2
from services.alerting import records, rules
from services.alerting.rules import Kind, RuleSpec
from services.alerting.settings import AlertingSettings
from services.common.backends.events import EventConsumer

log = logging.getLogger(__name__)
MAX_TRACKED = 100_000  # (rule, address) windows kept at most; the oldest go first past it
RULES_TTL_S = 2.0


class FailedLogins:
    def __init__(self, settings: AlertingSettings, pool: asyncpg.Pool, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.pool = pool
        self.http = http
        self.windows: collections.OrderedDict[tuple[str, str], collections.deque[float]] = collections.OrderedDict()
        self.assigned = asyncio.Event()
        self.counted = 0
        self.posted = 0
        self._rules: list[RuleSpec] = []
        self._rules_time = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="alerting-event-rules")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def invalidate(self) -> None:
        """The rules changed: read them again at the next event."""
        self._rules_time = 0.0

    async def run(self) -> None:
        backoff = 0.5
        while True:
            consumer = EventConsumer(self.settings.kafka_bootstrap, from_beginning=False,
                                     client_id="ai4vc-alerting")
            try:
                await consumer.start()
                await consumer.assign([self.settings.audit_topic], timeout_s=30)
                self.assigned.set()
                backoff = 0.5
                async for event in consumer.events(poll_timeout_s=0.5):
                    await self.handle(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - broker away or topic not made yet: try again
                log.warning("event rules: reading %s failed: %s", self.settings.audit_topic, exc)
                self.assigned.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _current_rules(self) -> list[RuleSpec]:
        if time.monotonic() - self._rules_time > RULES_TTL_S:
            self._rules = [r for r in await records.all_rules(self.pool) if r.kind is Kind.FAILED_LOGINS]
            self._rules_time = time.monotonic()
        return self._rules

    async def handle(self, event: events_pb2.Event) -> None:
        if not event.HasField("audit") or event.audit.action != rules.FAILED_LOGIN_ACTION:
            return
        field = event.audit.details.fields.get("address")
        address = (field.string_value if field is not None else "") or "unknown"
        at = event.time.seconds + event.time.nanos / 1e9
        self.counted += 1
        for rule in await self._current_rules():
            key = (rule.rule_id, address)
            window = self.windows.pop(key, None) or collections.deque()
            window.append(at)
            while window and window[0] < at - rule.window_s:
                window.popleft()
            self.windows[key] = window  # most recently seen last
            if len(window) >= rule.threshold:
                await self._post(rule, address, window[0])
        while len(self.windows) > MAX_TRACKED:
            self.windows.popitem(last=False)

    async def _post(self, rule: RuleSpec, address: str, first: float) -> None:
        if not self.settings.alertmanager_url:
            return
        now = datetime.datetime.now(datetime.UTC)
        alert = {
            "labels": {"alertname": rule.name, "ai4vc_rule_id": rule.rule_id, "ai4vc_kind": rules.KIND_LABEL[rule.kind],
                       "severity": rules.SEVERITY_LABEL[rule.severity], "address": address},
            "annotations": {"summary": rule.summary or rules.default_summary(rule)},
            "startsAt": datetime.datetime.fromtimestamp(first, datetime.UTC).isoformat(),
            "endsAt": (now + datetime.timedelta(seconds=rule.window_s)).isoformat(),
        }
        url = self.settings.alertmanager_url.rstrip("/") + "/api/v2/alerts"
        try:
            answer = await self.http.post(url, json=[alert], timeout=self.settings.upstream_timeout_s)
            answer.raise_for_status()
            self.posted += 1
        except httpx.HTTPError as exc:
            # The next event from the address posts again; a quiet address resolves by itself.
            log.warning("event rules: Alertmanager did not take the alert: %s", exc)
