"""The NMT service's request records: the fields each method's record carries (built here, sent
by the servicer through `CallRecorder`), the batch writer the record sink calls and the events
each record puts in the outbox, beside the migrations that define the tables (`migrations/`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg

from ai4vc.events.v1 import events_pb2
from services.common.backends.records import Record, call_events, request_columns
from services.nmt.core import Translation
from services.nmt.langid import Guess

# The `method` of records spooled before every method was recorded (they carry none).
_DEFAULT_METHOD = "TranslateText"


def translation(contents: Sequence[str], source_language_code: str, target_language_code: str,
                translations: Sequence[Translation]) -> Record:
    """A TranslateText call that answered: one result per text, with its (detected) language."""
    return {
        "model": translations[0].model if translations else "",
        "source_language_code": source_language_code,
        "target_language_code": target_language_code,
        "status": "OK",
        "results": [
            {"source_text": text, "translated_text": t.text, "source_language_code": t.source_language_code}
            for text, t in zip(contents, translations, strict=True)
        ],
    }


def transliteration(contents: Sequence[str], source_language_code: str, target_language_code: str,
                    candidates: Sequence[Sequence[str]]) -> Record:
    """A Transliterate call that answered: per text its best candidate and all candidates. The core
    doesn't say which model served it, so `model` stays empty."""
    return {
        "model": "",
        "source_language_code": source_language_code,
        "target_language_code": target_language_code,
        "status": "OK",
        "results": [
            {"source_text": text, "translated_text": found[0] if found else "",
             "source_language_code": source_language_code, "alternatives": list(found)}
            for text, found in zip(contents, candidates, strict=True)
        ],
    }


def detection(content: str, guesses: Sequence[Guess]) -> Record:
    """A DetectLanguage call that answered: the best guess as the source language, every guess
    with its confidence as alternatives; no target, no output text."""
    best = guesses[0].language_code if guesses else ""
    return {
        "model": "",
        "source_language_code": best,
        "target_language_code": "",
        "status": "OK",
        "results": [
            {"source_text": content, "translated_text": "", "source_language_code": best,
             "alternatives": [{"language_code": g.language_code, "confidence": g.confidence} for g in guesses]},
        ],
    }


def events(record: Record) -> list[events_pb2.Event]:
    """The outbox events of one record: languages, model and characters in, never the text."""
    return call_events("nmt", record, model=record["model"], language_code=record["source_language_code"],
                       target_language_code=record["target_language_code"],
                       characters=sum(len(x["source_text"]) for x in record["results"]))


async def write_records(conn: asyncpg.Connection, batch: Sequence[Record]) -> None:
    """Idempotent batch insert of requests and their per-text results (replays are harmless).
    Records spooled by an older writer lack `method` and `alternatives`; they get the defaults."""
    await conn.executemany(
        "INSERT INTO nmt_requests (id, request_id, created_time, principal, method, model, source_language_code,"
        " target_language_code, num_contents, total_characters, status, latency_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING",
        [
            (
                *request_columns(r, _DEFAULT_METHOD), r["model"], r["source_language_code"],
                r["target_language_code"], len(r["results"]), sum(len(x["source_text"]) for x in r["results"]),
                r["status"], r["latency_ms"],
            )
            for r in batch
        ],
    )
    await conn.executemany(
        "INSERT INTO nmt_results (request_uuid, item_index, source_text, translated_text, source_language_code,"
        " alternatives) VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING",
        [
            (uuid.UUID(r["id"]), i, x["source_text"], x["translated_text"], x["source_language_code"],
             json.dumps(x.get("alternatives", []), ensure_ascii=False))
            for r in batch
            for i, x in enumerate(r["results"])
        ],
    )
