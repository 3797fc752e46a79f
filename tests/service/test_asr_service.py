"""The ASR service in-process (production factory and interceptors) against a real Triton
(PocketSphinx en-US reference models) and a real PostgreSQL schema, fed eSpeak NG speech."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re

import asyncpg
import grpc
import numpy as np
import pytest
import soundfile as sf
import soxr
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2

from ai4vc.asr.v1 import asr_service_pb2 as pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as pb_grpc
from ai4vc.audio.v1 import audio_pb2
from deploy.local.mesh import GRAMMAR_CACHE_DIR
from services.asr import app as asr_app
from services.asr.settings import AsrSettings
from services.common import audio
from tests.audio_util import RATE, container_files, speech, webm_opus, word_errors
from tests.errors_util import error_info
from tests.service.harness import health_status, running

E = audio_pb2.AudioEncoding
SENTENCE = "good morning how are you today"
LONG = "the quick brown fox jumps over the lazy dog and then one two three four five"
WER_BOUND = 0.5


@pytest.fixture
def settings(triton, pg_schema, tmp_path) -> AsrSettings:
    url, schema = pg_schema
    # No ITN here: these tests pin recognition of the spoken form (test_itn_* turn it on).
    return AsrSettings(port=0, metrics_port=0, triton_url=triton.url, database_url=url, database_schema=schema,
                       spool_dir=str(tmp_path / "spool"), log_json=False, itn_languages=())


def wer(reference: str, hypothesis: str) -> float:
    return word_errors(reference, hypothesis) / len(reference.split())


def config(encoding: int, rate: int = 0, language: str = "en-US", **kwargs) -> pb.RecognitionConfig:
    return pb.RecognitionConfig(language_code=language, audio_config=audio_pb2.AudioConfig(
        encoding=encoding, sample_rate_hertz=rate), **kwargs)


def container(samples: np.ndarray, rate: int, fmt: str, channels: int = 1) -> bytes:
    frames = np.stack([samples] * channels, axis=1) if channels > 1 else samples
    buffer = io.BytesIO()
    sf.write(buffer, frames, rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def encoded(case: str, text: str) -> tuple[pb.RecognitionConfig, bytes, float]:
    """(config, bytes, duration in seconds) of `text` spoken, in one of the test formats."""
    base = speech(text)
    seconds = base.size / RATE
    if case == "wav16k":
        return config(E.AUDIO_ENCODING_WAV), container(base, RATE, "WAV"), seconds
    if case == "flac44k_stereo":
        up = soxr.resample(base, RATE, 44100).astype(np.float32)
        return config(E.AUDIO_ENCODING_FLAC, 44100), container(up, 44100, "FLAC", channels=2), seconds
    if case == "mulaw8k":
        down = soxr.resample(base, RATE, 8000).astype(np.float32)
        return config(E.AUDIO_ENCODING_MULAW, 8000), audio.encode(down, 8000, E.AUDIO_ENCODING_MULAW), seconds
    assert case == "linear16"
    return config(E.AUDIO_ENCODING_LINEAR16, RATE), audio.to_pcm16(base).tobytes(), seconds


def secs(value: duration_pb2.Duration) -> float:
    return value.ToNanoseconds() / 1e9


def assert_words(words, duration_s: float) -> None:
    assert words
    starts = [secs(w.start_offset) for w in words]
    assert starts == sorted(starts)
    for w in words:
        assert 0.0 <= secs(w.start_offset) < secs(w.end_offset) <= duration_s + 0.05
        assert 0.0 <= w.confidence <= 1.0


@pytest.mark.parametrize("case", ["wav16k", "flac44k_stereo", "mulaw8k", "linear16"])
async def test_recognizes_each_encoding(settings, case):
    """WAV 16 kHz, FLAC 44.1 kHz stereo, μ-law 8 kHz and raw LINEAR16 all give a close transcript and word offsets."""
    cfg, content, seconds = encoded(case, SENTENCE)
    cfg.enable_word_time_offsets = True
    cfg.enable_word_confidence = True
    cfg.max_alternatives = 3
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        answer = await pb_grpc.AsrServiceStub(channel).Recognize(pb.RecognizeRequest(config=cfg, content=content),
                                                                 timeout=60)
    assert answer.model == "asr_am_ensemble" and abs(secs(answer.audio_duration) - seconds) < 0.01
    [result] = answer.results
    [best] = result.alternatives  # the model gives one hypothesis, whatever max_alternatives says
    print(f"{case}: {SENTENCE!r} -> {best.transcript!r} WER {wer(SENTENCE, best.transcript):.2f}")
    assert wer(SENTENCE, best.transcript) <= WER_BOUND
    assert [w.word for w in best.words] == best.transcript.split()
    assert_words(best.words, seconds)
    assert 0.0 < best.confidence <= 1.0 and result.language_code == "en-US"


async def test_subtitles_are_well_formed(settings):
    """SRT and WebVTT come back in request order, with numbered/timed cues of at most 42 characters."""
    cfg, content, seconds = encoded("wav16k", LONG)
    cfg.subtitle_formats.extend([pb.SUBTITLE_FORMAT_SRT, pb.SUBTITLE_FORMAT_WEBVTT])
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        answer = await pb_grpc.AsrServiceStub(channel).Recognize(pb.RecognizeRequest(config=cfg, content=content),
                                                                 timeout=60)
    srt, vtt = answer.subtitles
    assert (srt.format, vtt.format) == (pb.SUBTITLE_FORMAT_SRT, pb.SUBTITLE_FORMAT_WEBVTT)
    assert not answer.results[0].alternatives[0].words  # offsets were not asked for, only subtitles
    stamp = r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)"
    blocks = srt.content.strip().split("\n\n")
    assert len(blocks) >= 2
    ends = []
    for number, block in enumerate(blocks, 1):
        index, timing, text = block.split("\n")
        assert index == str(number) and 0 < len(text) <= 42
        m = re.fullmatch(f"{stamp} --> {stamp}", timing)
        assert m
        start = int(m[3]) + int(m[4]) / 1000
        end = int(m[7]) + int(m[8]) / 1000
        assert start < end <= seconds + 0.05 and (not ends or ends[-1] <= start)
        ends.append(end)
    assert vtt.content.startswith("WEBVTT\n\n")
    cues = vtt.content.removeprefix("WEBVTT\n\n").strip().split("\n\n")
    assert len(cues) == len(blocks)
    for cue, block in zip(cues, blocks, strict=True):
        timing, text = cue.split("\n")
        assert re.fullmatch(f"{stamp} --> {stamp}", timing) and "." in timing
        assert text == block.split("\n")[2]
    words = " ".join(block.split("\n")[2] for block in blocks)
    assert words == answer.results[0].alternatives[0].transcript


def _bad_requests() -> list:
    wav_cfg, wav, _ = encoded("wav16k", "hello world")
    raw_cfg = config(E.AUDIO_ENCODING_LINEAR16, RATE)
    return [
        pytest.param(config(E.AUDIO_ENCODING_WAV), b"\x00garbage" * 100, "AUDIO_UNDECODABLE", "content", id="garbage"),
        pytest.param(config(E.AUDIO_ENCODING_WAV), wav[:30], "AUDIO_UNDECODABLE", "content", id="truncated_wav"),
        pytest.param(config(E.AUDIO_ENCODING_WAV, 8000), wav, "SAMPLE_RATE_MISMATCH",
                     "config.audio_config.sample_rate_hertz", id="wrong_declared_rate"),
        pytest.param(config(E.AUDIO_ENCODING_WAV, language="hi-IN"), wav, "UNSUPPORTED_LANGUAGE",
                     "config.language_code", id="unsupported_language"),
        pytest.param(raw_cfg, bytes(2 * RATE * 301), "AUDIO_TOO_LONG", "content", id="too_long"),
        pytest.param(raw_cfg, bytes(10_485_762), "AUDIO_TOO_LARGE", "content", id="too_large"),
        pytest.param(config(E.AUDIO_ENCODING_LINEAR16), wav, "FIELD_REQUIRED",
                     "config.audio_config.sample_rate_hertz", id="raw_without_rate"),
        pytest.param(config(E.AUDIO_ENCODING_WEBM_OPUS), wav, "ENCODING_MISMATCH", "config.audio_config.encoding",
                     id="webm_declared_wav_sent"),
        pytest.param(config(E.AUDIO_ENCODING_FLAC), wav, "ENCODING_MISMATCH", "config.audio_config.encoding",
                     id="flac_declared_wav_sent"),
        pytest.param(pb.RecognitionConfig(language_code="en-US"), audio.to_pcm16(speech("hello world")).tobytes(),
                     "FIELD_REQUIRED", "config.audio_config.encoding", id="raw_without_config"),
        pytest.param(pb.RecognitionConfig(language_code="en-US"), wav[:30], "AUDIO_UNDECODABLE", "content",
                     id="truncated_wav_without_config"),
        pytest.param(pb.RecognitionConfig(language_code="en-US"), b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(64),
                     "AUDIO_UNDECODABLE", "content", id="avi_without_config"),
        pytest.param(pb.RecognitionConfig(language_code="en-US", audio_config=audio_pb2.AudioConfig(
            audio_channel_count=2)), wav, "CHANNEL_COUNT_MISMATCH", "config.audio_config.audio_channel_count",
                     id="wrong_declared_channels"),
        pytest.param(config(E.AUDIO_ENCODING_WAV, max_alternatives=11), wav, "FIELD_OUT_OF_RANGE",
                     "config.max_alternatives", id="alternatives"),
        pytest.param(wav_cfg, b"", "FIELD_REQUIRED", "content", id="empty"),
    ]


@pytest.mark.parametrize(("cfg", "content", "reason", "field"), _bad_requests())
async def test_bad_input_is_invalid_argument_and_server_stays_serving(settings, cfg, content, reason, field):
    """Each kind of bad audio or config gets INVALID_ARGUMENT with its reason and field; the server keeps serving."""
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AsrServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Recognize(pb.RecognizeRequest(config=cfg, content=content), timeout=60)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        info, _fields = error_info(caught.value)
        assert info is not None and info.reason == reason and info.metadata["field"] == field
        if reason == "UNSUPPORTED_LANGUAGE":
            assert info.metadata["available_languages"] == "en"
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        ok_cfg, ok, _ = encoded("linear16", "hello world")
        assert (await stub.Recognize(pb.RecognizeRequest(config=ok_cfg, content=ok), timeout=60)).results


async def test_list_models_is_truthful_and_paginates(settings):
    """ListModels lists both English PocketSphinx models with their rate and streaming flag, page by page."""
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AsrServiceStub(channel)
        everything = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
        first = await stub.ListModels(pb.ListModelsRequest(page_size=1), timeout=10)
        second = await stub.ListModels(pb.ListModelsRequest(page_size=1, page_token=first.next_page_token), timeout=10)
        hindi = await stub.ListModels(pb.ListModelsRequest(language_code="hi-IN"), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListModels(pb.ListModelsRequest(page_token="bogus"), timeout=10)
    by_name = {m.name: m for m in everything.models}
    assert set(by_name) == {"asr_am_ensemble", "asr_streaming"} and not everything.next_page_token
    assert not by_name["asr_am_ensemble"].supports_streaming and by_name["asr_streaming"].supports_streaming
    for m in everything.models:
        assert list(m.language_codes) == ["en"] and m.sample_rate_hertz == 16000
        assert m.backend == f"triton:{m.name}" and "pocketsphinx" in m.description
    assert [m.name for m in [*first.models, *second.models]] == ["asr_am_ensemble", "asr_streaming"]
    assert first.next_page_token and not second.next_page_token
    assert not hindi.models
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# --- streaming --------------------------------------------------------------------------------

def stream_config(interim: bool = True, events: bool = False, **kwargs) -> pb.StreamingRecognizeRequest:
    return pb.StreamingRecognizeRequest(streaming_config=pb.StreamingRecognitionConfig(
        config=config(E.AUDIO_ENCODING_LINEAR16, RATE, enable_word_time_offsets=True),
        interim_results=interim, enable_voice_activity_events=events, **kwargs))


def chunks_of(samples: np.ndarray, ms: int = 100) -> list[pb.StreamingRecognizeRequest]:
    data = audio.to_pcm16(samples).tobytes()
    step = RATE * ms // 1000 * 2
    return [pb.StreamingRecognizeRequest(audio=data[i:i + step]) for i in range(0, len(data), step)]


def silence(seconds: float, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 3e-3, int(seconds * RATE)).astype(np.float32)


async def collect(call) -> list[pb.StreamingRecognizeResponse]:
    out = []
    while (response := await call.read()) is not grpc.aio.EOF:
        out.append(response)
    return out


async def run_stream(channel, messages, **kwargs) -> list[pb.StreamingRecognizeResponse]:
    call = pb_grpc.AsrServiceStub(channel).StreamingRecognize(timeout=120, **kwargs)
    try:
        for message in messages:
            await call.write(message)
        await call.done_writing()
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        pass  # the server ended the call early: reading gives its status
    return await collect(call)


def results(responses) -> list[pb.StreamingRecognitionResult]:
    return [r for response in responses for r in response.results]


async def test_streaming_interim_then_final_on_half_close(settings):
    """100 ms chunks give interim results before the final; half-closing flushes a final close to the text."""
    audio_in = speech(SENTENCE)
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        responses = await run_stream(channel, [stream_config(), *chunks_of(audio_in)])
    found = results(responses)
    finals = [r for r in found if r.is_final]
    assert len(finals) == 1 and found[-1].is_final
    interims = [r for r in found if not r.is_final]
    assert interims and all(0.0 <= r.stability <= 1.0 and r.utterance_index == 0 for r in interims)
    transcript = finals[0].alternatives[0].transcript
    print(f"streaming: {SENTENCE!r} -> {transcript!r} WER {wer(SENTENCE, transcript):.2f}")
    assert wer(SENTENCE, transcript) <= WER_BOUND
    assert_words(finals[0].alternatives[0].words, audio_in.size / RATE)


async def test_two_utterances_give_two_finals_and_records(settings):
    """Two sentences ~1 s apart give two finals (VAD endpointing), activity events, and asr_results rows."""
    first, second = speech("hello world"), speech("one two three four five")
    samples = np.concatenate([first, silence(1.2), second])
    async with running(settings, asr_app.create) as (app, _handle, channel):
        responses = await run_stream(channel, [stream_config(events=True), *chunks_of(samples)],
                                     metadata=(("x-request-id", "asr-stream-1"),))
        assert await app.records.drain(10)
    finals = [r for r in results(responses) if r.is_final]
    assert [r.utterance_index for r in finals] == [0, 1]
    texts = [r.alternatives[0].transcript for r in finals]
    assert wer("hello world", texts[0]) <= WER_BOUND and wer("one two three four five", texts[1]) <= WER_BOUND
    assert secs(finals[1].alternatives[0].words[0].start_offset) > first.size / RATE  # offsets are stream time
    events = [r.speech_event_type for r in responses if r.speech_event_type]
    assert events[:2] == [pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN, pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_END]
    assert events.count(pb.SPEECH_EVENT_TYPE_SPEECH_ACTIVITY_BEGIN) == 2
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        row = await conn.fetchrow("SELECT * FROM asr_requests WHERE request_id = 'asr-stream-1'")
        rows = await conn.fetch("SELECT * FROM asr_results WHERE request_uuid = $1 ORDER BY utterance_index",
                                row["id"])
        stored = await conn.fetchval("SELECT count(*) FROM asr_audio")
    finally:
        await conn.close()
    assert row["method"] == "StreamingRecognize" and row["status"] == "OK" and row["model"] == "asr_streaming"
    assert abs(row["audio_seconds"] - samples.size / RATE) < 0.01 and row["encoding"] == "LINEAR16"
    assert [r["transcript"] for r in rows] == texts and json.loads(rows[0]["words"])
    assert stored == 0  # store_audio was not set


async def test_recognize_records_and_opted_in_audio(settings):
    """A Recognize with store_audio lands in asr_requests, asr_results and asr_audio (the exact bytes)."""
    cfg, content, seconds = encoded("wav16k", "hello world")
    cfg.store_audio = True
    async with running(settings, asr_app.create) as (app, _handle, channel):
        answer = await pb_grpc.AsrServiceStub(channel).Recognize(
            pb.RecognizeRequest(config=cfg, content=content), timeout=60, metadata=(("x-request-id", "asr-req-1"),))
        assert await app.records.drain(10)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        row = await conn.fetchrow("SELECT * FROM asr_requests WHERE request_id = 'asr-req-1'")
        result = await conn.fetchrow("SELECT * FROM asr_results WHERE request_uuid = $1", row["id"])
        kept = await conn.fetchrow("SELECT * FROM asr_audio WHERE request_uuid = $1", row["id"])
    finally:
        await conn.close()
    assert row["method"] == "Recognize" and row["language"] == "en" and row["sample_rate_hertz"] == RATE
    assert row["encoding"] == "WAV" and abs(row["audio_seconds"] - seconds) < 0.01 and row["status"] == "OK"
    assert result["transcript"] == answer.results[0].alternatives[0].transcript
    assert bytes(kept["content"]) == content and not kept["truncated"]


@pytest.mark.parametrize("case", ["missing_config", "config_after_audio", "oversize_chunk", "unstreamable"])
async def test_streaming_protocol_errors_end_the_stream(settings, case):
    """No config first, a repeated config, a chunk over 32 KB or FLAC (whole files only): INVALID_ARGUMENT ends it."""
    audio_msgs = chunks_of(speech("hello world"))
    if case == "missing_config":
        messages, reason = audio_msgs[:1], "STREAM_CONFIG_MISSING"  # one write: the server answers after it
    elif case == "config_after_audio":
        messages, reason = [stream_config(), *audio_msgs[:3], stream_config()], "STREAM_CONFIG_REPEATED"
    elif case == "oversize_chunk":
        messages, reason = [stream_config(), pb.StreamingRecognizeRequest(audio=bytes(32_770))], "AUDIO_CHUNK_TOO_LARGE"
    else:
        bad = stream_config()
        bad.streaming_config.config.audio_config.encoding = E.AUDIO_ENCODING_FLAC
        messages, reason = [bad], "UNSUPPORTED_ENCODING"  # rejected on the config, before any audio
    async with running(settings, asr_app.create) as (app, _handle, channel):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await run_stream(channel, messages)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        info, _ = error_info(caught.value)
        assert info is not None and info.reason == reason
        await app.core.drain_background()
        assert not app.core.sessions
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING


async def test_slow_consumer_is_bounded_and_cancel_ends_the_sequence(settings):
    """A client that stops reading leaves every stream queue within its bound; cancelling ends the Triton sequence."""
    small = dataclasses.replace(settings, stream_audio_queue=4, stream_response_queue=2)
    samples = np.concatenate([speech(LONG)] * 4)  # ~20 s, speech throughout
    async with running(small, asr_app.create) as (app, _handle, channel):
        sent_ends = []
        sequences = app.servicer.sequences
        original = sequences.send

        async def spy(model, corrid, chunk, language, *, start, end, **kwargs):
            if end:
                sent_ends.append(corrid)
            return await original(model, corrid, chunk, language, start=start, end=end, **kwargs)

        sequences.send = spy  # type: ignore[method-assign]
        call = pb_grpc.AsrServiceStub(channel).StreamingRecognize(timeout=120)
        await call.write(stream_config())
        written, messages = 0, chunks_of(samples)
        for message in messages:
            try:
                await asyncio.wait_for(call.write(message), 2.0)
            except TimeoutError:
                break  # the server stopped reading: back-pressure reached the client
            written += 1
        # The client may finish writing before it feels the push-back: gRPC's flow-control windows
        # grow to several MB, more than this stream. The server-side bound is what is pinned.
        [session] = app.core.sessions
        for _ in range(400):  # the audio queue fills to its bound (the model is slower than the client)
            if session.high_water["audio"] >= 4:
                break
            await asyncio.sleep(0.05)
        # Responses may drain into the transport's send window instead of filling their queue.
        assert session.high_water["audio"] == 4 and session.high_water["responses"] <= 2
        assert session.audio_q.qsize() <= 4 and session.out_q.qsize() <= 2
        assert session.received_s <= written * 0.1 + 1e-6
        open_corrid = session.open_corrid
        call.cancel()
        for _ in range(200):
            if not app.core.sessions:
                break
            await asyncio.sleep(0.05)
        await app.core.drain_background()
        assert not app.core.sessions
        assert open_corrid is None or open_corrid in sent_ends
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING


# --- auto-decoding: no audio_config, the header says ----------------------------------------

async def test_recognizes_every_container_without_an_audio_config(settings):
    """WAV, FLAC, Ogg Opus/Vorbis, MP3 and WebM with no audio_config are sniffed, decoded and recognized."""
    files = container_files(speech(SENTENCE))
    seconds = speech(SENTENCE).size / RATE
    async with running(settings, asr_app.create) as (app, _handle, channel):
        stub = pb_grpc.AsrServiceStub(channel)
        for kind, content in sorted(files.items()):
            answer = await stub.Recognize(pb.RecognizeRequest(config=pb.RecognitionConfig(language_code="en-US"),
                                                              content=content),
                                          timeout=60, metadata=(("x-request-id", f"auto-{kind}"),))
            transcript = answer.results[0].alternatives[0].transcript if answer.results else ""
            print(f"auto {kind}: {transcript!r} WER {wer(SENTENCE, transcript):.2f}")
            assert wer(SENTENCE, transcript) <= WER_BOUND, kind
            assert abs(secs(answer.audio_duration) - seconds) < 0.1, kind
        assert await app.records.drain(10)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        rows = {r["request_id"]: r for r in await conn.fetch("SELECT request_id, encoding FROM asr_requests")}
    finally:
        await conn.close()
    # Recorded as sent: the header's encoding, not UNSPECIFIED.
    assert {k: rows[f"auto-{k}"]["encoding"] for k in files} == {k: k.upper() for k in files}


def wav_stream(samples: np.ndarray, rate: int = RATE, ms: int = 100) -> list[pb.StreamingRecognizeRequest]:
    """A WAV file cut into `ms` chunks: the first carries the 44-byte header and the first samples (as Riva sends)."""
    data = container(samples, rate, "WAV")
    step = rate * ms // 1000 * 2
    return [pb.StreamingRecognizeRequest(audio=data[i:i + step]) for i in range(0, len(data), step)]


def auto_config(**audio_config) -> pb.StreamingRecognizeRequest:
    return pb.StreamingRecognizeRequest(streaming_config=pb.StreamingRecognitionConfig(
        config=pb.RecognitionConfig(language_code="en-US",
                                    audio_config=audio_pb2.AudioConfig(**audio_config) if audio_config else None),
        interim_results=True))


@pytest.mark.parametrize("case", ["wav_no_config", "wav_riva_linear16", "wav8k_no_config", "webm_no_config"])
async def test_streaming_reads_a_wav_header_or_a_webm_stream_in_the_first_chunks(settings, case):
    """A WAV header in the first chunk (no config, or LINEAR16 as Riva says) or a WebM stream: finals as for PCM."""
    samples = speech(SENTENCE)
    if case == "wav_no_config":
        messages = [auto_config(), *wav_stream(samples)]
    elif case == "wav_riva_linear16":
        messages = [auto_config(encoding=E.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE), *wav_stream(samples)]
    elif case == "wav8k_no_config":
        messages = [auto_config(), *wav_stream(soxr.resample(samples, RATE, 8000).astype(np.float32), 8000)]
    else:
        data = webm_opus(samples)
        messages = [auto_config(), *(pb.StreamingRecognizeRequest(audio=data[i:i + 2000])
                                     for i in range(0, len(data), 2000))]
    async with running(settings, asr_app.create) as (app, _handle, channel):
        responses = await run_stream(channel, messages, metadata=(("x-request-id", f"stream-{case}"),))
        assert await app.records.drain(10)
    finals = [r for r in results(responses) if r.is_final]
    transcript = " ".join(r.alternatives[0].transcript for r in finals)
    print(f"stream {case}: {transcript!r} WER {wer(SENTENCE, transcript):.2f}")
    assert finals and wer(SENTENCE, transcript) <= WER_BOUND
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        row = await conn.fetchrow(f"SELECT * FROM asr_requests WHERE request_id = 'stream-{case}'")
    finally:
        await conn.close()
    assert row["encoding"] == ("WEBM_OPUS" if case == "webm_no_config" else "WAV")
    assert row["sample_rate_hertz"] == {"wav8k_no_config": 8000, "webm_no_config": 48000}.get(case, RATE)
    assert abs(row["audio_seconds"] - samples.size / RATE) < 0.1  # the header is not counted as audio


@pytest.mark.parametrize(("case", "reason", "field"), [
    ("raw_no_config", "FIELD_REQUIRED", "streaming_config.config.audio_config.encoding"),
    ("wav8k_declared_16k", "SAMPLE_RATE_MISMATCH", "streaming_config.config.audio_config.sample_rate_hertz"),
    ("wav_declared_mulaw", "ENCODING_MISMATCH", "streaming_config.config.audio_config.encoding"),
    ("header_only", "AUDIO_UNDECODABLE", "audio"),
])
async def test_streaming_header_contradictions_are_invalid_argument(settings, case, reason, field):
    """Raw audio with no config, or a WAV header that contradicts the config, ends the stream with the field."""
    samples = speech("hello world")
    # One audio message each: the first chunk decides, and the server answers after it.
    if case == "raw_no_config":
        messages = [auto_config(), chunks_of(samples)[0]]
    elif case == "wav8k_declared_16k":
        low = soxr.resample(samples, RATE, 8000).astype(np.float32)
        messages = [auto_config(encoding=E.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE), wav_stream(low, 8000)[0]]
    elif case == "wav_declared_mulaw":
        messages = [auto_config(encoding=E.AUDIO_ENCODING_MULAW, sample_rate_hertz=RATE), wav_stream(samples)[0]]
    else:
        messages = [auto_config(), pb.StreamingRecognizeRequest(audio=wav_stream(samples)[0].audio[:30])]
    async with running(settings, asr_app.create) as (app, _handle, channel):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await run_stream(channel, messages)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        info, fields = error_info(caught.value)
        assert info is not None and (info.reason, info.metadata["field"]) == (reason, field)
        await app.core.drain_background()
        assert not app.core.sessions
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING

# -- inverse text normalization (NeMo's English grammar, from the checkout's grammar cache) --

GRAMMARS = GRAMMAR_CACHE_DIR  # where bootstrap compiled them (the user's cache)
PRICE = "the price is twenty five dollars"  # what PocketSphinx hears exactly from eSpeak


@pytest.fixture
def itn_settings(settings) -> AsrSettings:
    return dataclasses.replace(settings, itn_languages=("en",), grammar_cache_dir=str(GRAMMARS))


async def _grammars_loaded(app) -> None:
    assert await asyncio.to_thread(app.itn.wait, 120), app.itn.status()


async def test_itn_writes_the_number_and_keeps_the_spoken_form(itn_settings):
    """With ITN on (the default) "twenty five dollars" comes back as "$25", timed over its three words;
    off, the spoken form; ListModels names the language once its grammar is loaded."""
    samples = speech(PRICE)
    content = container(samples, RATE, "WAV")
    async with running(itn_settings, asr_app.create) as (app, _handle, channel):
        await _grammars_loaded(app)
        stub = pb_grpc.AsrServiceStub(channel)
        listed = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
        assert all(list(m.inverse_text_normalization_language_codes) == ["en"] for m in listed.models)
        on = await stub.Recognize(pb.RecognizeRequest(
            config=config(E.AUDIO_ENCODING_WAV, enable_word_time_offsets=True), content=content), timeout=60)
        off = await stub.Recognize(pb.RecognizeRequest(
            config=config(E.AUDIO_ENCODING_WAV, enable_word_time_offsets=True, enable_inverse_text_normalization=False),
            content=content), timeout=60)
    written, spoken = on.results[0].alternatives[0], off.results[0].alternatives[0]
    assert spoken.transcript == PRICE and not spoken.inverse_text_normalized and spoken.spoken_transcript == ""
    assert written.inverse_text_normalized and written.transcript == "the price is $25"
    assert written.spoken_transcript == PRICE
    assert [w.word for w in written.words] == ["the", "price", "is", "$25"]
    money, heard = written.words[3], spoken.words[3:]
    assert money.spoken_word == "twenty five dollars" and written.words[0].spoken_word == ""
    # (two calls: PocketSphinx adapts its cepstral mean between utterances, a frame or two of drift)
    assert secs(money.start_offset) == pytest.approx(secs(heard[0].start_offset), abs=0.05)
    assert secs(money.end_offset) == pytest.approx(secs(heard[-1].end_offset), abs=0.05)
    assert secs(money.end_offset) - secs(money.start_offset) > secs(heard[0].end_offset) - secs(heard[0].start_offset)
    assert_words(written.words, samples.size / RATE)


async def test_itn_on_stream_finals_and_interims_when_asked(itn_settings):
    """A stream's final is written form; interims too with interim_inverse_text_normalization, else spoken."""
    samples = np.concatenate([speech(PRICE), silence(1.0)])
    async with running(itn_settings, asr_app.create) as (app, _handle, channel):
        await _grammars_loaded(app)
        plain = await run_stream(channel, [stream_config(), *chunks_of(samples)])
        asked = stream_config()
        asked.streaming_config.interim_inverse_text_normalization = True
        both = await run_stream(channel, [asked, *chunks_of(samples)])
    for responses in (plain, both):
        finals = [r for r in results(responses) if r.is_final]
        assert finals[0].alternatives[0].transcript == "the price is $25"
        assert finals[0].alternatives[0].spoken_transcript == PRICE
    spoken_interims = [r.alternatives[0] for r in results(plain) if not r.is_final]
    written_interims = [r.alternatives[0] for r in results(both) if not r.is_final]
    assert spoken_interims and not any(a.inverse_text_normalized for a in spoken_interims)
    assert written_interims and all(a.inverse_text_normalized for a in written_interims)
    last = written_interims[-1]
    if "dollars" in last.spoken_transcript:
        assert "$" in last.transcript and "dollars" not in last.transcript


