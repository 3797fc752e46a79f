"""The TTS service in-process (production factory and interceptors) against a real Triton
(espeak-ng reference models) and a real PostgreSQL schema."""

from __future__ import annotations

import asyncio
import dataclasses
import io

import asyncpg
import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2

from ai4vc.audio.v1 import audio_pb2
from ai4vc.tts.v1 import tts_service_pb2 as pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as pb_grpc
from deploy.local.mesh import GRAMMAR_CACHE_DIR
from services.tts import app as tts_app
from services.tts.settings import TtsSettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running

E = audio_pb2.AudioEncoding
HINDI = "भारत एक विशाल देश है। इसकी राजधानी नई दिल्ली है।"


@pytest.fixture
def settings(triton, pg_schema, tmp_path) -> TtsSettings:
    url, schema = pg_schema
    # No NeMo grammar here (numbers are still read by the number reader): test_tn_* load Hindi's.
    return TtsSettings(port=0, metrics_port=0, triton_url=triton.url, database_url=url, database_schema=schema,
                       spool_dir=str(tmp_path / "spool"), log_json=False, tn_languages=())


def request(text: str = HINDI, encoding: int = E.AUDIO_ENCODING_LINEAR16, *, ssml: str | None = None,
            voice: pb.VoiceSelectionParams | None = None, **audio_config) -> pb.SynthesizeRequest:
    source = pb.SynthesisInput(ssml=ssml) if ssml is not None else pb.SynthesisInput(text=text)
    return pb.SynthesizeRequest(input=source, voice=voice or pb.VoiceSelectionParams(name="hi-female"),
                                audio_config=pb.AudioOutputConfig(encoding=encoding, **audio_config))


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0


async def read_rest(call) -> list:
    """Reads a call to its end with read() (the iterator and read() cannot be mixed on one call)."""
    out = []
    while (response := await call.read()) is not grpc.aio.EOF:
        out.append(response)
    return out


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


async def test_synthesizes_linear16_and_records_it(settings):
    """Hindi text comes back as non-silent 22050 Hz PCM of plausible length, and the call lands in tts_requests."""
    async with running(settings, tts_app.create) as (app, _handle, channel):
        answer = await pb_grpc.TtsServiceStub(channel).Synthesize(
            request(), timeout=30, metadata=(("x-request-id", "tts-req-1"),))
        assert await app.records.drain(10)
    samples = pcm(answer.audio_content)
    seconds = samples.size / 22050
    assert answer.audio_config.sample_rate_hertz == 22050 and answer.voice_name == "hi-female"
    assert 1.5 < seconds < 15 and rms(samples) > 0.01
    assert abs(answer.audio_duration.ToNanoseconds() / 1e9 - seconds) < 1e-3
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        row = await conn.fetchrow("SELECT * FROM tts_requests WHERE request_id = 'tts-req-1'")
    finally:
        await conn.close()
    assert row["voice"] == "hi-female" and row["language"] == "hi" and row["status"] == "OK"
    assert row["encoding"] == "LINEAR16" and row["characters"] > 30 and abs(row["audio_seconds"] - seconds) < 1e-3


