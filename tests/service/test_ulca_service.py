"""The ULCA facade in-process (production factory and interceptors) calling the real ASR, NMT and
TTS services, each in-process on its own port, against the session's real Triton."""

from __future__ import annotations

import base64
import contextlib
import io
import wave

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2

from ai4vc.ulca.v1 import ulca_service_pb2 as pb
from ai4vc.ulca.v1 import ulca_service_pb2_grpc as pb_grpc
from deploy.local.parts import free_port
from services.asr import app as asr_app
from services.asr.settings import AsrSettings
from services.nmt import app as nmt_app
from services.nmt.settings import NmtSettings
from services.tts import app as tts_app
from services.tts.settings import TtsSettings
from services.ulca import app as ulca_app
from services.ulca.settings import UlcaSettings
from tests.audio_util import RATE, speech, word_errors
from tests.errors_util import error_info
from tests.service.harness import health_status, running

HINDI = "भारत एक विशाल देश है।"


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def language(source: str, target: str = "") -> pb.LanguageConfig:
    return pb.LanguageConfig(source_language=source, target_language=target)


@pytest.fixture(scope="module")
async def downstream(triton, tmp_path_factory):
    """The real ASR, NMT and TTS services, each on its own ephemeral port: {name: host:port}."""
    spool = tmp_path_factory.mktemp("spool")
    common = {"port": 0, "triton_url": triton.url, "spool_dir": str(spool), "log_json": False}
    async with contextlib.AsyncExitStack() as stack:
        targets = {}
        # The ASR service takes at most 30 s in one Recognize, as Dhruva's models do: longer audio
        # only gets through the facade segmented (test_long_audio_is_segmented_not_truncated).
        for name, settings, create in (("asr", AsrSettings(**common, max_audio_seconds=30.0), asr_app.create),
                                       ("nmt", NmtSettings(**common), nmt_app.create),
                                       ("tts", TtsSettings(**common), tts_app.create)):
            _app, handle, _channel = await stack.enter_async_context(running(settings, create))
            targets[name] = f"127.0.0.1:{handle.port}"
        yield targets


def ulca_settings(tmp_path, targets: dict[str, str]) -> UlcaSettings:
    return UlcaSettings(port=0, log_json=False, spool_dir=str(tmp_path / "spool"), asr_target=targets["asr"],
                        nmt_target=targets["nmt"], tts_target=targets["tts"], retry_initial_backoff_s=0.01,
                        public_url="https://edge.example")


@pytest.fixture
async def ulca(downstream, tmp_path):
    async with running(ulca_settings(tmp_path, downstream), ulca_app.create) as (_app, _handle, channel):
        yield pb_grpc.UlcaServiceStub(channel), channel


@pytest.fixture
async def dead_ulca(tmp_path):
    """The facade with nothing behind it: what it answers must come from itself alone."""
    dead = {name: f"127.0.0.1:{free_port()}" for name in ("asr", "nmt", "tts")}
    async with running(ulca_settings(tmp_path, dead), ulca_app.create) as (_app, _handle, channel):
        yield pb_grpc.UlcaServiceStub(channel), channel


async def test_translation_maps_onto_nmt_and_back(ulca):
    """input[].source hi → output[].{source, target} ur, a Dhruva serviceId mapped onto our model; SERVING."""
    stub, channel = ulca
    assert await health_status(channel) == health_pb2.HealthCheckResponse.SERVING
    answer = await stub.ComputeTranslation(pb.ComputeTranslationRequest(
        config=pb.TaskConfig(service_id="ai4bharat/indictrans-v2-all-gpu--t4", language=language("hi", "ur")),
        input=[pb.TextItem(source=HINDI)]), timeout=30)
    (out,) = answer.output
    assert out.source == HINDI and any("\u0600" <= ch <= "\u06ff" for ch in out.target)
    assert answer.task_type == "translation"


async def test_same_language_translation_needs_no_backend(dead_ulca):
    """sourceLanguage = targetLanguage returns the input without calling NMT (nothing runs behind this facade)."""
    stub, _channel = dead_ulca
    answer = await stub.ComputeTranslation(pb.ComputeTranslationRequest(
        config=pb.TaskConfig(language=language("hi-IN", "hi")), input=[pb.TextItem(source=HINDI)]), timeout=10)
    assert [(o.source, o.target) for o in answer.output] == [(HINDI, HINDI)]


