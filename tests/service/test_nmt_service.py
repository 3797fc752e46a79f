"""The NMT service in-process (production factory and interceptors) against a real Triton
and a real PostgreSQL schema."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.request
import uuid

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from deploy.local.parts import free_port
from services.common.backends import redis_client
from services.common.backends.usage import usage_today
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running

HINDI = "भारत एक विशाल देश है।"


@pytest.fixture
def settings(triton, pg_schema, tmp_path) -> NmtSettings:
    url, schema = pg_schema
    return NmtSettings(port=0, metrics_port=0, triton_url=triton.url, database_url=url, database_schema=schema,
                       spool_dir=str(tmp_path / "spool"), log_json=False)


async def test_translates_hindi_to_urdu_and_records_it(settings):
    """A Hindi sentence comes back in Urdu script and its request and result rows land in PostgreSQL."""
    async with running(settings, nmt_app.create) as (app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        answer = await stub.TranslateText(
            pb.TranslateTextRequest(contents=[HINDI, "आप कैसे हैं?"], source_language_code="hi",
                                    target_language_code="ur"),
            timeout=10, metadata=(("x-request-id", "req-service-1"),))
        texts = [t.translated_text for t in answer.translations]
        assert len(texts) == 2
        assert all(any("\u0600" <= ch <= "\u06ff" for ch in t) for t in texts)
        assert not any("\u0900" <= ch <= "\u097f" for ch in "".join(texts))
        assert await app.records.drain(10)

    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        request = await conn.fetchrow("SELECT * FROM nmt_requests WHERE request_id = 'req-service-1'")
        results = await conn.fetch("SELECT * FROM nmt_results WHERE request_uuid = $1 ORDER BY item_index",
                                   request["id"])
    finally:
        await conn.close()
    assert request["num_contents"] == 2 and request["status"] == "OK" and request["method"] == "TranslateText"
    assert request["target_language_code"] == "ur"
    assert [r["source_text"] for r in results] == [HINDI, "आप कैसे हैं?"]
    assert [r["translated_text"] for r in results] == texts


async def test_detects_source_language_when_omitted(settings):
    """Without a source language each text's language is detected from its script and reported."""
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        answer = await pb_grpc.NmtServiceStub(channel).TranslateText(
            pb.TranslateTextRequest(contents=["یہ کتاب ہے"], target_language_code="hi"), timeout=10)
    assert answer.translations[0].detected_language_code == "ur"
    assert any("\u0900" <= ch <= "\u097f" for ch in answer.translations[0].translated_text)