async def test_containers_and_g711_honour_the_sample_rate(settings):
    """WAV parses at the asked rate, FLAC decodes, MULAW/ALAW have one byte per sample, OGG decodes."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)
        wav = await stub.Synthesize(request("नमस्ते।", E.AUDIO_ENCODING_WAV, sample_rate_hertz=16000), timeout=30)
        flac = await stub.Synthesize(request("नमस्ते।", E.AUDIO_ENCODING_FLAC, sample_rate_hertz=44100), timeout=30)
        mulaw = await stub.Synthesize(request("नमस्ते।", E.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000), timeout=30)
        alaw = await stub.Synthesize(request("नमस्ते।", E.AUDIO_ENCODING_ALAW, sample_rate_hertz=8000), timeout=30)
        opus = await stub.Synthesize(request("नमस्ते।", E.AUDIO_ENCODING_OGG_OPUS), timeout=30)
    data, rate = sf.read(io.BytesIO(wav.audio_content))
    assert rate == 16000 and rms(data) > 0.01
    assert abs(data.size / rate - wav.audio_duration.ToNanoseconds() / 1e9) < 1e-3
    data, rate = sf.read(io.BytesIO(flac.audio_content))
    assert rate == 44100 and flac.audio_config.sample_rate_hertz == 44100 and rms(data) > 0.01
    for answer in (mulaw, alaw):
        assert len(answer.audio_content) == round(answer.audio_duration.ToNanoseconds() / 1e9 * 8000)
    assert opus.audio_config.sample_rate_hertz == 24000  # Opus cannot carry 22050: the next rate up
    data, rate = sf.read(io.BytesIO(opus.audio_content))
    assert rate == 24000 and rms(data) > 0.01


async def test_ssml_break_adds_silence_of_the_requested_length(settings):
    """A 1.5 s <break> lengthens the audio by about 1.5 s and that stretch is silent."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)
        plain = await stub.Synthesize(request(ssml="<speak>नमस्ते दोस्तों</speak>"), timeout=30)
        paused = await stub.Synthesize(request(ssml='<speak>नमस्ते <break time="1500ms"/> दोस्तों</speak>'),
                                       timeout=30)
    a, b = pcm(plain.audio_content), pcm(paused.audio_content)
    assert 1.2 < (b.size - a.size) / 22050 < 1.8
    frames = np.abs(b[: b.size - b.size % 2205].reshape(-1, 2205)).max(axis=1)  # 100 ms frames
    silent_run = max(len(run) for run in "".join("s" if f < 1e-3 else "x" for f in frames).split("x"))
    assert silent_run >= 13


async def test_rate_pitch_and_volume_shape_the_audio(settings):
    """speaking_rate 2 shortens the audio, pitch is accepted, and -20 dB lowers the level about tenfold."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)
        normal = pcm((await stub.Synthesize(request(), timeout=30)).audio_content)
        fast = pcm((await stub.Synthesize(request(speaking_rate=2.0), timeout=30)).audio_content)
        pitched = pcm((await stub.Synthesize(request(pitch_semitones=4.0), timeout=30)).audio_content)
        quiet = pcm((await stub.Synthesize(request(volume_gain_db=-20.0), timeout=30)).audio_content)
    assert fast.size < 0.75 * normal.size
    assert 0.7 * normal.size < pitched.size < 1.3 * normal.size and rms(pitched) > 0.01
    assert 0.05 < rms(quiet) / rms(normal) < 0.2


async def test_voice_by_language_and_gender(settings):
    """language_code + gender picks the matching voice; unspecified gender picks the language's default."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)
        male = await stub.Synthesize(request("வணக்கம்.", voice=pb.VoiceSelectionParams(
            language_code="ta-IN", ssml_gender=pb.SSML_VOICE_GENDER_MALE)), timeout=30)
        default = await stub.Synthesize(request("வணக்கம்.", voice=pb.VoiceSelectionParams(language_code="ta")),
                                        timeout=30)
    assert male.voice_name == "ta-male" and rms(pcm(male.audio_content)) > 0.01
    assert default.voice_name.startswith("ta-")


