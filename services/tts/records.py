"""The TTS service's request records: the fields a Synthesize, StreamingSynthesize or
BidiStreamingSynthesize record carries (built here, sent by the servicer through `CallRecorder`)
and the batch writer the record sink calls, beside the migrations that define the table
(`migrations/`), and the events each record puts in the outbox."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from ai4vc.events.v1 import events_pb2
from services.common import audio
from services.common.backends.records import Record, call_events, request_columns
from services.tts.core import Plan


def synthesis(plan: Plan, audio_s: float, status: str) -> Record:
    """A synthesis that ended, whatever the outcome, with the seconds of audio sent by then."""
    return {
        "voice": plan.voice.name,
        "language": plan.voice.language,
        "characters": plan.characters,
        "audio_seconds": audio_s,
        "encoding": audio.encoding_name(plan.output.encoding),
        "status": status,
    }


def events(record: Record) -> list[events_pb2.Event]:
    """The outbox events of one record: voice, language, characters in and audio out, never the text."""
    return call_events("tts", record, model=record["voice"], language_code=record["language"],
                       characters=record["characters"], audio_seconds=record["audio_seconds"])


async def write_records(conn: asyncpg.Connection, batch: Sequence[Record]) -> None:
    """Idempotent batch insert (replays are harmless)."""
    await conn.executemany(
        "INSERT INTO tts_requests (id, request_id, created_time, principal, method, voice, language, characters,"
        " audio_seconds, encoding, status, latency_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING",
        [
            (
                *request_columns(r), r["voice"], r["language"], r["characters"], r["audio_seconds"],
                r["encoding"], r["status"], r["latency_ms"],
            )
            for r in batch
        ],
    )
