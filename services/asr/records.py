"""The ASR service's request records: the fields a Recognize or StreamingRecognize record carries
(built here, sent by the servicer through `CallRecorder`) and the batch writer the record sink
calls, beside the migrations that define the tables (`migrations/`), and the events each record
puts in the outbox."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence

import asyncpg

from ai4vc.events.v1 import events_pb2
from services.asr.core import Options, Utterance
from services.common import audio
from services.common.backends.records import Record, call_events, request_columns


def recognition(*, model: str, language: str, options: Options, audio_s: float, sample_rate: int, status: str,
                utterances: Sequence[Utterance], stored: bytes = b"", truncated: bool = False) -> Record:
    """A recognition that ended, whatever the outcome: its utterances, and its audio only when the
    caller opted in with store_audio."""
    return {
        "model": model,
        "language": language,
        "audio_seconds": audio_s,
        "encoding": audio.encoding_name(options.encoding),
        "sample_rate_hertz": sample_rate,
        "status": status,
        "results": [
            {"transcript": u.transcript, "confidence": u.confidence,
             "words": [{"word": w.word, "start_s": w.start_s, "end_s": w.end_s, "confidence": w.confidence}
                       for w in u.words]}
            for u in utterances
        ],
        # base64 so the record survives the JSON spool.
        "audio": base64.b64encode(stored).decode() if options.store_audio and stored else None,
        "audio_truncated": truncated,
    }


def events(record: Record) -> list[events_pb2.Event]:
    """The outbox events of one record: model, language and seconds of audio in, never audio or transcripts."""
    return call_events("asr", record, model=record["model"], language_code=record["language"],
                       audio_seconds=record["audio_seconds"])


async def write_records(conn: asyncpg.Connection, batch: Sequence[Record]) -> None:
    """Idempotent batch insert of requests, per-utterance results and opted-in audio."""
    await conn.executemany(
        "INSERT INTO asr_requests (id, request_id, created_time, principal, method, model, language, audio_seconds,"
        " encoding, sample_rate_hertz, status, latency_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING",
        [
            (*request_columns(r), r["model"], r["language"], r["audio_seconds"], r["encoding"], r["sample_rate_hertz"],
             r["status"], r["latency_ms"])
            for r in batch
        ],
    )
    await conn.executemany(
        "INSERT INTO asr_results (request_uuid, utterance_index, transcript, confidence, words)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
        [
            (uuid.UUID(r["id"]), i, x["transcript"], x["confidence"], json.dumps(x["words"], ensure_ascii=False))
            for r in batch
            for i, x in enumerate(r["results"])
        ],
    )
    await conn.executemany(
        "INSERT INTO asr_audio (request_uuid, encoding, sample_rate_hertz, truncated, content)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        [
            (uuid.UUID(r["id"]), r["encoding"], r["sample_rate_hertz"], bool(r.get("audio_truncated")),
             base64.b64decode(r["audio"]))
            for r in batch if r.get("audio")
        ],
    )