@pytest.mark.parametrize(
    ("req", "reason", "field"),
    [
        (request(voice=pb.VoiceSelectionParams(name="xx-robot")), "UNKNOWN_VOICE", "voice.name"),
        (request(voice=pb.VoiceSelectionParams(language_code="hi", ssml_gender=pb.SSML_VOICE_GENDER_NEUTRAL)),
         "NO_MATCHING_VOICE", "voice.ssml_gender"),
        (request(voice=pb.VoiceSelectionParams(language_code="fr")), "UNSUPPORTED_LANGUAGE", "voice.language_code"),
        (request(ssml="<speak>बिना बंद"), "SSML_INVALID", "input.ssml"),
        (request("क" * 2000), "INPUT_TOO_LONG", "input.text"),
        (pb.SynthesizeRequest(voice=pb.VoiceSelectionParams(name="hi-male"),
                              audio_config=pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_WAV)),
         "FIELD_REQUIRED", "input"),
        (request(encoding=E.AUDIO_ENCODING_UNSPECIFIED), "FIELD_REQUIRED", "audio_config.encoding"),
        (request(encoding=E.AUDIO_ENCODING_WEBM_OPUS), "UNSUPPORTED_ENCODING", "audio_config.encoding"),
        (request(sample_rate_hertz=96000), "FIELD_OUT_OF_RANGE", "audio_config.sample_rate_hertz"),
        (request(speaking_rate=5.0), "FIELD_OUT_OF_RANGE", "audio_config.speaking_rate"),
        (request(speaking_rate=0.3), "UNSUPPORTED_FEATURE", "audio_config.speaking_rate"),
    ],
)
async def test_bad_input_is_invalid_argument_and_server_stays_serving(settings, req, reason, field):
    """Each kind of bad input gets INVALID_ARGUMENT with its reason and field; the server keeps serving."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Synthesize(req, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        info, fields = error_info(caught.value)
        assert info is not None and info.reason == reason and info.metadata["field"] == field
        if reason in ("UNKNOWN_VOICE", "NO_MATCHING_VOICE"):
            assert "hi-female" in info.metadata["available_voices"]
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        ok = await stub.Synthesize(request("ठीक है।"), timeout=30)
        assert ok.audio_content


async def test_streaming_yields_chunks_before_the_stream_ends(settings):
    """StreamingSynthesize sends several ≤64 KB chunks with rising offsets, the first before the stream ends."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        call = pb_grpc.TtsServiceStub(channel).StreamingSynthesize(pb.StreamingSynthesizeRequest(
            input=pb.SynthesisInput(text=HINDI), voice=pb.VoiceSelectionParams(name="hi-male"),
            audio_config=pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000)), timeout=30)
        first = await call.read()
        assert first is not grpc.aio.EOF and first.audio_content
        assert call.done() is False  # the first chunk is here and the stream is still open
        responses = [first, *await read_rest(call)]
    assert len(responses) >= 5
    assert first.voice_name == "hi-male" and first.audio_config.sample_rate_hertz == 8000
    assert not responses[1].voice_name and not responses[1].HasField("audio_config")
    offsets = [r.audio_offset.ToNanoseconds() for r in responses]
    assert offsets == sorted(offsets) and offsets[0] == 0
    total = sum(len(r.audio_content) for r in responses)
    assert all(len(r.audio_content) <= 65536 for r in responses)
    assert abs(offsets[-1] / 1e9 * 8000 + len(responses[-1].audio_content) - total) <= 1
    assert 1.5 < total / 8000 < 15


async def test_streaming_rejects_unstreamable_encoding(settings):
    """StreamingSynthesize answers WAV with UNSUPPORTED_ENCODING before any audio."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        call = pb_grpc.TtsServiceStub(channel).StreamingSynthesize(pb.StreamingSynthesizeRequest(
            input=pb.SynthesisInput(text=HINDI), voice=pb.VoiceSelectionParams(name="hi-male"),
            audio_config=pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_WAV)), timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
    assert error_info(caught.value)[0].reason == "UNSUPPORTED_ENCODING"


def config(**audio) -> pb.BidiStreamingSynthesizeRequest:
    return pb.BidiStreamingSynthesizeRequest(streaming_config=pb.StreamingSynthesisConfig(
        voice=pb.VoiceSelectionParams(name="hi-female"),
        audio_config=pb.AudioOutputConfig(encoding=audio.pop("encoding", E.AUDIO_ENCODING_LINEAR16), **audio)))


async def test_bidi_speaks_a_sentence_before_half_close(settings):
    """Audio for a complete sentence arrives while the client still holds the stream open; half-close flushes."""
    async with running(settings, tts_app.create) as (app, _handle, channel):
        call = pb_grpc.TtsServiceStub(channel).BidiStreamingSynthesize(timeout=30)
        await call.write(config())
        for fragment in ("भारत एक ", "विशाल देश", " है। और"):
            await call.write(pb.BidiStreamingSynthesizeRequest(text=fragment))
        first = await call.read()  # nothing half-closed yet: the first sentence is spoken already
        assert first.sentence_text == "भारत एक विशाल देश है।" and first.voice_name == "hi-female"
        await call.write(pb.BidiStreamingSynthesizeRequest(text=" यह सुंदर है"))
        await call.done_writing()
        responses = [first, *await read_rest(call)]
        assert await app.records.drain(10)
    sentences = [r.sentence_text for r in responses if r.sentence_text]
    assert sentences == ["भारत एक विशाल देश है।", "और यह सुंदर है"]
    audio = pcm(b"".join(r.audio_content for r in responses))
    assert rms(audio) > 0.01 and audio.size / 22050 > 2


@pytest.mark.parametrize("messages", [
    [pb.BidiStreamingSynthesizeRequest(text="नमस्ते।")],
    [config(), config()],
])
async def test_bidi_config_missing_or_repeated(settings, messages):
    """A text before the config is STREAM_CONFIG_MISSING; a second config is STREAM_CONFIG_REPEATED."""
    expected = "STREAM_CONFIG_MISSING" if len(messages) == 1 else "STREAM_CONFIG_REPEATED"
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        call = pb_grpc.TtsServiceStub(channel).BidiStreamingSynthesize(timeout=30)
        for message in messages:
            await call.write(message)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(caught.value)[0].reason == expected
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING


async def test_bidi_stream_that_sends_nothing_is_ended(settings):
    """A stream opened and left silent ends after stream_config_timeout_s with INVALID_ARGUMENT
    STREAM_CONFIG_MISSING (it does not wait for its 30 s deadline); the server keeps serving."""
    settings = dataclasses.replace(settings, stream_config_timeout_s=0.5)
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        call = pb_grpc.TtsServiceStub(channel).BidiStreamingSynthesize(timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(caught.value)[0].reason == "STREAM_CONFIG_MISSING"
        assert "within 0.5 s" in (caught.value.details() or "")
        assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING


async def test_bidi_fragment_too_long(settings):
    """A fragment above 5,000 bytes ends the stream with INPUT_TOO_LONG."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        call = pb_grpc.TtsServiceStub(channel).BidiStreamingSynthesize(timeout=30)
        await call.write(config())
        await call.write(pb.BidiStreamingSynthesizeRequest(text="क" * 2000))
        await call.done_writing()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
    assert error_info(caught.value)[0].reason == "INPUT_TOO_LONG"


