"""gRPC adapter for the NMT core: proto → domain call → proto. Every inference method (TranslateText,
Transliterate, DetectLanguage) is recorded and meters the characters of its inputs."""

from __future__ import annotations

import grpc

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from services.common.backends.records import RecordSink
from services.common.backends.usage import UsageMeter
from services.common.logs import request_id_var
from services.common.rpc.context import CallRecorder, remaining_s
from services.nmt import records as nmt_records
from services.nmt.core import NmtCore, Translation


def _signals(t: Translation) -> pb.QualitySignals:
    signals = pb.QualitySignals(round_trip_model=t.round_trip_model)
    if t.coverage is not None:
        signals.coverage = t.coverage
    if t.round_trip_chrf is not None:
        signals.round_trip_chrf = t.round_trip_chrf
    return signals


class NmtServicer(pb_grpc.NmtServiceServicer):
    def __init__(self, core: NmtCore, records: RecordSink, usage: UsageMeter | None = None) -> None:
        self.core = core
        self.records = records
        self.usage = usage

    async def TranslateText(self, request: pb.TranslateTextRequest, context: grpc.aio.ServicerContext
                            ) -> pb.TranslateTextResponse:
        recorder = CallRecorder(self.records, context, "TranslateText", self.usage)
        translations = await self.core.translate(
            list(request.contents),
            request.source_language_code,
            request.target_language_code,
            model=request.model,
            do_not_translate=list(request.do_not_translate),
            include_round_trip_chrf=request.include_round_trip_chrf,
            timeout_s=remaining_s(context),
            request_id=request_id_var.get(),
        )
        response = pb.TranslateTextResponse(
            translations=[
                pb.Translation(
                    translated_text=t.text,
                    detected_language_code=t.source_language_code if t.detected else "",
                    model=t.model,
                    signals=_signals(t),
                )
                for t in translations
            ]
        )
        recorder.send(nmt_records.translation(request.contents, request.source_language_code,
                                              request.target_language_code, translations),
                      characters=sum(len(text) for text in request.contents))
        return response

    async def DetectLanguage(self, request: pb.DetectLanguageRequest, context: grpc.aio.ServicerContext
                             ) -> pb.DetectLanguageResponse:
        recorder = CallRecorder(self.records, context, "DetectLanguage", self.usage)
        guesses = self.core.detect(request.content)
        recorder.send(nmt_records.detection(request.content, guesses), characters=len(request.content))
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
        recorder = CallRecorder(self.records, context, "Transliterate", self.usage)
        results = await self.core.transliterate(
            list(request.contents), request.source_language_code, request.target_language_code,
            is_word_level=request.is_word_level, top_k=request.top_k, timeout_s=remaining_s(context),
            request_id=request_id_var.get(),
        )
        recorder.send(nmt_records.transliteration(request.contents, request.source_language_code,
                                                  request.target_language_code, results),
                      characters=sum(len(text) for text in request.contents))
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

