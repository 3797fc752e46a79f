"""The transactional outbox: how a service publishes an event without a second system to keep
consistent. An event (`ai4vc.events.v1.Event`) is appended to the `event_outbox` table inside
the transaction of the change it reports, so it exists exactly when the change does; the relay
(`services/events`) publishes unsent rows to Kafka and marks them sent.

Ids are the consumers' deduplication key (delivery is at least once). An event rebuilt from
the same record (a replayed batch) must get the same id: `event_id(record id, type)` is a
UUIDv5, and `append` ignores ids already present.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from google.protobuf.message import Message

from ai4vc.events.v1 import events_pb2
from services.common.backends import db

MIGRATIONS = Path(__file__).parent / "outbox_migrations"

# Event types (`Event.type`), one per payload.
INFERENCE_REQUEST_TYPE = "ai4vc.inference.request.v1"
USAGE_TYPE = "ai4vc.usage.v1"
CONFIG_CHANGED_TYPE = "ai4vc.config.changed.v1"
AUDIT_TYPE = "ai4vc.audit.v1"
ALERT_TYPE = "ai4vc.alert.v1"

# The topic of each payload field of `Event` (see `EventKind` in events.proto).
TOPIC_OF_PAYLOAD: dict[str, str] = {
    "inference_request": "ai4vc.inference",
    "usage": "ai4vc.usage",
    "config_change": "ai4vc.config",
    "audit": "ai4vc.audit",
    "alert": "ai4vc.alerts",
}
TOPIC_OF_KIND: dict[int, str] = {
    events_pb2.EVENT_KIND_INFERENCE: "ai4vc.inference",
    events_pb2.EVENT_KIND_USAGE: "ai4vc.usage",
    events_pb2.EVENT_KIND_CONFIG: "ai4vc.config",
    events_pb2.EVENT_KIND_AUDIT: "ai4vc.audit",
    events_pb2.EVENT_KIND_ALERT: "ai4vc.alerts",
}
TOPICS: tuple[str, ...] = tuple(TOPIC_OF_PAYLOAD.values())

# Fixed namespace of the platform's deterministic event ids (never change it: ids would change).
_NAMESPACE = uuid.UUID("6f1c2a4e-5b7d-5e8f-9a0b-1c2d3e4f5a6b")


async def migrate(pool: asyncpg.Pool) -> list[int]:
    """Creates (or updates) the outbox table in the pool's schema."""
    return await db.migrate(pool, MIGRATIONS, "outbox")


def event_id(*parts: str) -> str:
    """A deterministic event id: the same parts (e.g. a record id and an event type) give the
    same UUID, so an event rebuilt from a replayed record is recognised as already written."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def new_event(type: str, source: str, subject: str, principal: str = "", *, id: str | None = None,  # noqa: A002
              traceparent: str = "", time: datetime.datetime | None = None, **payload: Message
              ) -> events_pb2.Event:
    """An event with exactly one payload, given by its field name: `inference_request=`,
    `usage=`, `config_change=`, `audit=` or `alert=`. `id` defaults to a random UUID (pass
    `event_id(...)` where the event may be rebuilt), `time` to now."""
    if len(payload) != 1 or next(iter(payload)) not in TOPIC_OF_PAYLOAD:
        raise ValueError(f"new_event takes exactly one payload of {', '.join(TOPIC_OF_PAYLOAD)}; got {sorted(payload)}")
    if not type:
        raise ValueError("an event needs a type")
    event = events_pb2.Event(id=id or str(uuid.uuid4()), type=type, source=source, subject=subject,
                             principal=principal, traceparent=traceparent)
    event.time.FromDatetime(time or datetime.datetime.now(datetime.UTC))
    (name, message), = payload.items()
    getattr(event, name).CopyFrom(message)
    return event


def topic_of(event: events_pb2.Event) -> str:
    """The Kafka topic `event` is published to, from its payload."""
    kind = event.WhichOneof("payload")
    if kind is None:
        raise ValueError(f"event {event.id} has no payload")
    return TOPIC_OF_PAYLOAD[kind]


async def append(conn: asyncpg.Connection, events: Sequence[events_pb2.Event]) -> None:
    """Adds `events` to the outbox in the caller's transaction (the caller opens it). An id
    already in the outbox is left as it is, so a replayed batch adds nothing."""
    if not events:
        return
    await conn.executemany(
        "INSERT INTO event_outbox (id, topic, message_key, payload) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO NOTHING",
        [(uuid.UUID(e.id), topic_of(e), e.subject, e.SerializeToString(deterministic=True)) for e in events],
    )
