"""gRPC adapter for the NMT core: proto → domain call → proto, and the request record."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence

import asyncpg
import grpc

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.backends.records import Record, RecordSink
from services.common.backends.usage import UsageMeter
from services.common.logs import request_id_var
from services.common.rpc.context import CallRecorder, remaining_s
from services.nmt.core import NmtCore


class NmtServicer(pb_grpc.NmtServiceServicer):
    def __init__(self, core: NmtCore, records: RecordSink, usage: UsageMeter | None = None) -> None:
        self.core = core
        self.records = records
        self.usage = usage

    async def TranslateText(self, request: pb.TranslateTextRequest, context: grpc.aio.ServicerContext
                            ) -> pb.TranslateTextResponse:
        recorder = CallRecorder(self.records, context)
        translations = await self.core.translate(
            list(request.contents),
            request.source_language_code,
            request.target_language_code,
            model=request.model,
            do_not_translate=list(request.do_not_translate),
            timeout_s=remaining_s(context),
            request_id=request_id_var.get(),
        )
        response = pb.TranslateTextResponse(
            translations=[
                pb.Translation(
                    translated_text=t.text,
                    detected_language_code=t.source_language_code if t.detected else "",
                    model=t.model,
                )
                for t in translations
            ]
        )
        if self.usage is not None:
            self.usage.record(context, characters=sum(len(text) for text in request.contents))
        recorder.send({
            "model": translations[0].model,
            "source_language_code": request.source_language_code or "",
            "target_language_code": request.target_language_code,
            "status": "OK",
            "results": [
                {"source_text": text, "translated_text": t.text, "source_language_code": t.source_language_code}
                for text, t in zip(request.contents, translations, strict=True)
            ],
        })
        return response

    async def DetectLanguage(self, request: pb.DetectLanguageRequest, context: grpc.aio.ServicerContext
                             ) -> pb.DetectLanguageResponse:
        guesses = self.core.detect(request.content)
        return pb.DetectLanguageResponse(
            languages=[pb.DetectedLanguage(language_code=g.language_code, confidence=g.confidence) for g in guesses]
        )

    async def ListLanguagePairs(self, request: pb.ListLanguagePairsRequest, context: grpc.aio.ServicerContext
                                ) -> pb.ListLanguagePairsResponse:
        pairs, next_token = await self.core.list_pairs(
            request.page_size, request.page_token, request.source_language_code, request.target_language_code
        )
        return pb.ListLanguagePairsResponse(
            language_pairs=[
                pb.LanguagePair(source_language_code=p.source, target_language_code=p.target, model=p.model,
                                backend=p.backend)
                for p in pairs
            ],
            next_page_token=next_token,
        )

    async def Transliterate(self, request: pb.TransliterateRequest, context: grpc.aio.ServicerContext
                            ) -> pb.TransliterateResponse:
        results = await self.core.transliterate(
            list(request.contents), request.source_language_code, request.target_language_code,
            is_word_level=request.is_word_level, top_k=request.top_k, timeout_s=remaining_s(context),
            request_id=request_id_var.get(),
        )
        return pb.TransliterateResponse(transliterations=[pb.Transliteration(candidates=c) for c in results])

    async def ListTransliterationPairs(self, request: pb.ListTransliterationPairsRequest,
                                       context: grpc.aio.ServicerContext) -> pb.ListTransliterationPairsResponse:
        pairs, next_token = await self.core.list_script_pairs(
            request.page_size, request.page_token, request.source_language_code, request.target_language_code
        )
        return pb.ListTransliterationPairsResponse(
            transliteration_pairs=[
                pb.TransliterationPair(source_language_code=p.source, target_language_code=p.target,
                                       supports_candidates=p.supports_candidates, backend=p.backend)
                for p in pairs
            ],
            next_page_token=next_token,
        )


async def write_records(conn: asyncpg.Connection, batch: Sequence[Record]) -> None:
    """Idempotent batch insert of requests and their results (replays are harmless)."""
    await conn.executemany(
        "INSERT INTO nmt_requests (id, request_id, created_time, principal, model, source_language_code,"
        " target_language_code, num_contents, total_characters, status, latency_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
        [
            (
                uuid.UUID(r["id"]), r["request_id"], datetime.datetime.fromisoformat(r["created_time"]),
                r["principal"], r["model"], r["source_language_code"], r["target_language_code"],
                len(r["results"]), sum(len(x["source_text"]) for x in r["results"]), r["status"], r["latency_ms"],
            )
            for r in batch
        ],
    )
    await conn.executemany(
        "INSERT INTO nmt_results (request_uuid, item_index, source_text, translated_text, source_language_code)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        [
            (uuid.UUID(r["id"]), i, x["source_text"], x["translated_text"], x["source_language_code"])
            for r in batch
            for i, x in enumerate(r["results"])
        ],
    )
