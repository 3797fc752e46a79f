"""What a batch of events writes, in one transaction: the ids of the events it counts (so a
redelivered event is counted once), the minute and day rollups they add to, and the consumer's
next offsets — so rollups and offsets move together, and a crash between the two cannot count
an event twice or lose one (exactly-once effect over an at-least-once stream).

Events other than `InferenceRequest` and `Usage` payloads are skipped (their offsets still move).
Knows nothing of grpc.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import asyncpg

from ai4vc.events.v1 import events_pb2
from services.common.backends.events import Delivery

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"

# Upper bounds (seconds, inclusive) of the latency histogram; one more bucket above the last.
LATENCY_BOUNDS_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BUCKETS = len(LATENCY_BOUNDS_S) + 1
GRANULARITIES = ("minute", "day")
# Longest dimension value kept (the events come from our services, but a bug must not bloat keys).
MAX_VALUE_CHARS = 128
OK = "OK"


@dataclasses.dataclass(frozen=True)
class RollupKey:
    """Which rollup row a contribution goes to (besides its bucket)."""

    key_id: str
    principal: str
    service: str
    method: str
    language_code: str
    model: str
    status: str


@dataclasses.dataclass
class Counts:
    """What one or more events add to a rollup row."""

    request_count: int = 0
    characters: int = 0
    audio_seconds: float = 0.0
    metered_characters: int = 0
    metered_audio_seconds: float = 0.0
    latency_seconds: float = 0.0
    latency_buckets: list[int] = dataclasses.field(default_factory=lambda: [0] * BUCKETS)

    def add(self, other: Counts) -> None:
        self.request_count += other.request_count
        self.characters += other.characters
        self.audio_seconds += other.audio_seconds
        self.metered_characters += other.metered_characters
        self.metered_audio_seconds += other.metered_audio_seconds
        self.latency_seconds += other.latency_seconds
        self.latency_buckets = [a + b for a, b in zip(self.latency_buckets, other.latency_buckets, strict=True)]


@dataclasses.dataclass(frozen=True)
class Rollup:
    """A rollup row as it stands after a batch (what the InfluxDB sink writes)."""

    granularity: str
    bucket_start: datetime.datetime
    key: RollupKey
    counts: Counts


def latency_bucket(seconds: float) -> int:
    for index, bound in enumerate(LATENCY_BOUNDS_S):
        if seconds <= bound:
            return index
    return len(LATENCY_BOUNDS_S)


def bucket_start(when: datetime.datetime, granularity: str) -> datetime.datetime:
    when = when.astimezone(datetime.UTC)
    if granularity == "minute":
        return when.replace(second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _clip(value: str) -> str:
    return value[:MAX_VALUE_CHARS]


def contribution(event: events_pb2.Event) -> tuple[RollupKey, Counts] | None:
    """What `event` adds to the rollups; None for an event the metrics do not count."""
    kind = event.WhichOneof("payload")
    if kind == "inference_request":
        request = event.inference_request
        latency = max(request.latency.ToNanoseconds() / 1e9, 0.0)
        counts = Counts(request_count=1, characters=max(request.characters, 0),
                        audio_seconds=max(request.audio_seconds, 0.0), latency_seconds=latency)
        counts.latency_buckets[latency_bucket(latency)] = 1
        key = RollupKey(_clip(request.key_id), _clip(event.principal), _clip(request.service or event.source),
                        _clip(request.method), _clip(request.language_code), _clip(request.model),
                        _clip(request.status or OK))
        return key, counts
    if kind == "usage":
        usage = event.usage
        # Metered usage names only the key and the service; it is no call of its own.
        key = RollupKey(_clip(usage.key_id), _clip(event.principal), _clip(usage.service or event.source),
                        "", "", "", OK)
        return key, Counts(metered_characters=max(usage.characters, 0),
                           metered_audio_seconds=max(usage.audio_seconds, 0.0))
    return None


def _event_time(event: events_pb2.Event) -> datetime.datetime:
    if event.HasField("time"):
        return event.time.ToDatetime(datetime.UTC)
    return datetime.datetime.now(datetime.UTC)


def _event_uuid(event: events_pb2.Event) -> uuid.UUID | None:
    try:
        return uuid.UUID(event.id)
    except ValueError:
        return None


_UPSERT = """
INSERT INTO usage_rollups_{g} AS r (bucket_start, key_id, principal, service, method, language_code, model, status,
    request_count, characters, audio_seconds, metered_characters, metered_audio_seconds, latency_seconds,
    latency_buckets)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (bucket_start, key_id, principal, service, method, language_code, model, status) DO UPDATE SET
    request_count = r.request_count + EXCLUDED.request_count,
    characters = r.characters + EXCLUDED.characters,
    audio_seconds = r.audio_seconds + EXCLUDED.audio_seconds,
    metered_characters = r.metered_characters + EXCLUDED.metered_characters,
    metered_audio_seconds = r.metered_audio_seconds + EXCLUDED.metered_audio_seconds,
    latency_seconds = r.latency_seconds + EXCLUDED.latency_seconds,
    latency_buckets = ARRAY(SELECT a + b FROM unnest(r.latency_buckets, EXCLUDED.latency_buckets) AS u(a, b))
