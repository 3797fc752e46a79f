"""The pipeline service in-process (production factory and interceptors) calling the real ASR,
NMT and TTS services, each in-process on its own port, against the session's real Triton."""

from __future__ import annotations

import contextlib

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.audio.v1 import audio_pb2
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pb_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from deploy.local.parts import free_port
from services.asr import app as asr_app
from services.asr.settings import AsrSettings
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from services.pipeline import app as pipeline_app
from services.pipeline.settings import PipelineSettings
from services.tts import app as tts_app
from services.tts.settings import TtsSettings
from tests.audio_util import RATE, container_files, speech, word_errors
from tests.errors_util import error_info
from tests.service.harness import health_status, running

E = audio_pb2.AudioEncoding
HINDI = "भारत एक विशाल देश है।"
ENGLISH = "hello world"


def linear16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def rms(data: bytes) -> float:
    samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def translation(target: str, source: str = "") -> pb.PipelineTask:
    return pb.PipelineTask(translation=pb.TranslationConfig(source_language_code=source, target_language_code=target))


def tts(language: str, name: str = "") -> pb.PipelineTask:
    return pb.PipelineTask(tts=pb.SynthesisConfig(
        voice=tts_pb.VoiceSelectionParams(language_code=language, name=name),
        audio_config=tts_pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_LINEAR16)))


def asr(language: str = "en") -> pb.PipelineTask:
    return pb.PipelineTask(asr=asr_pb.RecognitionConfig(language_code=language))


def text_input(text: str, language: str = "") -> pb.PipelineInput:
    return pb.PipelineInput(text=pb.TextInput(text=text, language_code=language))


def audio_input(text: str) -> pb.PipelineInput:
    return pb.PipelineInput(audio=pb.AudioInput(content=linear16(speech(text)), audio_config=audio_pb2.AudioConfig(
        encoding=E.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE)))


@pytest.fixture(scope="module")
async def downstream(triton, tmp_path_factory):
    """The real ASR, NMT and TTS services, each on its own ephemeral port: {name: host:port}."""
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


def pipeline_settings(tmp_path, targets: dict[str, str]) -> PipelineSettings:
    return PipelineSettings(port=0, log_json=False, spool_dir=str(tmp_path / "spool"),
                            asr_target=targets["asr"], nmt_target=targets["nmt"], tts_target=targets["tts"],
                            retry_initial_backoff_s=0.01)


@pytest.fixture
async def pipeline(downstream, tmp_path):
    """A stub of the pipeline service pointed at the real downstream services."""
    async with running(pipeline_settings(tmp_path, downstream), pipeline_app.create) as (_app, _handle, channel):
        yield pb_grpc.PipelineServiceStub(channel), channel


@pytest.fixture
async def dead_pipeline(tmp_path):
    """A stub of the pipeline service whose downstream services are not running."""
    dead = {name: f"127.0.0.1:{free_port()}" for name in ("asr", "nmt", "tts")}
    async with running(pipeline_settings(tmp_path, dead), pipeline_app.create) as (_app, _handle, channel):
        yield pb_grpc.PipelineServiceStub(channel), channel


async def test_text_translated_then_spoken(pipeline):
    """Hindi text → NMT (hi→ur) → TTS (ur voice) returns the Urdu translation and non-silent audio; health SERVING."""
    stub, channel = pipeline
    assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
    answer = await stub.RunPipeline(pb.RunPipelineRequest(
        tasks=[translation("ur"), tts("ur")], input=text_input(HINDI, "hi")),
        timeout=30, metadata=(("x-request-id", "pipe-1"),))
    first, second = answer.outputs
    assert first.task_index == 0 and second.task_index == 1
    urdu = first.translation.translated_text
    assert any("\u0600" <= ch <= "\u06ff" for ch in urdu)
    assert first.translation.source_language_code == "hi" and first.translation.target_language_code == "ur"
    assert second.audio.voice_name.startswith("ur") and rms(second.audio.audio_content) > 0.01
    assert second.audio.audio_duration.ToNanoseconds() > 0


