"""PostgreSQL records of the alerting service: rules, alerts, and the webhook delivery outbox.
Knows nothing of grpc. An alert's transition (firing, resolved), its event on the platform's
outbox and its webhook deliveries are written in one transaction, so none exists without the
others."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from services.alerting.rules import Kind, RuleSpec, Severity

MIGRATIONS = Path(__file__).parent / "migrations"
FIRING = 1
RESOLVED = 2
_NAMESPACE = uuid.UUID("0b7e8a52-3f7c-5d0e-a1c4-7d2f9e6b4a10")

_RULE_COLUMNS = ("rule_id, name, kind, severity, summary, component, method, model, threshold, for_s,"
                 " webhook_urls, webhook_secret, window_s, key_id, create_time, update_time")


@dataclasses.dataclass(frozen=True)
class AlertRow:
    alert_id: str
    rule_id: str
    rule_name: str
    fingerprint: str
    state: int
    severity: int
    summary: str
    labels: dict[str, str]
    start_time: datetime.datetime
    end_time: datetime.datetime | None
    acknowledged_by: str
    acknowledge_time: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class Reported:
    """One alert as Alertmanager's webhook reports it."""

    fingerprint: str
    state: int
    labels: dict[str, str]
    summary: str
    start_time: datetime.datetime
    end_time: datetime.datetime | None

    @property
    def alert_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.fingerprint}\x1f{self.start_time.isoformat()}"))


@dataclasses.dataclass(frozen=True)
class Delivery:
    delivery_id: int
    url: str
    secret: str
    body: bytes
    attempts: int


def _rule(row: asyncpg.Record) -> RuleSpec:
    return RuleSpec(str(row["rule_id"]), row["name"], Kind(row["kind"]), Severity(row["severity"]), row["summary"],
                    row["component"], row["method"], row["model"], row["threshold"], row["for_s"],
                    tuple(row["webhook_urls"]), row["webhook_secret"], row["window_s"], row["key_id"],
                    row["create_time"], row["update_time"])


def _alert(row: asyncpg.Record) -> AlertRow:
    labels = row["labels"]
    return AlertRow(str(row["alert_id"]), str(row["rule_id"] or ""), row["rule_name"], row["fingerprint"],
                    row["state"], row["severity"], row["summary"],
                    json.loads(labels) if isinstance(labels, str) else dict(labels),
                    row["start_time"], row["end_time"], row["acknowledged_by"], row["acknowledge_time"])


class RuleExists(Exception):
    """A rule of that name exists."""


async def insert_rule(pool: asyncpg.Pool, rule: RuleSpec) -> RuleSpec:
    try:
        row = await pool.fetchrow(
            f"INSERT INTO alert_rules ({_RULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
            f" $13, $14, now(), now()) RETURNING {_RULE_COLUMNS}",
            uuid.UUID(rule.rule_id), rule.name, int(rule.kind), int(rule.severity), rule.summary, rule.component,
            rule.method, rule.model, rule.threshold, rule.for_s, list(rule.webhook_urls), rule.webhook_secret,
            rule.window_s, rule.key_id)
    except asyncpg.UniqueViolationError as exc:
        raise RuleExists(rule.name) from exc
    return _rule(row)


async def update_rule(pool: asyncpg.Pool, rule: RuleSpec) -> RuleSpec | None:
    """Replaces the definition of `rule.rule_id` (name kept; an empty secret keeps the old one)."""
    row = await pool.fetchrow(
        "UPDATE alert_rules SET kind = $2, severity = $3, summary = $4, component = $5, method = $6, model = $7,"
        " threshold = $8, for_s = $9, webhook_urls = $10,"
        " webhook_secret = CASE WHEN $11 = '' THEN webhook_secret ELSE $11 END, window_s = $12,"
        " key_id = $13, update_time = now()"
        f" WHERE rule_id = $1 RETURNING {_RULE_COLUMNS}",
        uuid.UUID(rule.rule_id), int(rule.kind), int(rule.severity), rule.summary, rule.component, rule.method,
        rule.model, rule.threshold, rule.for_s, list(rule.webhook_urls), rule.webhook_secret, rule.window_s,
        rule.key_id)
    return _rule(row) if row else None