@pytest.mark.parametrize(
    ("request_kwargs", "reason", "field"),
    [
        ({"contents": [], "target_language_code": "ur"}, "FIELD_REQUIRED", "contents"),
        ({"contents": ["ठीक", "  "], "target_language_code": "ur"}, "FIELD_REQUIRED", "contents[1]"),
        ({"contents": ["क"] * 129, "target_language_code": "ur"}, "TOO_MANY_CONTENTS", "contents"),
        ({"contents": ["क" * 5001], "target_language_code": "ur"}, "CONTENT_TOO_LONG", "contents[0]"),
        ({"contents": ["नमस्ते"], "target_language_code": ""}, "FIELD_REQUIRED", "target_language_code"),
        ({"contents": ["नमस्ते"], "source_language_code": "hi", "target_language_code": "en"},
         "UNSUPPORTED_LANGUAGE_PAIR", "source_language_code"),
        ({"contents": ["नमस्ते"], "source_language_code": "hi", "target_language_code": "ur", "model": "nope"},
         "UNKNOWN_MODEL", "model"),
        ({"contents": ["12345"], "target_language_code": "ur"}, "LANGUAGE_NOT_DETECTED", "contents[0]"),
    ],
)
async def test_bad_input_is_invalid_argument_with_reason_and_field(settings, request_kwargs, reason, field):
    """Each kind of bad input gets INVALID_ARGUMENT naming the reason and field, and the server stays serving."""
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.TranslateText(pb.TranslateTextRequest(**request_kwargs), timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        info, fields = error_info(caught.value)
        assert info is not None and info.reason == reason and info.domain == "ai4vc"
        assert info.metadata["field"] == field and fields == [field]
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        ok = await stub.TranslateText(
            pb.TranslateTextRequest(contents=["नमस्ते"], source_language_code="hi", target_language_code="ur"),
            timeout=10)
        assert len(ok.translations) == 1


async def test_lists_language_pairs_from_the_model_config(settings):
    """ListLanguagePairs reports what the Triton model declares, with pagination."""
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        first = await stub.ListLanguagePairs(pb.ListLanguagePairsRequest(page_size=1), timeout=5)
        second = await stub.ListLanguagePairs(
            pb.ListLanguagePairsRequest(page_size=1, page_token=first.next_page_token), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListLanguagePairs(pb.ListLanguagePairsRequest(page_token="garbage"), timeout=5)
    pairs = {(p.source_language_code, p.target_language_code, p.backend)
             for p in [*first.language_pairs, *second.language_pairs]}
    assert pairs == {("hi", "ur", "apertium"), ("ur", "hi", "apertium")}
    assert first.next_page_token and not second.next_page_token
    assert error_info(caught.value)[0].reason == "INVALID_PAGE_TOKEN"


async def test_triton_down_is_unavailable_fast_and_not_serving(pg_schema, tmp_path):
    """With no Triton, calls fail fast with UNAVAILABLE (never INTERNAL) and health says NOT_SERVING."""
    url, schema = pg_schema
    settings = NmtSettings(port=0, triton_url=f"127.0.0.1:{free_port()}", database_url=url, database_schema=schema,
                           spool_dir=str(tmp_path / "spool"), log_json=False)
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        assert await health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.NmtServiceStub(channel).TranslateText(
                pb.TranslateTextRequest(contents=["नमस्ते"], source_language_code="hi", target_language_code="ur"),
                timeout=20)
        elapsed = time.monotonic() - started
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(caught.value)[0].reason == "BACKEND_UNAVAILABLE"
    assert elapsed < 15, "must fail fast rather than wait out the caller's deadline"


async def test_reflection_and_metrics(settings):
    """Reflection lists the service; the metrics port counts RPCs by method and status code."""
    async with running(settings, nmt_app.create) as (_app, handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.TranslateText(pb.TranslateTextRequest(target_language_code="ur"), timeout=5)

        async def requests():
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        names = []
        async for answer in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(requests()):
            names = [s.name for s in answer.list_services_response.service]
            break
        url = f"http://127.0.0.1:{handle.metrics_port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert "ai4vc.nmt.v1.NmtService" in names and "grpc.health.v1.Health" in names
    assert 'grpc_method="/ai4vc.nmt.v1.NmtService/TranslateText"' in body
    assert 'grpc_code="INVALID_ARGUMENT"' in body


async def test_transliterates_word_and_sentence(settings):
    """Transliterate: romanized Hindi to Devanagari (word level), Devanagari to Tamil script (sentence level)."""
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        word = await stub.Transliterate(pb.TransliterateRequest(
            contents=["namaste"], source_language_code="hi-Latn", target_language_code="hi", is_word_level=True,
            top_k=3), timeout=10)
        sentence = await stub.Transliterate(pb.TransliterateRequest(
            contents=["नमस्ते दुनिया"], source_language_code="hi", target_language_code="ta"), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Transliterate(pb.TransliterateRequest(
                contents=["two words"], source_language_code="hi-Latn", target_language_code="hi",
                is_word_level=True), timeout=10)
    assert word.transliterations[0].candidates[0] == "नमस्ते"
    assert 2 <= len(word.transliterations[0].candidates) <= 3
    assert all("\u0b80" <= ch <= "\u0bff" or ch == " " for ch in sentence.transliterations[0].candidates[0])
    assert error_info(caught.value)[0].reason == "NOT_A_WORD"


async def test_romanized_candidates_are_ranked_and_distinct(settings):
    """Romanized Hindi and Tamil come back as their dictionary spellings first, with distinct alternatives."""
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        hindi = await stub.Transliterate(pb.TransliterateRequest(
            contents=["namaste duniya"], source_language_code="hi-Latn", target_language_code="hi", top_k=3),
            timeout=30)
        tamil = await stub.Transliterate(pb.TransliterateRequest(
            contents=["vanakkam"], source_language_code="ta-Latn", target_language_code="ta", is_word_level=True,
            top_k=10), timeout=30)
    sentence = list(hindi.transliterations[0].candidates)
    assert sentence[0] == "नमस्ते दुनिया" and 2 <= len(sentence) <= 3 and len(set(sentence)) == len(sentence)
    words = list(tamil.transliterations[0].candidates)
    assert words[0] == "வணக்கம்" and 2 <= len(words) <= 10 and len(set(words)) == len(words)


async def test_translation_carries_coverage_and_round_trip_chrf(settings):
    """Coverage drops when the model meets unknown words (their marks never reach the text); round-trip
    chrF is set only when asked for."""
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        plain = await stub.TranslateText(pb.TranslateTextRequest(
            contents=["आप कैसे हैं?", "ज़ूम ब्लॉकचेन क्रिप्टो"], source_language_code="hi",
            target_language_code="ur"), timeout=30)
        kept = await stub.TranslateText(pb.TranslateTextRequest(
            contents=["आप #कैसे हैं? 2*3", "मैं Zoom पर हूँ"], source_language_code="hi", target_language_code="ur",
            do_not_translate=["Zoom"]), timeout=30)
        asked = await stub.TranslateText(pb.TranslateTextRequest(
            contents=["आप कैसे हैं?"], source_language_code="hi", target_language_code="ur",
            include_round_trip_chrf=True), timeout=30)
    known, unknown = plain.translations
    assert known.signals.HasField("coverage") and unknown.signals.HasField("coverage")
    assert known.signals.coverage > unknown.signals.coverage
    assert 0.0 <= unknown.signals.coverage < 0.5 and known.signals.coverage == 1.0
    assert "*" not in unknown.translated_text and "ब्लॉकचेन" in unknown.translated_text
    assert not known.signals.HasField("round_trip_chrf")
    marked, protected = kept.translations
    assert "#" in marked.translated_text and "2*3" in marked.translated_text
    assert "Zoom" in protected.translated_text and protected.signals.coverage == 1.0
    signals = asked.translations[0].signals
    assert signals.HasField("round_trip_chrf") and 0.0 < signals.round_trip_chrf <= 100.0
    assert signals.round_trip_model == "nmt"


async def test_lists_transliteration_pairs(settings):
    """ListTransliterationPairs reports the pairs the transliteration model declares, filterable by source."""
    async with running(settings, nmt_app.create) as (_app, _handle, channel):
        answer = await pb_grpc.NmtServiceStub(channel).ListTransliterationPairs(
            pb.ListTransliterationPairsRequest(source_language_code="hi-Latn", page_size=1000), timeout=10)
    targets = {p.target_language_code for p in answer.transliteration_pairs}
    assert {p.source_language_code for p in answer.transliteration_pairs} == {"en"}
    assert {"hi", "ta", "bn", "ur"} <= targets and "en" not in targets


@pytest.fixture
def metered_settings(settings, redis_server) -> NmtSettings:
    return dataclasses.replace(settings, redis_url=redis_server.url)


def _caller() -> tuple[str, tuple[tuple[str, str], ...]]:
    """A fresh API key id, and the identity headers the edge would set for it."""
    key_id = f"k-{uuid.uuid4().hex[:8]}"
    return key_id, (("x-ai4vc-principal", f"user:{key_id}"), ("x-ai4vc-key-id", key_id),
                    ("x-ai4vc-scopes", "nmt"), ("x-request-id", f"req-{key_id}"))


async def _recorded(settings: NmtSettings, request_id: str) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        request = await conn.fetchrow("SELECT * FROM nmt_requests WHERE request_id = $1", request_id)
        results = await conn.fetch("SELECT * FROM nmt_results WHERE request_uuid = $1 ORDER BY item_index",
                                   request["id"])
    finally:
        await conn.close()
    return request, results


async def _characters_today(redis_url: str, key_id: str) -> int:
    redis = redis_client.create(redis_url)
    try:
        return (await usage_today(redis, key_id))[0]
    finally:
        await redis.aclose()


async def test_transliterate_is_recorded_and_metered(metered_settings):
    """Transliterate writes a request row (method, principal, characters, candidates) and adds its input
    characters to the caller's usage today."""
    key_id, metadata = _caller()
    contents = ["namaste", "duniya"]
    async with running(metered_settings, nmt_app.create) as (app, _handle, channel):
        answer = await pb_grpc.NmtServiceStub(channel).Transliterate(pb.TransliterateRequest(
            contents=contents, source_language_code="hi-Latn", target_language_code="hi", is_word_level=True,
            top_k=2), timeout=10, metadata=metadata)
        assert await app.records.drain(10)
    # Leaving `running` closed the usage meter, which waits for its increments.
    request, results = await _recorded(metered_settings, f"req-{key_id}")
    assert request["method"] == "Transliterate" and request["status"] == "OK"
    assert request["principal"] == f"user:{key_id}" and request["target_language_code"] == "hi"
    assert request["num_contents"] == 2 and request["total_characters"] == sum(map(len, contents))
    assert [r["source_text"] for r in results] == contents
    assert [json.loads(r["alternatives"]) for r in results] == [list(t.candidates) for t in answer.transliterations]
    assert results[0]["translated_text"] == answer.transliterations[0].candidates[0] == "नमस्ते"
    assert await _characters_today(metered_settings.redis_url, key_id) == sum(map(len, contents))


async def test_detect_language_is_recorded_and_metered(metered_settings):
    """DetectLanguage writes a request row with the best language and every guess, and adds the content's
    characters to the caller's usage today."""
    key_id, metadata = _caller()
    async with running(metered_settings, nmt_app.create) as (app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        answer = await stub.DetectLanguage(pb.DetectLanguageRequest(content=HINDI), timeout=10, metadata=metadata)
        assert await app.records.drain(10)
    request, results = await _recorded(metered_settings, f"req-{key_id}")
    assert answer.languages[0].language_code == "hi"
    assert request["method"] == "DetectLanguage" and request["status"] == "OK"
    assert request["source_language_code"] == "hi" and request["total_characters"] == len(HINDI)
    assert [r["source_text"] for r in results] == [HINDI]
    assert [g["language_code"] for g in json.loads(results[0]["alternatives"])] == [
        g.language_code for g in answer.languages]
    assert await _characters_today(metered_settings.redis_url, key_id) == len(HINDI)


async def test_calls_meter_nothing_without_a_key_and_failures_meter_nothing(metered_settings):
    """A bearer-token caller (no key id) is recorded but not metered; a rejected call meters nothing."""
    key_id, metadata = _caller()
    bearer = tuple((k, v) for k, v in metadata if k != "x-ai4vc-key-id")
    async with running(metered_settings, nmt_app.create) as (app, _handle, channel):
        stub = pb_grpc.NmtServiceStub(channel)
        await stub.DetectLanguage(pb.DetectLanguageRequest(content=HINDI), timeout=10, metadata=bearer)
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.DetectLanguage(pb.DetectLanguageRequest(content="12345"), timeout=10, metadata=metadata)
        assert await app.records.drain(10)
    request, _results = await _recorded(metered_settings, f"req-{key_id}")
    assert request["method"] == "DetectLanguage" and request["principal"] == f"user:{key_id}"
    assert await _characters_today(metered_settings.redis_url, key_id) == 0