async def test_long_audio_is_segmented_not_truncated(ulca):
    """40 s of audio (words at both ends, silence between) is recognized whole, though one Recognize takes 30 s."""
    stub, _channel = ulca
    first, last = speech("hello world"), speech("good morning")
    gap = np.zeros(int(RATE * 17), dtype=np.float32)
    clip = np.concatenate([first, gap, speech("thank you"), gap, last])
    assert clip.size / RATE > 30
    answer = await stub.ComputeAsr(pb.ComputeAsrRequest(
        config=pb.TaskConfig(language=language("en"), audio_format="wav"),
        audio=[pb.AudioItem(audio_content=wav_bytes(clip))]), timeout=120)
    (out,) = answer.output
    words = out.source.lower().split()
    # Both ends are there (a truncating or failing path loses the last): a word of each is enough,
    # as the reference recognizer adapts across calls and may slip on one word of a short phrase.
    assert {"hello", "world"} & set(words[:3]), out.source
    assert {"good", "morning"} & set(words[-3:]), out.source


async def test_short_audio_as_data_uri(ulca):
    """A data: audioUri is read like audioContent; a WAV's header wins over a disagreeing samplingRate."""
    stub, _channel = ulca
    uri = "data:audio/wav;base64," + base64.b64encode(wav_bytes(speech("hello world"))).decode()
    answer = await stub.ComputeAsr(pb.ComputeAsrRequest(
        config=pb.TaskConfig(language=language("en"), sampling_rate=44100), audio=[pb.AudioItem(audio_uri=uri)]),
        timeout=60)
    assert word_errors("hello world", answer.output[0].source) <= 1


async def test_tts_is_a_clean_wav_at_the_voice_rate(ulca):
    """TTS answers one whole WAV per input, at the rate config.samplingRate states, with speech in it."""
    stub, _channel = ulca
    answer = await stub.ComputeTts(pb.ComputeTtsRequest(
        config=pb.TaskConfig(language=language("hi"), gender="female"),
        input=[pb.TextItem(source=HINDI), pb.TextItem(source="नमस्ते")]), timeout=30)
    assert len(answer.audio) == 2 and answer.config.audio_format == "wav"
    for clip in answer.audio:
        with wave.open(io.BytesIO(clip.audio_content)) as reader:
            assert reader.getframerate() == answer.config.sampling_rate > 0
            frames = reader.readframes(reader.getnframes())
            assert len(frames) == reader.getnframes() * reader.getsampwidth() > 0


async def test_transliteration_gives_candidates(ulca):
    """en → hi word transliteration answers numSuggestions candidates per word, Devanagari."""
    stub, _channel = ulca
    answer = await stub.ComputeTransliteration(pb.ComputeTransliterationRequest(
        config=pb.TaskConfig(language=language("en", "hi")), input=[pb.TextItem(source="bharat")]), timeout=30)
    (out,) = answer.output
    assert out.source == "bharat" and out.target and any("\u0900" <= ch <= "\u097f" for ch in out.target[0])