@pytest.mark.parametrize(
    ("tasks", "source", "reason", "field"),
    [
        ([], text_input(HINDI, "hi"), "INVALID_PIPELINE", "tasks"),
        ([tts("hi"), translation("ur")], text_input(HINDI, "hi"), "INVALID_PIPELINE", "tasks[1]"),
        ([asr()], text_input(HINDI, "hi"), "INVALID_PIPELINE", "tasks[0]"),
        ([translation("ur", source="ur")], text_input(HINDI, "hi"), "LANGUAGE_MISMATCH",
         "tasks[0].translation.source_language_code"),
        ([translation("ur"), tts("hi")], text_input(HINDI, "hi"), "LANGUAGE_MISMATCH",
         "tasks[1].tts.voice.language_code"),
        ([asr("en"), translation("en")], audio_input(ENGLISH), "UNSUPPORTED_LANGUAGE_PAIR",
         "tasks[1].translation.target_language_code"),
        ([pb.PipelineTask()], text_input(HINDI), "FIELD_REQUIRED", "tasks[0]"),
        ([tts("hi")], pb.PipelineInput(), "FIELD_REQUIRED", "input"),
    ],
    ids=["empty", "tts-then-nmt", "asr-on-text", "nmt-source-mismatch", "voice-mismatch", "same-pair",
         "no-task", "no-input"],
)
async def test_invalid_chains_fail_before_any_call(dead_pipeline, tasks, source, reason, field):
    """A chain that cannot run is INVALID_ARGUMENT naming the task and field, before any downstream call."""
    stub, _channel = dead_pipeline
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RunPipeline(pb.RunPipelineRequest(tasks=tasks, input=source), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, fields = error_info(caught.value)
    assert info is not None and info.reason == reason and info.domain == "ai4vc"
    assert info.metadata["field"] == field and fields == [field]


async def test_downstream_invalid_argument_keeps_its_reason(pipeline):
    """NMT's UNSUPPORTED_LANGUAGE_PAIR comes back as is, its field prefixed with the task."""
    stub, _channel = pipeline
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RunPipeline(pb.RunPipelineRequest(tasks=[translation("ta"), tts("ta")],
                                                     input=text_input(HINDI, "hi")), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, fields = error_info(caught.value)
    assert info.reason == "UNSUPPORTED_LANGUAGE_PAIR" and info.metadata["service"] == "nmt"
    assert info.metadata["field"].startswith("tasks[0].translation.") and fields == [info.metadata["field"]]


async def test_downstream_tts_error_names_the_task(pipeline):
    """TTS's UNKNOWN_VOICE for the second task names tasks[1].tts.voice.name."""
    stub, _channel = pipeline
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RunPipeline(pb.RunPipelineRequest(tasks=[translation("ur"), tts("ur", name="ur-robot")],
                                                     input=text_input(HINDI, "hi")), timeout=30)
    info, _fields = error_info(caught.value)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.metadata["service"] == "tts" and info.metadata["field"] == "tasks[1].tts.voice.name"


async def test_downstream_unavailable_is_unavailable(dead_pipeline):
    """With the downstream services down, a valid chain is UNAVAILABLE (after retries) and health NOT_SERVING."""
    stub, channel = dead_pipeline
    assert await health_status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RunPipeline(pb.RunPipelineRequest(tasks=[translation("ur")], input=text_input(HINDI, "hi")),
                               timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    info, _fields = error_info(caught.value)
    assert info.reason == "BACKEND_UNAVAILABLE" and info.metadata["service"] == "nmt"


async def test_english_speech_recognized_then_spoken(pipeline):
    """English speech → ASR (en) → TTS (en voice): a transcript with the words said, and non-silent audio."""
    stub, _channel = pipeline
    answer = await stub.RunPipeline(pb.RunPipelineRequest(tasks=[asr("en"), tts("en")],
                                                          input=audio_input(ENGLISH)), timeout=60)
    heard, spoken = answer.outputs
    assert "hello" in heard.transcript.transcript.lower().split() or "world" in heard.transcript.transcript.lower()
    assert heard.transcript.language_code == "en" and heard.transcript.results
    assert spoken.audio.voice_name.startswith("en") and rms(spoken.audio.audio_content) > 0.01


async def test_english_speech_to_translation_is_unsupported_pair(pipeline):
    """ASR (en) → NMT (en→hi): NMT serves only hi↔ur, so UNSUPPORTED_LANGUAGE_PAIR naming tasks[1]."""
    stub, _channel = pipeline
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.RunPipeline(pb.RunPipelineRequest(tasks=[asr("en"), translation("hi"), tts("hi")],
                                                     input=audio_input(ENGLISH)), timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, _fields = error_info(caught.value)
    assert info.reason == "UNSUPPORTED_LANGUAGE_PAIR" and info.metadata["service"] == "nmt"
    assert info.metadata["field"].startswith("tasks[1].translation.")


def stream_config(target: str = "", voice: str = "en") -> pb.StreamingSpeechToSpeechConfig:
    return pb.StreamingSpeechToSpeechConfig(
        recognition_config=asr_pb.StreamingRecognitionConfig(
            config=asr_pb.RecognitionConfig(language_code="en", audio_config=audio_pb2.AudioConfig(
                encoding=E.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE)),
            interim_results=True),
        target_language_code=target,
        voice=tts_pb.VoiceSelectionParams(language_code=voice),
        audio_config=tts_pb.AudioOutputConfig(encoding=E.AUDIO_ENCODING_LINEAR16))


async def stream_requests(config: pb.StreamingSpeechToSpeechConfig | None, text: str | None):
    """The config (when given), then `text` spoken in 100 ms chunks (when given; else one chunk of silence)."""
    if config is not None:
        yield pb.StreamingSpeechToSpeechRequest(streaming_config=config)
    if text is None:
        # Few messages: a client still writing when the server ends the call early may see a
        # client-side INTERNAL from gRPC core instead of the server's status.
        if config is None:
            yield pb.StreamingSpeechToSpeechRequest(audio=b"\0" * 3200)
        return
    data = linear16(speech(text))
    step = RATE // 10 * 2  # 100 ms of 16-bit audio
    for start in range(0, len(data), step):
        yield pb.StreamingSpeechToSpeechRequest(audio=data[start:start + step])


async def test_streaming_speech_to_speech(pipeline):
    """Live English speech: interim and final transcripts arrive, then audio chunks for each final utterance."""
    stub, _channel = pipeline
    events = [e async for e in stub.StreamingSpeechToSpeech(stream_requests(stream_config(), ENGLISH), timeout=60)]
    kinds = [e.WhichOneof("event") for e in events]
    interim = [e for e in events if e.WhichOneof("event") == "transcript" and not e.transcript.is_final]
    final = [e for e in events if e.WhichOneof("event") == "transcript" and e.transcript.is_final]
    audio = [e for e in events if e.WhichOneof("event") == "audio"]
    assert interim and final and audio
    assert kinds.index("transcript") < kinds.index("audio")
    finals = {e.utterance_index for e in final if e.transcript.transcript}
    assert finals and {e.utterance_index for e in audio} <= finals
    assert audio[0].audio.voice_name.startswith("en") and audio[0].audio.audio_config.sample_rate_hertz > 0
    assert rms(b"".join(e.audio.audio_content for e in audio)) > 0.01
    assert "translation" not in kinds


async def test_streaming_translation_error_keeps_reason(pipeline):
    """A stream asking en→hi translation ends with NMT's UNSUPPORTED_LANGUAGE_PAIR naming the config's target."""
    stub, _channel = pipeline
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _event in stub.StreamingSpeechToSpeech(
                stream_requests(stream_config(target="hi", voice="hi"), ENGLISH), timeout=60):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, _fields = error_info(caught.value)
    assert info.reason == "UNSUPPORTED_LANGUAGE_PAIR" and info.metadata["service"] == "nmt"
    assert info.metadata["field"].startswith("streaming_config.")


@pytest.mark.parametrize(
    ("config", "reason", "field"),
    [
        (None, "STREAM_CONFIG_MISSING", "streaming_config"),
        (stream_config(target="ur", voice="hi"), "LANGUAGE_MISMATCH", "streaming_config.voice.language_code"),
    ],
    ids=["config-missing", "voice-mismatch"],
)
async def test_streaming_bad_config_is_invalid_argument(dead_pipeline, config, reason, field):
    """A stream without a config first, or whose voice cannot speak the target, is INVALID_ARGUMENT up front."""
    stub, _channel = dead_pipeline
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _event in stub.StreamingSpeechToSpeech(stream_requests(config, None), timeout=10):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, _fields = error_info(caught.value)
    assert info.reason == reason and info.metadata["field"] == field


async def test_wav_input_without_audio_config_is_recognized(pipeline):
    """A WAV input with no audio_config reaches ASR untouched: its header is read there and the words come back."""
    stub, _channel = pipeline
    wav = container_files(speech(ENGLISH))["wav"]
    answer = await stub.RunPipeline(pb.RunPipelineRequest(tasks=[asr("en")], input=pb.PipelineInput(
        audio=pb.AudioInput(content=wav))), timeout=60)
    [heard] = answer.outputs
    assert word_errors(ENGLISH, heard.transcript.transcript.lower()) <= 1
    raw = pb.PipelineInput(audio=pb.AudioInput(content=linear16(speech(ENGLISH))))
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # headerless: ASR still needs the encoding
        await stub.RunPipeline(pb.RunPipelineRequest(tasks=[asr("en")], input=raw), timeout=60)
    info, _fields = error_info(caught.value)
    assert info.reason == "FIELD_REQUIRED" and info.metadata["field"] == "tasks[0].asr.audio_config.encoding"


async def test_streaming_speech_to_speech_reads_a_wav_header_in_the_first_chunk(pipeline):
    """A speech-to-speech stream with no audio_config whose first chunk is a WAV header: transcripts, then audio."""
    stub, _channel = pipeline
    config = stream_config()
    config.recognition_config.config.ClearField("audio_config")
    wav = container_files(speech(ENGLISH))["wav"]

    async def requests():
        yield pb.StreamingSpeechToSpeechRequest(streaming_config=config)
        for start in range(0, len(wav), 3200):
            yield pb.StreamingSpeechToSpeechRequest(audio=wav[start:start + 3200])

    events = [e async for e in stub.StreamingSpeechToSpeech(requests(), timeout=60)]
    final = " ".join(e.transcript.transcript for e in events
                     if e.WhichOneof("event") == "transcript" and e.transcript.is_final)
    assert word_errors(ENGLISH, final.lower()) <= 1
    assert rms(b"".join(e.audio.audio_content for e in events if e.WhichOneof("event") == "audio")) > 0.01
