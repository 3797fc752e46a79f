"""ASR, TTS, discovery, the pipeline and the browser WebSocket bridge through the real Envoy,
with real audio (eSpeak NG speech) — the way users call them."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import soundfile
import tritonclient.grpc as triton_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from websockets.asyncio.client import connect

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.audio.v1 import audio_pb2
from ai4vc.pipeline.v1 import pipeline_service_pb2 as pipe_pb
from ai4vc.pipeline.v1 import pipeline_service_pb2_grpc as pipe_grpc
from ai4vc.tts.v1 import tts_service_pb2 as tts_pb
from ai4vc.tts.v1 import tts_service_pb2_grpc as tts_grpc
from services.common.backends.records import SPOOL_HEALTH_NAME
from tests.audio_util import RATE, speech, word_errors
from tests.mesh_util import ws_tts

pytestmark = pytest.mark.e2e
SENTENCE = "good morning how are you today"


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def rest(mesh, method: str, path: str, body: object | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{mesh.ports.envoy}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": mesh.admin_key()})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def test_rest_recognize_wav(mesh):
    """POST /v1/speech:recognize with a base64 WAV returns the spoken sentence with word offsets."""
    buffer = io.BytesIO()
    soundfile.write(buffer, speech(SENTENCE), RATE, format="WAV", subtype="PCM_16")
    body = {"config": {"languageCode": "en", "enableWordTimeOffsets": True,
                       "audioConfig": {"encoding": "AUDIO_ENCODING_WAV", "sampleRateHertz": RATE}},
            "content": base64.b64encode(buffer.getvalue()).decode()}
    answer = rest(mesh, "POST", "/v1/speech:recognize", body)
    best = answer["results"][0]["alternatives"][0]
    assert word_errors(SENTENCE, best["transcript"]) / len(SENTENCE.split()) <= 0.5
    assert best["words"] and best["words"][0]["word"]


def test_rest_recognize_with_speech_contexts(mesh):
    """speechContexts travel over REST through Envoy to the model (which reports back the phrase it
    cannot know as a warning), bad ones are HTTP 400 naming the field, and ListModels says the
    models boost. That boosting changes the text is pinned in tests/service (same path, no Envoy)."""
    content = base64.b64encode(pcm16(speech("my uncle lives near the ganges river"))).decode()
    audio_config = {"encoding": "AUDIO_ENCODING_LINEAR16", "sampleRateHertz": RATE}
    plain = rest(mesh, "POST", "/v1/speech:recognize",
                 {"config": {"languageCode": "en", "audioConfig": audio_config}, "content": content})
    boosted = rest(mesh, "POST", "/v1/speech:recognize", {"config": {
        "languageCode": "en", "audioConfig": audio_config,
        "speechContexts": [{"phrases": ["ganges river", "xyzzyq"], "boost": 20}]}, "content": content})
    assert plain["results"] and boosted["results"]
    assert not plain.get("warnings")  # the transcoder prints empty lists too
    assert [(w["reason"], w["field"]) for w in boosted["warnings"]] == [
        ("PHRASE_IGNORED", "config.speech_contexts[0].phrases[1]")]
    with pytest.raises(urllib.error.HTTPError) as caught:
        rest(mesh, "POST", "/v1/speech:recognize", {"config": {
            "languageCode": "en", "audioConfig": audio_config,
            "speechContexts": [{"phrases": ["ganges river"], "boost": 21}]}, "content": content})
    assert caught.value.code == 400
    body = json.loads(caught.value.read())
    assert any(d.get("reason") == "FIELD_OUT_OF_RANGE" and d["metadata"]["field"] == "config.speech_contexts[0].boost"
               for d in body["details"]), body
    models = rest(mesh, "GET", "/v1/models")["models"]
    assert all(m["supportsWordBoosting"] for m in models)


async def test_grpc_streaming_recognize_through_envoy(mesh):
    """StreamingRecognize through Envoy: interim results while audio flows, then the final."""
    audio = pcm16(speech(SENTENCE))
    chunk = RATE // 10 * 2  # 100 ms of 16-bit samples

    async def requests():
        config = asr_pb.RecognitionConfig(language_code="en", audio_config=audio_pb2.AudioConfig(
            encoding=audio_pb2.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=RATE))
        yield asr_pb.StreamingRecognizeRequest(streaming_config=asr_pb.StreamingRecognitionConfig(
            config=config, interim_results=True))
        for start in range(0, len(audio), chunk):
            yield asr_pb.StreamingRecognizeRequest(audio=audio[start:start + chunk])
            await asyncio.sleep(0.02)

    interim, final = [], []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        call = asr_grpc.AsrServiceStub(channel).StreamingRecognize(
            requests(), metadata=(("x-api-key", mesh.admin_key()),), timeout=120)
        async for response in call:
            for result in response.results:
                (final if result.is_final else interim).append(result.alternatives[0].transcript)
    assert interim, "no interim result before the final"
    transcript = " ".join(final)
    assert word_errors(SENTENCE, transcript) / len(SENTENCE.split()) <= 0.5, transcript


async def test_streaming_synthesize_through_envoy(mesh):
    """StreamingSynthesize through Envoy yields several audio chunks of Hindi speech."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        call = tts_grpc.TtsServiceStub(channel).StreamingSynthesize(
            tts_pb.StreamingSynthesizeRequest(
                input=tts_pb.SynthesisInput(text="भारत एक विशाल देश है। यहाँ अनेक भाषाएँ बोली जाती हैं।"),
                voice=tts_pb.VoiceSelectionParams(name="hi-female"),
                audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16)),
            metadata=(("x-api-key", mesh.admin_key()),), timeout=60)
        chunks = [response.audio_content async for response in call if response.audio_content]
    assert len(chunks) > 3
    samples = np.frombuffer(b"".join(chunks), dtype="<i2")
    assert samples.size / 22050 > 1.0 and np.abs(samples).max() > 1000


