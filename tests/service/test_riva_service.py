"""The Riva facade in-process (production factory and interceptors) over the real ASR, TTS and NMT
services, each in-process on its own port against the session's real Triton, called with Riva's
own message types (generated from the vendored descriptor set)."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest
import soundfile
from grpc_health.v1 import health_pb2

from deploy.local.parts import free_port
from riva.proto import riva_asr_pb2 as rasr
from riva.proto import riva_asr_pb2_grpc as rasr_grpc
from riva.proto import riva_audio_pb2 as raudio
from riva.proto import riva_nmt_pb2 as rnmt
from riva.proto import riva_nmt_pb2_grpc as rnmt_grpc
from riva.proto import riva_tts_pb2 as rtts
from riva.proto import riva_tts_pb2_grpc as rtts_grpc
from services.asr import app as asr_app
from services.asr.settings import AsrSettings
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from services.riva import app as riva_app
from services.riva.settings import RivaSettings
from services.tts import app as tts_app
from services.tts.settings import TtsSettings
from tests.audio_util import RATE, speech, word_errors
from tests.errors_util import error_info
from tests.service.harness import health_status, running

RE = raudio.AudioEncoding
SENTENCE = "good morning how are you today"
HINDI = "भारत एक विशाल देश है।"


def wav_file(samples: np.ndarray, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def rms16(data: bytes) -> float:
    samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    return float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0


async def file_stream(data: bytes, config: rasr.StreamingRecognitionConfig, chunk: int = 3200
                      ) -> AsyncIterator[rasr.StreamingRecognizeRequest]:
    """As Riva's streaming example sends a file: config, then the file's bytes (header first) in chunks."""
    yield rasr.StreamingRecognizeRequest(streaming_config=config)
    for i in range(0, len(data), chunk):
        yield rasr.StreamingRecognizeRequest(audio_content=data[i:i + chunk])


@pytest.fixture(scope="module")
async def downstream(triton, tmp_path_factory):
    """The real ASR, TTS and NMT services, each on its own ephemeral port: {name: host:port}."""
    spool = tmp_path_factory.mktemp("spool")
    common = {"port": 0, "triton_url": triton.url, "spool_dir": str(spool), "log_json": False}
    async with contextlib.AsyncExitStack() as stack:
        targets = {}
        for name, settings, create in (("asr", AsrSettings(**common), asr_app.create),
                                       ("nmt", NmtSettings(**common), nmt_app.create),
                                       ("tts", TtsSettings(**common), tts_app.create)):
            _app, handle, _channel = await stack.enter_async_context(running(settings, create))
            targets[name] = f"127.0.0.1:{handle.port}"
        yield targets


def riva_settings(tmp_path, targets: dict[str, str]) -> RivaSettings:
    return RivaSettings(port=0, log_json=False, spool_dir=str(tmp_path / "spool"), asr_target=targets["asr"],
                        tts_target=targets["tts"], nmt_target=targets["nmt"], retry_initial_backoff_s=0.01)


@pytest.fixture
async def riva(downstream, tmp_path):
    """Riva ASR, TTS and NMT stubs on one channel to the facade, pointed at the real services."""
    async with running(riva_settings(tmp_path, downstream), riva_app.create) as (_app, _handle, channel):
        yield (rasr_grpc.RivaSpeechRecognitionStub(channel), rtts_grpc.RivaSpeechSynthesisStub(channel),
               rnmt_grpc.RivaTranslationStub(channel), channel)


@pytest.fixture
async def dead_riva(tmp_path):
    """The facade with its downstream services not running."""
    dead = {name: f"127.0.0.1:{free_port()}" for name in ("asr", "tts", "nmt")}
    async with running(riva_settings(tmp_path, dead), riva_app.create) as (_app, _handle, channel):
        yield rnmt_grpc.RivaTranslationStub(channel), channel


async def test_streaming_a_wav_file_with_its_header_transcribes(riva):
    """StreamingRecognize, no encoding or rate, WAV header in the first chunk: interims, then the sentence."""
    asr, _tts, _nmt, channel = riva
    for service in riva_app.RivaApp.service_names:
        assert await health_status(channel, service) == health_pb2.HealthCheckResponse.SERVING
    config = rasr.StreamingRecognitionConfig(config=rasr.RecognitionConfig(language_code="en-US"),
                                             interim_results=True)
    finals, interims = [], 0
    call = asr.StreamingRecognize(file_stream(wav_file(speech(SENTENCE)), config), timeout=60)
    async for response in call:
        for result in response.results:
            if result.is_final:
                finals.append(result.alternatives[0].transcript)
            else:
                interims += 1
                assert result.audio_processed > 0
    transcript = " ".join(finals).lower()
    assert word_errors(SENTENCE, transcript) / len(SENTENCE.split()) <= 0.5, transcript
    assert interims > 0


async def test_recognize_a_wav_file_gives_words_in_milliseconds(riva):
    """Recognize of a whole WAV file: the sentence, words timed in ms within the audio, audio_processed set."""
    asr, _tts, _nmt, _channel = riva
    samples = speech(SENTENCE)
    answer = await asr.Recognize(rasr.RecognizeRequest(
        config=rasr.RecognitionConfig(language_code="en-US", enable_word_time_offsets=True),
        audio=wav_file(samples)), timeout=60)
    transcript = " ".join(r.alternatives[0].transcript for r in answer.results).lower()
    assert word_errors(SENTENCE, transcript) / len(SENTENCE.split()) <= 0.5, transcript
    words = [w for r in answer.results for w in r.alternatives[0].words]
    assert words and all(0 <= w.start_time <= w.end_time <= len(samples) * 1000 // RATE for w in words)
    assert answer.results[-1].audio_processed > 0


async def test_headerless_stream_without_encoding_names_the_riva_field(riva):
    """Raw bytes with no encoding declared: INVALID_ARGUMENT FIELD_REQUIRED on streaming_config.config.encoding."""
    asr, _tts, _nmt, _channel = riva
    config = rasr.StreamingRecognitionConfig(config=rasr.RecognitionConfig(language_code="en-US"))

    async def live() -> AsyncIterator[rasr.StreamingRecognizeRequest]:
        # A live source: one chunk, then nothing more for now (the answer comes before the next
        # write, so no write races the server's status; grpc's aio client reports such a
        # write as INTERNAL "Internal error from Core" instead of the status it was told).
        yield rasr.StreamingRecognizeRequest(streaming_config=config)
        yield rasr.StreamingRecognizeRequest(audio_content=b"\x01\x00" * 1600)
        await asyncio.sleep(30)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in asr.StreamingRecognize(live(), timeout=20):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, fields = error_info(caught.value)
    assert info.reason == "FIELD_REQUIRED" and fields == ["streaming_config.config.encoding"]


async def test_downstream_asr_error_keeps_reason_and_riva_field(riva):
    """ASR's UNSUPPORTED_LANGUAGE (a language no model serves) comes back as is, naming Riva's config.language_code."""
    asr, _tts, _nmt, _channel = riva
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await asr.Recognize(rasr.RecognizeRequest(config=rasr.RecognitionConfig(language_code="ta-IN"),
                                                  audio=wav_file(speech("hello"))), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, fields = error_info(caught.value)
    assert info.reason == "UNSUPPORTED_LANGUAGE" and info.metadata["service"] == "asr"
    assert fields == ["config.language_code"]


async def test_model_listing_comes_from_list_models(riva):
    """GetRivaSpeechRecognitionConfig lists the ASR service's models, streaming ones as "online"."""
    asr, _tts, _nmt, _channel = riva
    answer = await asr.GetRivaSpeechRecognitionConfig(rasr.RivaSpeechRecognitionConfigRequest(), timeout=10)
    online = [c for c in answer.model_config if c.parameters["type"] == "online"]
    assert online and any("en" in c.parameters["language_code"] for c in online)
    one = await asr.GetRivaSpeechRecognitionConfig(rasr.RivaSpeechRecognitionConfigRequest(
        model_name=online[0].model_name), timeout=10)
    assert [c.model_name for c in one.model_config] == [online[0].model_name]


