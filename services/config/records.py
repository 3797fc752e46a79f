"""What a configuration change writes besides the value tables, inside the change's own
transaction: an audit row, an event for the outbox (`ai4vc.config.changed.v1`, relayed to Kafka
topic "ai4vc.config"), and the NOTIFY that wakes every replica's watchers at commit.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from google.protobuf import json_format, struct_pb2

from ai4vc.events.v1 import events_pb2
from services.common.backends import outbox
from services.config import watch

EVENT_TYPE = outbox.CONFIG_CHANGED_TYPE
SOURCE = "config"
ACTIONS = {
    "set": events_pb2.CONFIG_ACTION_SET,
    "deleted": events_pb2.CONFIG_ACTION_DELETED,
    "rolled_back": events_pb2.CONFIG_ACTION_ROLLED_BACK,
}


def to_value(value: Any) -> struct_pb2.Value:
    return json_format.ParseDict(value, struct_pb2.Value())


async def record_change(conn: asyncpg.Connection, *, channel: str, namespace: str, key: str, version: int,
                        action: str, value: Any, principal: str, restored_version: int = 0) -> None:
    """Audit row, outbox event and NOTIFY for one change; `conn` is inside the change's transaction."""
    details: dict[str, Any] = {"version": version}
    if value is not None:
        details["value"] = value
    if restored_version:
        details["restored_version"] = restored_version
    await conn.execute(
        "INSERT INTO config_audit_logs (actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5)",
        principal, f"config.{action}", "config", f"{namespace}/{key}", json.dumps(details))
    change = events_pb2.ConfigChange(namespace=namespace, key=key, version=version, action=ACTIONS[action])
    if value is not None:
        change.value.CopyFrom(to_value(value))
    subject = f"{namespace}/{key}"
    # One event per version: its id is derived from it, so a retried write cannot add a second.
    event = outbox.new_event(EVENT_TYPE, SOURCE, subject, principal, config_change=change,
                             id=outbox.event_id(subject, str(version), EVENT_TYPE))
    await outbox.append(conn, [event])
    await conn.execute("SELECT pg_notify($1, $2)", channel, watch.notice(namespace, key, version))