async def test_itn_while_grammar_loads_returns_spoken_form_honestly(settings):
    """A language whose grammar is not loaded is not listed, and its results say they are spoken form."""
    async with running(settings, asr_app.create) as (_app, _handle, channel):  # itn_languages=()
        stub = pb_grpc.AsrServiceStub(channel)
        listed = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
        answer = await stub.Recognize(pb.RecognizeRequest(
            config=config(E.AUDIO_ENCODING_WAV), content=container(speech(PRICE), RATE, "WAV")), timeout=60)
    assert not any(m.inverse_text_normalization_language_codes for m in listed.models)
    best = answer.results[0].alternatives[0]
    assert best.transcript == PRICE and not best.inverse_text_normalized
# --- word boosting ----------------------------------------------------------------------------

BOOST_SENTENCE, BOOST_PHRASE = "my uncle lives near the ganges river", "ganges river"
# Plain streaming finals of it: "we did it but on holly never last summer" (tests/service/test_model_asr.py).
STREAM_SENTENCE, STREAM_PHRASE = "we visited the taj mahal in agra last summer", "taj mahal"


async def test_speech_contexts_change_the_transcript(settings):
    """A boosted phrase the plain model misses is recognized (Recognize and StreamingRecognize);
    ListModels says both models boost; a phrase the model cannot know comes back as a warning."""
    samples = speech(BOOST_SENTENCE)
    content = audio.to_pcm16(samples).tobytes()
    contexts = [pb.SpeechContext(phrases=[BOOST_PHRASE, "xyzzyq"], boost=20)]
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AsrServiceStub(channel)
        models = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
        plain = await stub.Recognize(pb.RecognizeRequest(config=config(E.AUDIO_ENCODING_LINEAR16, RATE),
                                                         content=content), timeout=60)
        boosted = await stub.Recognize(pb.RecognizeRequest(
            config=config(E.AUDIO_ENCODING_LINEAR16, RATE, speech_contexts=contexts), content=content), timeout=60)
        first = stream_config(interim=False)
        first.streaming_config.config.speech_contexts.extend(
            [pb.SpeechContext(phrases=[STREAM_PHRASE, "xyzzyq"], boost=20)])
        responses = await run_stream(channel, [first, *chunks_of(np.concatenate([speech(STREAM_SENTENCE),
                                                                                 silence(1.0)]))])
    assert all(m.supports_word_boosting for m in models.models)
    plain_text = plain.results[0].alternatives[0].transcript
    boosted_text = boosted.results[0].alternatives[0].transcript
    assert BOOST_PHRASE not in plain_text and BOOST_PHRASE in boosted_text, (plain_text, boosted_text)
    assert word_errors(BOOST_SENTENCE, boosted_text) < word_errors(BOOST_SENTENCE, plain_text)
    assert not plain.warnings
    assert [(w.reason, w.field) for w in boosted.warnings] == [
        ("PHRASE_IGNORED", "config.speech_contexts[0].phrases[1]")]
    finals = [r.alternatives[0].transcript for r in results(responses) if r.is_final]
    assert finals and STREAM_PHRASE in " ".join(finals), finals
    warned = [(w.reason, w.field) for r in responses for w in r.warnings]
    assert warned == [("PHRASE_IGNORED", "streaming_config.config.speech_contexts[0].phrases[1]")]