async def test_models_pipeline_lists_what_is_served_and_the_compute_runs(ulca):
    """getModelsPipeline names our serviceIds with their real languages; those ids run the chain translation → tts."""
    stub, _channel = ulca
    config = await stub.GetModelsPipeline(pb.GetModelsPipelineRequest(pipeline_tasks=[
        pb.UlcaPipelineTask(task_type="translation", config=pb.TaskConfig(language=language("hi", "ur"))),
        pb.UlcaPipelineTask(task_type="tts", config=pb.TaskConfig(language=language("ur")))]), timeout=30)
    assert [(lang.source_language, list(lang.target_language_list)) for lang in config.languages] == [("hi", ["ur"])]
    translation, tts = config.pipeline_response_config
    assert translation.config and all(c.service_id.startswith("ai4vc/translation/") for c in translation.config)
    assert tts.config and all(c.language.source_language == "ur" for c in tts.config)
    endpoint = config.pipeline_inference_api_end_point
    assert endpoint.callback_url == "https://edge.example/services/inference/pipeline"
    assert endpoint.inference_api_key.name == "Authorization"
    answer = await stub.ComputePipeline(pb.ComputePipelineRequest(
        pipeline_tasks=[
            pb.UlcaPipelineTask(task_type="translation", config=pb.TaskConfig(
                service_id=translation.config[0].service_id, language=language("hi", "ur"))),
            pb.UlcaPipelineTask(task_type="tts", config=pb.TaskConfig(
                service_id=tts.config[0].service_id, language=language("ur")))],
        input_data=pb.PipelineInputData(input=[pb.TextItem(source=HINDI)])), timeout=60)
    first, second = answer.pipeline_response
    assert first.task_type == "translation" and first.output[0].source == HINDI
    assert second.task_type == "tts" and second.audio[0].audio_content[:4] == b"RIFF"


@pytest.mark.parametrize(
    ("call", "reason", "field"),
    [
        (lambda s: s.ComputeTranslation(pb.ComputeTranslationRequest(
            config=pb.TaskConfig(service_id="ai4bharat/nope", language=language("hi", "ur")),
            input=[pb.TextItem(source=HINDI)])), "UNKNOWN_SERVICE_ID", "config.serviceId"),
        (lambda s: s.ComputeTts(pb.ComputeTtsRequest(
            config=pb.TaskConfig(service_id="ai4vc/translation/x", language=language("hi")),
            input=[pb.TextItem(source=HINDI)])), "UNKNOWN_SERVICE_ID", "config.serviceId"),
        (lambda s: s.ComputeTranslation(pb.ComputeTranslationRequest(
            config=pb.TaskConfig(language=language("hi")), input=[pb.TextItem(source=HINDI)])),
         "FIELD_REQUIRED", "config.language.targetLanguage"),
        (lambda s: s.ComputeAsr(pb.ComputeAsrRequest(
            config=pb.TaskConfig(language=language("en")), audio=[pb.AudioItem(audio_uri="https://a.example/x.wav")])),
         "UNSUPPORTED_AUDIO_URI", "audio[0].audioUri"),
        (lambda s: s.ComputeAsr(pb.ComputeAsrRequest(
            config=pb.TaskConfig(language=language("en"), audio_format="aiff"),
            audio=[pb.AudioItem(audio_content=b"x")])),
         "UNSUPPORTED_ENCODING", "config.audioFormat"),
        (lambda s: s.ComputePipeline(pb.ComputePipelineRequest(
            pipeline_tasks=[pb.UlcaPipelineTask(task_type="tts"), pb.UlcaPipelineTask(task_type="translation")],
            input_data=pb.PipelineInputData(input=[pb.TextItem(source=HINDI)]))), "INVALID_PIPELINE",
         "pipelineTasks[1]"),
        (lambda s: s.ComputePipeline(pb.ComputePipelineRequest(
            pipeline_tasks=[pb.UlcaPipelineTask(task_type="ocr")])), "INVALID_PIPELINE", "pipelineTasks[0].taskType"),
    ],
    ids=["unknown-id", "id-of-other-task", "no-target", "http-uri", "bad-format", "chain-mismatch", "unknown-task"],
)
async def test_bad_input_names_the_ulca_field(dead_ulca, call, reason, field):
    """Bad input is INVALID_ARGUMENT with the reason and the ULCA field, decided before any downstream call."""
    stub, channel = dead_ulca
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(stub)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, violations = error_info(caught.value)
    assert info is not None and info.reason == reason and violations == [field]
    assert await health_status(channel) is not None


async def test_backends_down_is_unavailable(dead_ulca):
    """With NMT down a translation is UNAVAILABLE (BACKEND_UNAVAILABLE), never INTERNAL."""
    stub, _channel = dead_ulca
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ComputeTranslation(pb.ComputeTranslationRequest(
            config=pb.TaskConfig(language=language("hi", "ur")), input=[pb.TextItem(source=HINDI)]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(caught.value)[0].reason == "BACKEND_UNAVAILABLE"