async def test_32_concurrent_synthesis_streams_are_all_served(mesh):
    """Rounds of 32 StreamingSynthesize calls at once through Envoy are all served: the busy TTS
    process stays healthy in Envoy (its health checks once timed out and every call then got
    UNAVAILABLE "no healthy upstream")."""
    request = tts_pb.StreamingSynthesizeRequest(
        input=tts_pb.SynthesisInput(text="The quick brown fox jumps over the lazy dog while the children play "
                                         "happily in the green park every day. Dr. Smith waited for 25 minutes."),
        voice=tts_pb.VoiceSelectionParams(name="en-female"),
        audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_LINEAR16))

    async def one(stub: tts_grpc.TtsServiceStub) -> int:
        call = stub.StreamingSynthesize(request, metadata=(("x-api-key", mesh.admin_key()),), timeout=120)
        return sum([len(response.audio_content) async for response in call])

    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        stub = tts_grpc.TtsServiceStub(channel)
        for _ in range(3):
            got = await asyncio.gather(*(one(stub) for _ in range(32)), return_exceptions=True)
            failed = [(g.code().name, g.details()) if isinstance(g, grpc.aio.AioRpcError) else repr(g)
                      for g in got if not isinstance(g, int)]
            assert failed == [], failed[:3]
            assert all(size / 2 / 22050 > 4.0 for size in got), sorted(got)[:3]


def test_discovery_reports_exactly_what_triton_serves(mesh):
    """ListModels, ListVoices and ListLanguagePairs through Envoy match the Triton repository."""
    client = triton_grpc.InferenceServerClient(mesh.triton.url)
    def declared(model: str, key: str) -> set[str]:
        config = client.get_model_config(model, as_json=True)["config"]
        return set(config["parameters"][key]["string_value"].split(","))

    models = rest(mesh, "GET", "/v1/models?pageSize=100")["models"]
    assert {m["name"] for m in models} == {"asr_am_ensemble", "asr_streaming"}
    voices = rest(mesh, "GET", "/v1/voices?pageSize=1000")["voices"]
    assert {v["name"] for v in voices} == declared("tts", "voices") | declared("tts_streaming", "voices")
    pairs = rest(mesh, "GET", "/v1/languagePairs")["languagePairs"]
    assert {f"{p['sourceLanguageCode']}-{p['targetLanguageCode']}" for p in pairs} == declared("nmt", "language_pairs")


async def test_pipeline_text_to_translated_speech_through_envoy(mesh):
    """RunPipeline through Envoy: Hindi text → Urdu translation → Urdu speech."""
    request = pipe_pb.RunPipelineRequest(
        tasks=[pipe_pb.PipelineTask(translation=pipe_pb.TranslationConfig(source_language_code="hi",
                                                                             target_language_code="ur")),
               pipe_pb.PipelineTask(tts=pipe_pb.SynthesisConfig(
                   voice=tts_pb.VoiceSelectionParams(language_code="ur", name="ur-male"),
                   audio_config=tts_pb.AudioOutputConfig(encoding=audio_pb2.AUDIO_ENCODING_WAV)))],
        input=pipe_pb.PipelineInput(text=pipe_pb.TextInput(text="भारत एक विशाल देश है।", language_code="hi")))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await pipe_grpc.PipelineServiceStub(channel).RunPipeline(
            request, metadata=(("x-api-key", mesh.admin_key()),), timeout=60)
    assert any("\u0600" <= ch <= "\u06ff" for ch in answer.outputs[0].translation.translated_text)
    assert len(answer.outputs[1].audio.audio_content) > 10_000


async def test_browser_websocket_tts_with_subprotocol_credential(mesh):
    """A browser-style WebSocket (credential offered as a sub-protocol) speaks text through Envoy."""
    audio = await ws_tts(f"ws://127.0.0.1:{mesh.ports.envoy}/v1/ws/tts", f"ai4vc-key.{mesh.admin_key()}",
                         "नमस्ते, आप कैसे हैं?")
    assert len(audio) > 22050  # more than half a second of 16-bit audio


async def test_browser_websocket_without_credential_is_refused(mesh):
    """A WebSocket upgrade with no credential never reaches the bridge: 401 at the edge."""
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"ws://127.0.0.1:{mesh.ports.envoy}/v1/ws/asr"):
            pass
    assert refused.value.response.status_code == 401


def test_inference_services_report_their_record_spool_in_health(mesh):
    """Each inference service started by the launcher answers a health check for its record spool
    (`ai4vc.records.Spool`, NOT_SERVING while the spool disk cannot be written): serve() binds it."""
    checked = set()
    for service in mesh.services:
        if service.name not in {"asr", "tts", "nmt"}:
            continue
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SPOOL_HEALTH_NAME), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, service.name
        checked.add(service.name)
    assert checked == {"asr", "tts", "nmt"}