async def test_bad_speech_contexts_are_invalid_argument(settings):
    """An out-of-range boost is INVALID_ARGUMENT naming the field, for Recognize and streams alike."""
    wav_cfg, wav, _ = encoded("wav16k", "hello world")
    wav_cfg.speech_contexts.append(pb.SpeechContext(phrases=["hello"], boost=25))
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AsrServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Recognize(pb.RecognizeRequest(config=wav_cfg, content=wav), timeout=60)
        first = stream_config()
        first.streaming_config.config.speech_contexts.append(pb.SpeechContext(phrases=[""]))
        call = stub.StreamingRecognize(timeout=60)
        await call.write(first)
        with pytest.raises(grpc.aio.AioRpcError) as streamed:
            await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, _ = error_info(caught.value)
    assert info.reason == "FIELD_OUT_OF_RANGE" and info.metadata["field"] == "config.speech_contexts[0].boost"
    assert streamed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, _ = error_info(streamed.value)
    assert info.reason == "FIELD_REQUIRED"
    assert info.metadata["field"] == "streaming_config.config.speech_contexts[0].phrases[0]"


# --- finals: PREPARE_FINAL and a shorter end_of_utterance_silence ------------------------------

def endpointing(eou_ms: int) -> dict:
    return {"endpointing": pb.EndpointingConfig(end_of_utterance_silence=duration_pb2.Duration(
        nanos=eou_ms * 1_000_000))}