async def test_list_voices_filters_and_paginates(settings):
    """ListVoices reports the models' voices, filters by language and pages with tokens."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)
        hindi = await stub.ListVoices(pb.ListVoicesRequest(language_code="hi-IN"), timeout=5)
        first = await stub.ListVoices(pb.ListVoicesRequest(page_size=3), timeout=5)
        second = await stub.ListVoices(pb.ListVoicesRequest(page_size=3, page_token=first.next_page_token), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListVoices(pb.ListVoicesRequest(page_token="garbage"), timeout=5)
    assert [v.name for v in hindi.voices] == ["hi-female", "hi-male"]
    voice = hindi.voices[0]
    assert voice.language_codes == ["hi"] and voice.ssml_gender == pb.SSML_VOICE_GENDER_FEMALE
    assert voice.natural_sample_rate_hertz == 22050 and voice.supports_streaming and voice.backend == "espeak-ng"
    names = [v.name for v in [*first.voices, *second.voices]]
    assert len(names) == 6 and names == sorted(names) and first.next_page_token
    assert error_info(caught.value)[0].reason == "INVALID_PAGE_TOKEN"


async def test_concurrent_streams_are_independent(settings):
    """Two streaming calls at once each get their own complete audio."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)

        async def total(name: str) -> int:
            call = stub.StreamingSynthesize(pb.StreamingSynthesizeRequest(
                input=pb.SynthesisInput(text=HINDI), voice=pb.VoiceSelectionParams(name=name),
                audio_config=pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_LINEAR16)), timeout=30)
            return sum([len(r.audio_content) async for r in call])

        sizes = await asyncio.gather(total("hi-male"), total("hi-female"))
    assert all(size / 2 / 22050 > 1.5 for size in sizes)


# -- text normalization (NeMo's Hindi grammar, from the checkout's grammar cache) -----------

GRAMMARS = GRAMMAR_CACHE_DIR  # where bootstrap compiled them (the user's cache)


@pytest.fixture
def tn_settings(settings) -> TtsSettings:
    return dataclasses.replace(settings, tn_languages=("hi",), grammar_cache_dir=str(GRAMMARS))


def seconds_of(answer: pb.SynthesizeResponse) -> float:
    return answer.audio_duration.ToNanoseconds() / 1e9


