"""Auto-decoding through the real Envoy: a container file with no audio_config (REST and gRPC
streaming with the WAV header in the first chunk, as Riva clients send) is recognized, and
headerless audio or a config that contradicts the header is a 400 / INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request

import grpc
import pytest

from ai4vc.asr.v1 import asr_service_pb2 as asr_pb
from ai4vc.asr.v1 import asr_service_pb2_grpc as asr_grpc
from ai4vc.audio.v1 import audio_pb2
from services.common import audio
from tests.audio_util import container_files, speech, word_errors
from tests.errors_util import error_info

pytestmark = pytest.mark.e2e
SENTENCE = "good morning how are you today"


def recognize(mesh, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{mesh.ports.envoy}/v1/speech:recognize", method="POST", data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": mesh.admin_key()})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def wer(transcript: str) -> float:
    return word_errors(SENTENCE, transcript) / len(SENTENCE.split())


def test_rest_recognize_base64_wav_and_webm_without_audio_config(mesh):
    """POST /v1/speech:recognize with only languageCode and a base64 WAV (or WebM) gives the sentence."""
    files = container_files(speech(SENTENCE))
    for kind in ("wav", "webm_opus"):
        status, answer = recognize(mesh, {"config": {"languageCode": "en"},
                                          "content": base64.b64encode(files[kind]).decode()})
        assert status == 200, answer
        assert wer(answer["results"][0]["alternatives"][0]["transcript"]) <= 0.5, kind


@pytest.mark.parametrize(("case", "reason", "field"), [
    ("raw_without_config", "FIELD_REQUIRED", "config.audio_config.encoding"),
    ("flac_declared_wav_sent", "ENCODING_MISMATCH", "config.audio_config.encoding"),
    ("8k_declared_16k_sent", "SAMPLE_RATE_MISMATCH", "config.audio_config.sample_rate_hertz"),
])
def test_rest_headerless_or_contradicted_audio_is_400_naming_the_field(mesh, case, reason, field):
    """Raw PCM with no config, or a config the WAV header contradicts, is 400 with the reason and the field."""
    samples = speech("hello world")
    content, config = container_files(samples)["wav"], {"languageCode": "en"}
    if case == "raw_without_config":
        content = audio.to_pcm16(samples).tobytes()
    elif case == "flac_declared_wav_sent":
        config["audioConfig"] = {"encoding": "AUDIO_ENCODING_FLAC"}
    else:
        config["audioConfig"] = {"sampleRateHertz": 8000}
    status, answer = recognize(mesh, {"config": config, "content": base64.b64encode(content).decode()})
    assert status == 400 and answer["code"] == 3, answer
    info = next(d for d in answer["details"] if d.get("reason"))
    assert info["reason"] == reason and info["metadata"]["field"] == field


async def test_grpc_streaming_with_the_wav_header_in_the_first_chunk(mesh):
    """StreamingRecognize through Envoy, no audio_config, a WAV file in 100 ms chunks: the header is read, a final."""
    wav = container_files(speech(SENTENCE))["wav"]
    step = 3200

    async def requests():
        yield asr_pb.StreamingRecognizeRequest(streaming_config=asr_pb.StreamingRecognitionConfig(
            config=asr_pb.RecognitionConfig(language_code="en"), interim_results=True))
        for start in range(0, len(wav), step):
            yield asr_pb.StreamingRecognizeRequest(audio=wav[start:start + step])
            await asyncio.sleep(0.01)

    final = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        call = asr_grpc.AsrServiceStub(channel).StreamingRecognize(
            requests(), metadata=(("x-api-key", mesh.admin_key()),), timeout=120)
        async for response in call:
            final += [r.alternatives[0].transcript for r in response.results if r.is_final]
    assert final and wer(" ".join(final)) <= 0.5


async def test_grpc_streaming_raw_audio_without_config_is_invalid_argument(mesh):
    """A stream of headerless PCM with no audio_config ends INVALID_ARGUMENT naming the encoding field."""
    pcm = audio.to_pcm16(speech("hello world")).tobytes()

    async def requests():
        yield asr_pb.StreamingRecognizeRequest(streaming_config=asr_pb.StreamingRecognitionConfig(
            config=asr_pb.RecognitionConfig(language_code="en", audio_config=audio_pb2.AudioConfig())))
        yield asr_pb.StreamingRecognizeRequest(audio=pcm[:3200])  # one chunk: the server answers after it

    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        call = asr_grpc.AsrServiceStub(channel).StreamingRecognize(
            requests(), metadata=(("x-api-key", mesh.admin_key()),), timeout=60)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _response in call:
                pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, _fields = error_info(caught.value)
    assert info is not None and info.reason == "FIELD_REQUIRED"
    assert info.metadata["field"] == "streaming_config.config.audio_config.encoding"