def spy_sequences(monkeypatch) -> list[dict]:
    """Records every call the service makes to the streaming model (prepare, end, samples)."""
    from services.asr.sequence import SequenceClient

    calls: list[dict] = []
    real = SequenceClient.send

    async def send(self, model, corrid, samples, language, **kwargs):
        calls.append({"corrid": corrid, "prepare": kwargs.get("prepare", False), "end": kwargs["end"],
                      "samples": int(np.asarray(samples).size)})
        return await real(self, model, corrid, samples, language, **kwargs)

    monkeypatch.setattr(SequenceClient, "send", send)
    return calls


async def test_shorter_end_of_utterance_silence_ends_utterances_sooner(settings):
    """A 0.3 s pause ends the utterance under end_of_utterance_silence 200 ms, but not under the 800 ms default."""
    first, second = speech("hello world"), speech("one two three four five")
    samples = np.concatenate([first, silence(0.3), second, silence(1.0)])
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        default = await run_stream(channel, [stream_config(), *chunks_of(samples)])
        short = await run_stream(channel, [stream_config(**endpointing(200)), *chunks_of(samples)])
    default_finals = [r for r in results(default) if r.is_final]
    short_finals = [r for r in results(short) if r.is_final]
    assert len(default_finals) == 1 and [r.utterance_index for r in short_finals] == [0, 1]
    assert wer("hello world", short_finals[0].alternatives[0].transcript) <= WER_BOUND
    assert wer("one two three four five", short_finals[1].alternatives[0].transcript) <= WER_BOUND