RETURNING request_count, characters, audio_seconds, metered_characters, metered_audio_seconds, latency_seconds,
    latency_buckets
"""
_OFFSET = """
INSERT INTO metrics_consumer_offsets (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
ON CONFLICT (consumer, topic, partition) DO UPDATE
SET next_offset = greatest(metrics_consumer_offsets.next_offset, EXCLUDED.next_offset), update_time = now()
"""


@dataclasses.dataclass(frozen=True)
class BatchResult:
    count: int  # events added to the rollups
    duplicates: int  # events already counted before (redelivered)
    skipped: int  # messages the metrics do not count (other payloads, not events)
    rollups: list[Rollup]
    counted_by_topic: dict[str, int]
    counted: list[tuple[RollupKey, Counts]] = dataclasses.field(default_factory=list)  # the new events' parts


async def apply_batch(conn: asyncpg.Connection, consumer: str, batch: Sequence[Delivery]) -> BatchResult:
    """Counts `batch` into the rollups and stores the offsets past it; `conn` is inside the
    caller's transaction."""
    candidates: dict[uuid.UUID, tuple[str, events_pb2.Event, RollupKey, Counts]] = {}
    skipped = repeats = 0
    for item in batch:
        found = contribution(item.event) if item.event is not None else None
        event_uuid = _event_uuid(item.event) if item.event is not None else None
        if found is None or event_uuid is None:
            skipped += 1
            continue
        assert item.event is not None
        if event_uuid in candidates:
            repeats += 1
        candidates.setdefault(event_uuid, (item.topic, item.event, *found))
    new: set[uuid.UUID] = set()
    if candidates:
        rows = await conn.fetch("INSERT INTO metrics_processed_events (event_id) SELECT unnest($1::uuid[])"
                                " ON CONFLICT (event_id) DO NOTHING RETURNING event_id", list(candidates))
        new = {r["event_id"] for r in rows}
    merged: dict[tuple[str, datetime.datetime, RollupKey], Counts] = {}
    by_topic: dict[str, int] = {}
    counted: list[tuple[RollupKey, Counts]] = []
    for event_uuid in new:
        topic, event, key, counts = candidates[event_uuid]
        by_topic[topic] = by_topic.get(topic, 0) + 1
        counted.append((key, counts))
        when = _event_time(event)
        for granularity in GRANULARITIES:
            slot = merged.setdefault((granularity, bucket_start(when, granularity), key), Counts())
            slot.add(counts)
    rollups: list[Rollup] = []
    for (granularity, start, key), counts in sorted(merged.items(), key=lambda item: (item[0][0], item[0][1],
                                                                                       dataclasses.astuple(item[0][2]))):
        row = await conn.fetchrow(
            _UPSERT.format(g=granularity), start, key.key_id, key.principal, key.service, key.method,
            key.language_code, key.model, key.status, counts.request_count, counts.characters, counts.audio_seconds,
            counts.metered_characters, counts.metered_audio_seconds, counts.latency_seconds, counts.latency_buckets)
        rollups.append(Rollup(granularity, start, key, Counts(
            row["request_count"], row["characters"], row["audio_seconds"], row["metered_characters"],
            row["metered_audio_seconds"], row["latency_seconds"], list(row["latency_buckets"]))))
    await store_offsets(conn, consumer, batch)
    return BatchResult(len(new), len(candidates) - len(new) + repeats, skipped, rollups, by_topic, counted)


async def store_offsets(conn: asyncpg.Connection, consumer: str, batch: Iterable[Delivery]) -> None:
    ends: dict[tuple[str, int], int] = {}
    for item in batch:
        place = (item.topic, item.partition)
        ends[place] = max(ends.get(place, 0), item.offset + 1)
    if ends:
        await conn.executemany(_OFFSET, [(consumer, t, p, o) for (t, p), o in sorted(ends.items())])


async def load_offsets(pool: asyncpg.Pool, consumer: str) -> dict[tuple[str, int], int]:
    rows = await pool.fetch("SELECT topic, partition, next_offset FROM metrics_consumer_offsets WHERE consumer = $1",
                            consumer)
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def clean_up(pool: asyncpg.Pool, dedup_retention_s: float, minute_retention_s: float) -> None:
    """Forgets old event ids and old minute rollups (day rollups stay)."""
    await pool.execute("DELETE FROM metrics_processed_events WHERE processed_time < now() - make_interval(secs => $1)",
                       dedup_retention_s)
    await pool.execute("DELETE FROM usage_rollups_minute WHERE bucket_start < now() - make_interval(secs => $1)",
                       minute_retention_s)