async def get_rule(pool: asyncpg.Pool, rule_id: str) -> RuleSpec | None:
    row = await pool.fetchrow(f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE rule_id = $1", uuid.UUID(rule_id))
    return _rule(row) if row else None


async def delete_rule(pool: asyncpg.Pool, rule_id: str) -> bool:
    return bool(await pool.fetchval("DELETE FROM alert_rules WHERE rule_id = $1 RETURNING true", uuid.UUID(rule_id)))


async def list_rules(pool: asyncpg.Pool, offset: int, limit: int) -> list[RuleSpec]:
    rows = await pool.fetch(f"SELECT {_RULE_COLUMNS} FROM alert_rules ORDER BY name OFFSET $1 LIMIT $2",
                            offset, limit)
    return [_rule(r) for r in rows]


async def all_rules(pool: asyncpg.Pool) -> list[RuleSpec]:
    return [_rule(r) for r in await pool.fetch(f"SELECT {_RULE_COLUMNS} FROM alert_rules ORDER BY name")]


_ALERT_COLUMNS = ("alert_id, rule_id, rule_name, fingerprint, state, severity, summary, labels, start_time, end_time,"
                  " acknowledged_by, acknowledge_time")


async def list_alerts(pool: asyncpg.Pool, state: int, rule_id: str, offset: int, limit: int) -> list[AlertRow]:
    rows = await pool.fetch(
        f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE ($1 = 0 OR state = $1) AND ($2::uuid IS NULL OR rule_id = $2)"
        " ORDER BY start_time DESC, alert_id OFFSET $3 LIMIT $4",
        state, uuid.UUID(rule_id) if rule_id else None, offset, limit)
    return [_alert(r) for r in rows]


async def acknowledge(pool: asyncpg.Pool, alert_id: str, principal: str) -> AlertRow | None:
    row = await pool.fetchrow(
        "UPDATE alerts SET acknowledged_by = $2, acknowledge_time = now(), update_time = now()"
        f" WHERE alert_id = $1 RETURNING {_ALERT_COLUMNS}", uuid.UUID(alert_id), principal)
    return _alert(row) if row else None


async def record(conn: asyncpg.Connection, reported: Reported, rule: RuleSpec | None, severity: int
                 ) -> tuple[AlertRow, bool]:
    """Upserts the alert in the caller's transaction; whether its state changed (a new alert, or
    firing → resolved). A repeat of what is stored, or a late `firing` after `resolved`, is no
    transition."""
    previous = await conn.fetchval("SELECT state FROM alerts WHERE alert_id = $1 FOR UPDATE",
                                   uuid.UUID(reported.alert_id))
    if previous is not None and (previous == reported.state or previous == RESOLVED):
        row = await conn.fetchrow(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE alert_id = $1",
                                  uuid.UUID(reported.alert_id))
        return _alert(row), False
    row = await conn.fetchrow(
        f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, '', NULL)"
        " ON CONFLICT (alert_id) DO UPDATE SET state = EXCLUDED.state, end_time = EXCLUDED.end_time,"
        f" summary = EXCLUDED.summary, update_time = now() RETURNING {_ALERT_COLUMNS}",
        uuid.UUID(reported.alert_id), uuid.UUID(rule.rule_id) if rule else None,
        reported.labels.get("alertname", ""), reported.fingerprint, reported.state, severity, reported.summary,
        json.dumps(reported.labels, sort_keys=True), reported.start_time,
        reported.end_time if reported.state == RESOLVED else None)
    return _alert(row), True


async def enqueue(conn: asyncpg.Connection, alert_id: str, transition: int,
                  targets: Sequence[tuple[str, str]], body: bytes) -> None:
    """Adds one delivery per (url, secret), once per alert and transition."""
    await conn.executemany(
        "INSERT INTO webhook_deliveries (alert_id, transition, url, secret, body) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (alert_id, transition, url) DO NOTHING",
        [(uuid.UUID(alert_id), transition, url, secret, body) for url, secret in targets])


async def claim_due(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[Delivery]:
    """Due deliveries, pushed `lease_s` into the future so that another replica (or the next
    poll) does not send them while this attempt runs; a crash mid-attempt retries after it."""
    rows = await conn.fetch(
        "UPDATE webhook_deliveries SET next_attempt_time = now() + make_interval(secs => $2)"
        " WHERE delivery_id IN (SELECT delivery_id FROM webhook_deliveries WHERE delivered_time IS NULL"
        "  AND next_attempt_time <= now() ORDER BY next_attempt_time LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING delivery_id, url, secret, body, attempts", limit, lease_s)
    return [Delivery(r["delivery_id"], r["url"], r["secret"], bytes(r["body"]), r["attempts"]) for r in rows]


async def delivered(pool: asyncpg.Pool, delivery_id: int) -> None:
    await pool.execute("UPDATE webhook_deliveries SET delivered_time = now(), attempts = attempts + 1,"
                       " last_error = '' WHERE delivery_id = $1", delivery_id)


async def failed(pool: asyncpg.Pool, delivery_id: int, retry_in_s: float, error: str) -> None:
    await pool.execute("UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $3,"
                       " next_attempt_time = now() + make_interval(secs => $2) WHERE delivery_id = $1",
                       delivery_id, retry_in_s, error[:500])


async def pending(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE delivered_time IS NULL"))


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