async def test_prepare_final_then_an_empty_end_per_utterance(settings, monkeypatch):
    """Trailing silence sends one PREPARE_FINAL per utterance and an empty END; speech resuming after a
    prepare continues the same utterance (a 0.3 s pause, about 0.5 s to the VAD, under the 800 ms default:
    one final, both phrases)."""
    calls = spy_sequences(monkeypatch)
    first, second = speech("hello world"), speech("one two three four five")
    samples = np.concatenate([first, silence(0.3), second, silence(1.2)])
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        responses = await run_stream(channel, [stream_config(), *chunks_of(samples)])
    [final] = [r for r in results(responses) if r.is_final]
    assert wer("hello world one two three four five", final.alternatives[0].transcript) <= WER_BOUND
    assert len({c["corrid"] for c in calls}) == 1
    prepares = [i for i, c in enumerate(calls) if c["prepare"]]
    assert len(prepares) == 2  # at the pause (then dropped: speech went on) and at the end
    assert not calls[prepares[0] + 1]["end"] and calls[prepares[0] + 1]["samples"]  # the held pause went on
    assert calls[-1]["end"] and calls[-1]["samples"] == 0 and prepares[-1] == len(calls) - 2


async def test_prepares_within_one_long_utterance_wait_for_it_to_double(settings, monkeypatch):
    """Eight phrases with short pauses (one utterance under the 800 ms default): a prepare, which
    runs the second pass over the utterance so far, comes again only once the utterance is twice
    as long, so the audio all prepares cover stays within about twice the utterance (one per
    pause covered 4-5 times it), and the final still has every phrase."""
    calls = spy_sequences(monkeypatch)
    phrase = speech("one two three")
    samples = np.concatenate([*(np.concatenate([phrase, silence(0.35)]) for _ in range(8)), silence(1.2)])
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        responses = await run_stream(channel, [stream_config(), *chunks_of(samples)])
    [final] = [r for r in results(responses) if r.is_final]
    assert wer(" ".join(["one two three"] * 8), final.alternatives[0].transcript) <= WER_BOUND
    assert len({c["corrid"] for c in calls}) == 1
    sent, covered, prepares = 0, 0, 0
    for call in calls:
        sent += call["samples"]
        if call["prepare"]:
            covered, prepares = covered + sent, prepares + 1
    assert 2 <= prepares <= 4  # 1, 2, 4, 8 phrases long at most: not one per pause (8)
    assert covered <= 2.2 * sent


async def test_no_prepare_when_end_of_utterance_silence_is_shorter(settings, monkeypatch):
    """With end_of_utterance_silence (200 ms) under stream_prepare_final_ms, the END itself carries the audio."""
    calls = spy_sequences(monkeypatch)
    samples = np.concatenate([speech("hello world"), silence(1.0)])
    async with running(settings, asr_app.create) as (_app, _handle, channel):
        responses = await run_stream(channel, [stream_config(**endpointing(200)), *chunks_of(samples)])
    [final] = [r for r in results(responses) if r.is_final]
    assert wer("hello world", final.alternatives[0].transcript) <= WER_BOUND
    assert not any(c["prepare"] for c in calls) and calls[-1]["end"] and calls[-1]["samples"] > 0