async def test_tn_hindi_speaks_the_rupee_amount(tn_settings):
    """Hindi ₹500 is normalized to the amount in words (NeMo's grammar) and spoken: longer audio than ₹ alone;
    with normalization off the text goes to the voice as written."""
    async with running(tn_settings, tts_app.create) as (app, _handle, channel):
        assert await asyncio.to_thread(app.tn.wait, 300), app.tn.status()
        stub = pb_grpc.TtsServiceStub(channel)
        amount = await stub.Synthesize(request("₹500"), timeout=30)
        symbol = await stub.Synthesize(request("₹"), timeout=30)
        verbatim = pb.SynthesizeRequest(input=pb.SynthesisInput(text="₹500", enable_text_normalization=False),
                                        voice=pb.VoiceSelectionParams(name="hi-female"),
                                        audio_config=pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_LINEAR16))
        as_written = await stub.Synthesize(verbatim, timeout=30)
        voices = {v.name: v for v in (await stub.ListVoices(pb.ListVoicesRequest(page_size=1000), timeout=10)).voices}
    said = amount.normalized_text
    assert "पाँच सौ" in said and ("रुपए" in said or "रुपये" in said) and "₹" not in said and "500" not in said
    assert rms(pcm(amount.audio_content)) > 0.01
    assert seconds_of(amount) > seconds_of(symbol) + 0.3
    assert as_written.normalized_text == "₹500"
    assert voices["hi-female"].text_normalization == pb.TEXT_NORMALIZATION_GRAMMAR
    assert voices["ta-female"].text_normalization == pb.TEXT_NORMALIZATION_NUMBERS


async def test_tn_streamed_text_is_normalized_sentence_by_sentence(tn_settings):
    """StreamingSynthesize normalizes each sentence as its turn comes: a later sentence's ₹500 is
    spoken as words, as long as the unary call speaks it, and longer than with normalization off."""
    text = "नमस्ते, आप कैसे हैं। इसकी कीमत ₹500 है।"

    def streaming(normalize: bool) -> pb.StreamingSynthesizeRequest:
        return pb.StreamingSynthesizeRequest(
            input=pb.SynthesisInput(text=text, enable_text_normalization=normalize),
            voice=pb.VoiceSelectionParams(name="hi-female"),
            audio_config=pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_LINEAR16))

    async with running(tn_settings, tts_app.create) as (app, _handle, channel):
        assert await asyncio.to_thread(app.tn.wait, 300), app.tn.status()
        stub = pb_grpc.TtsServiceStub(channel)
        unary = await stub.Synthesize(request(text), timeout=30)
        spoken = b"".join([r.audio_content async for r in stub.StreamingSynthesize(streaming(True), timeout=30)])
        verbatim = b"".join([r.audio_content async for r in stub.StreamingSynthesize(streaming(False), timeout=30)])
    assert "पाँच सौ" in unary.normalized_text
    seconds = len(spoken) / 2 / 22050
    assert abs(seconds - seconds_of(unary)) < 0.15
    assert seconds > len(verbatim) / 2 / 22050 + 0.3


async def test_tn_say_as_is_read_in_the_voice_language(settings):
    """<say-as> cardinal, ordinal, characters and telephone are read out in Hindi even with normalization off."""
    text = ('<speak>कमरा <say-as interpret-as="ordinal">3</say-as>, कुल <say-as interpret-as="cardinal">25</say-as>,'
            ' <say-as interpret-as="characters">AB</say-as> <say-as interpret-as="telephone">98 76</say-as></speak>')
    req = request(ssml=text)
    req.input.enable_text_normalization = False
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        answer = await pb_grpc.TtsServiceStub(channel).Synthesize(req, timeout=30)
    assert answer.normalized_text == "कमरा तीसरा, कुल पच्चीस, A B नौ आठ, सात छः"
    assert rms(pcm(answer.audio_content)) > 0.01


async def test_tn_numbers_without_a_grammar_and_in_bidi(settings):
    """Tamil has no NeMo grammar: its numbers and rupees are read by indic-numtowords; bidi sentences are normalized."""
    async with running(settings, tts_app.create) as (_app, _handle, channel):
        stub = pb_grpc.TtsServiceStub(channel)
        tamil = await stub.Synthesize(request("விலை ₹25", voice=pb.VoiceSelectionParams(name="ta-female")), timeout=30)
        call = stub.BidiStreamingSynthesize(timeout=30)
        await call.write(config())
        await call.write(pb.BidiStreamingSynthesizeRequest(text="कुल 25 लोग आए।"))
        await call.done_writing()
        responses = await read_rest(call)
    assert tamil.normalized_text == "விலை இருபத்து ஐந்து ரூபாய்"
    assert [r.sentence_text for r in responses if r.sentence_text] == ["कुल पच्चीस लोग आए।"]