async def test_voices_listed_are_voices_synthesize_accepts(riva):
    """A voice from GetRivaSynthesisConfig, named voice_name.subvoice as Riva clients do, speaks raw 16-bit PCM."""
    _asr, tts, _nmt, _channel = riva
    listing = await tts.GetRivaSynthesisConfig(rtts.RivaSynthesisConfigRequest(), timeout=10)
    hindi = next(c for c in listing.model_config if c.parameters["language_code"] == "hi")
    full = hindi.parameters["voice_name"] + "." + hindi.parameters["subvoices"].split(",")[0].split(":")[0]
    answer = await tts.Synthesize(rtts.SynthesizeSpeechRequest(
        text=HINDI, language_code="hi-IN", voice_name=full, encoding=RE.LINEAR_PCM, sample_rate_hz=22050),
        timeout=30)
    assert len(answer.audio) > 22050 and len(answer.audio) % 2 == 0 and rms16(answer.audio) > 0.01
    assert answer.meta.text == HINDI


async def test_unknown_voice_names_voice_name(riva):
    """TTS's UNKNOWN_VOICE comes back naming Riva's voice_name; the facade still serves the next call."""
    _asr, tts, _nmt, _channel = riva
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await tts.Synthesize(rtts.SynthesizeSpeechRequest(text=HINDI, language_code="hi-IN",
                                                          voice_name="English-US.Female-1"), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, fields = error_info(caught.value)
    assert info.reason == "UNKNOWN_VOICE" and fields == ["voice_name"] and info.metadata["service"] == "tts"
    again = await tts.Synthesize(rtts.SynthesizeSpeechRequest(text=HINDI, language_code="hi-IN"), timeout=30)
    assert rms16(again.audio) > 0.01


async def test_synthesize_online_answers_each_text_in_order(riva):
    """SynthesizeOnline (bidirectional): audio chunks for every text sent, the first text's before the second's."""
    _asr, tts, _nmt, _channel = riva

    async def texts() -> AsyncIterator[rtts.SynthesizeSpeechRequest]:
        for text in ("नमस्ते", HINDI):
            yield rtts.SynthesizeSpeechRequest(text=text, language_code="hi-IN", encoding=RE.LINEAR_PCM,
                                               sample_rate_hz=16000)

    chunks = [r async for r in tts.SynthesizeOnline(texts(), timeout=60)]
    assert len(chunks) >= 2 and [c.meta.text for c in chunks] == sorted(
        (c.meta.text for c in chunks), key=("नमस्ते", HINDI).index)
    assert {c.meta.text for c in chunks} == {"नमस्ते", HINDI}
    assert rms16(b"".join(c.audio for c in chunks)) > 0.01


async def test_translate_hindi_to_urdu_and_list_pairs(riva):
    """TranslateText hi→ur gives Urdu script per text; ListSupportedLanguagePairs lists hi→ur under its model."""
    _asr, _tts, nmt, _channel = riva
    request = rnmt.TranslateTextRequest(texts=[HINDI, "आप कैसे हैं?"], source_language="hi", target_language="ur")
    request.id.value = "riva-req-1"
    answer = await nmt.TranslateText(request, timeout=30)
    assert len(answer.translations) == 2 and answer.id.value == "riva-req-1"
    assert all(t.language == "ur" and any("\u0600" <= ch <= "\u06ff" for ch in t.text) for t in answer.translations)
    pairs = await nmt.ListSupportedLanguagePairs(rnmt.AvailableLanguageRequest(), timeout=10)
    assert any("hi" in p.src_lang and "ur" in p.tgt_lang for p in pairs.languages.values())


async def test_unsupported_pair_names_target_language(riva):
    """NMT's UNSUPPORTED_LANGUAGE_PAIR (hi→ta) comes back naming Riva's target_language."""
    _asr, _tts, nmt, _channel = riva
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await nmt.TranslateText(rnmt.TranslateTextRequest(texts=[HINDI], source_language="hi", target_language="ta"),
                                timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, fields = error_info(caught.value)
    assert info.reason == "UNSUPPORTED_LANGUAGE_PAIR" and fields and fields[0] in ("target_language", "source_language")


async def test_downstream_down_is_unavailable_and_not_serving(dead_riva):
    """With the downstream services down: health NOT_SERVING, and a call is UNAVAILABLE BACKEND_UNAVAILABLE."""
    nmt, channel = dead_riva
    assert await health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await nmt.TranslateText(rnmt.TranslateTextRequest(texts=[HINDI], source_language="hi", target_language="ur"),
                                timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    info, _fields = error_info(caught.value)
    assert info.reason == "BACKEND_UNAVAILABLE" and info.metadata["service"] == "nmt"


async def test_riva_translation_streams_are_unimplemented_with_a_reason(riva):
    """Riva's speech translation streams answer UNIMPLEMENTED, METHOD_NOT_IMPLEMENTED (not INTERNAL); still SERVING."""
    _asr, _tts, nmt, channel = riva

    async def one() -> AsyncIterator[rnmt.StreamingTranslateSpeechToSpeechRequest]:
        yield rnmt.StreamingTranslateSpeechToSpeechRequest(config=rnmt.StreamingTranslateSpeechToSpeechConfig())
        await asyncio.sleep(30)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in nmt.StreamingTranslateSpeechToSpeech(one(), timeout=10):
            pass
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    info, _fields = error_info(caught.value)
    assert info.reason == "METHOD_NOT_IMPLEMENTED"
    assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
