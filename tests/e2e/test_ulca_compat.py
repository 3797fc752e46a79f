"""Bhashini / ULCA / Dhruva clients through the real Envoy: request bodies in Dhruva-Schema's
published shapes (tests/e2e/ulca_examples/) replayed unchanged with the raw key in
`Authorization`, Bhashini's two-step flow (getModelsPipeline, then the callbackUrl), and
refusals in Dhruva's error shape on these paths only."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import urllib.error
import urllib.request
import wave
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from tests.audio_util import RATE, speech

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).parent / "ulca_examples"
URDU = ("\u0600", "\u06ff")


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def post(mesh, path: str, body: object, headers: dict[str, str]) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{mesh.ports.envoy}{path}", data=data, method="POST",
                                     headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, {"raw": raw.decode(errors="replace")}


async def create_key(mesh, scopes: list[str]) -> str:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await auth_grpc.AuthServiceStub(channel).CreateApiKey(
            auth_pb.CreateApiKeyRequest(display_name="ulca-e2e", scopes=scopes), timeout=10,
            metadata=(("x-api-key", mesh.admin_key()),))
    return answer.key


def urdu(text: str) -> bool:
    return any(URDU[0] <= ch <= URDU[1] for ch in text)


def wav_of(data: bytes) -> tuple[int, np.ndarray]:
    """(sample rate, samples) of a WAV file; fails on anything that is not a whole, valid one."""
    with wave.open(io.BytesIO(data)) as reader:
        rate, frames = reader.getframerate(), reader.readframes(reader.getnframes())
        assert reader.getsampwidth() == 2 and reader.getnchannels() == 1
        # Nothing after the data chunk, nothing missing from it.
        assert len(frames) == reader.getnframes() * 2
    return rate, np.frombuffer(frames, "<i2").astype(np.float32) / 32768.0


def test_dhruva_curl_to_translation_returns_output_target(mesh):
    """The README's curl (raw key in Authorization, Dhruva's body) answers output[].target in Urdu, source echoed."""
    body = example("translation")
    done = subprocess.run(
        ["curl", "-sS", "-i", "-X", "POST", f"http://127.0.0.1:{mesh.ports.envoy}/services/inference/translation",
         "-H", "Content-Type: application/json", "-H", f"Authorization: {mesh.admin_key()}",
         "--data-binary", json.dumps(body)], capture_output=True, timeout=60, check=True)
    head, _, payload = done.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), done.stdout[:2000]
    answer = json.loads(payload)
    assert answer["taskType"] == "translation"
    assert [o["source"] for o in answer["output"]] == [i["source"] for i in body["input"]]
    assert all(urdu(o["target"]) for o in answer["output"])


def test_translation_into_its_own_language_returns_the_input(mesh):
    """sourceLanguage = targetLanguage short-circuits: output[].target is the input, unchanged."""
    body = example("translation")
    body["config"]["language"]["targetLanguage"] = "hi"
    status, answer = post(mesh, "/services/inference/translation", body, {"authorization": mesh.admin_key()})
    assert status == 200
    assert [o["target"] for o in answer["output"]] == [i["source"] for i in body["input"]]


def test_transliteration_example(mesh):
    """Dhruva's transliteration body (en → hi, sentence) answers Devanagari candidates in output[].target."""
    status, answer = post(mesh, "/services/inference/transliteration", example("transliteration"),
                          {"authorization": mesh.admin_key()})
    assert status == 200, answer
    (out,) = answer["output"]
    assert out["source"] == "namaste bharat"
    assert out["target"] and any("\u0900" <= ch <= "\u097f" for ch in out["target"][0])


def test_tts_example_answers_a_clean_wav_at_the_stated_rate(mesh):
    """Dhruva's tts body answers a whole mono 16-bit WAV at the rate config.samplingRate says, with speech in it."""
    status, answer = post(mesh, "/services/inference/tts", example("tts"), {"authorization": mesh.admin_key()})
    assert status == 200, answer
    (clip,) = answer["audio"]
    rate, samples = wav_of(base64.b64decode(clip["audioContent"]))
    assert rate == answer["config"]["samplingRate"] and answer["config"]["audioFormat"] == "wav"
    assert samples.size > rate // 2 and float(np.sqrt(np.mean(samples ** 2))) > 0.01
    # No clipping and no DC offset: the float samples were scaled, not wrapped.
    assert float(np.mean(np.abs(samples) > 0.999)) < 0.001 and abs(float(np.mean(samples))) < 0.01


def test_asr_example_with_a_wav_recognizes_speech(mesh):
    """Dhruva's asr body (a WAV whose header, not samplingRate 44100, gives its rate) answers the words."""
    wav = io.BytesIO()
    sf.write(wav, speech("hello world"), RATE, format="WAV", subtype="PCM_16")
    body = json.loads(json.dumps(example("asr")).replace("<WAV>", base64.b64encode(wav.getvalue()).decode()))
    status, answer = post(mesh, "/services/inference/asr", body, {"authorization": mesh.admin_key()})
    assert status == 200, answer
    assert answer["taskType"] == "asr"
    (out,) = answer["output"]
    assert {"hello", "world"} & set(out["source"].lower().split())


async def test_two_step_flow_config_then_compute(mesh):
    """getModelsPipeline answers the served serviceIds and languages, a callbackUrl and the caller's own key as
    inferenceApiKey; the compute call sent there with that header runs translation then TTS."""
    key = await create_key(mesh, ["pipeline"])
    status, config = await asyncio.to_thread(post, mesh, "/ulca/apis/v0/model/getModelsPipeline",
                                             example("pipeline_config"), {"authorization": key})
    assert status == 200, config
    endpoint = config["pipelineInferenceAPIEndPoint"]
    assert endpoint["inferenceApiKey"] == {"name": "Authorization", "value": key}
    assert endpoint["callbackUrl"] == f"http://127.0.0.1:{mesh.ports.envoy}/services/inference/pipeline"
    assert {"sourceLanguage": "hi", "targetLanguageList": ["ur"]} in config["languages"]
    translation, tts = config["pipelineResponseConfig"]
    assert translation["taskType"] == "translation" and tts["taskType"] == "tts"
    pair = translation["config"][0]
    assert pair["language"]["sourceLanguage"] == "hi" and pair["language"]["targetLanguage"] == "ur"
    assert all(c["language"]["sourceLanguage"] == "ur" for c in tts["config"]) and tts["config"]

    body = example("pipeline_compute")
    body["pipelineTasks"][0]["config"]["serviceId"] = pair["serviceId"]
    body["pipelineTasks"][1]["config"]["serviceId"] = tts["config"][0]["serviceId"]
    url = endpoint["callbackUrl"].removeprefix(f"http://127.0.0.1:{mesh.ports.envoy}")
    header = endpoint["inferenceApiKey"]
    status, answer = await asyncio.to_thread(post, mesh, url, body, {header["name"]: header["value"]})
    assert status == 200, answer
    translated, spoken = answer["pipelineResponse"]
    assert translated["taskType"] == "translation" and urdu(translated["output"][0]["target"])
    rate, samples = wav_of(base64.b64decode(spoken["audio"][0]["audioContent"]))
    assert rate == spoken["config"]["samplingRate"] and samples.size > 0


async def test_config_call_echoes_a_bearer_token_too(mesh):
    """A user signed in with a token gets that same "Bearer <token>" as inferenceApiKey.value."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        stub = auth_grpc.AuthServiceStub(channel)
        await stub.CreateUser(auth_pb.CreateUserRequest(username="ulca-user", password="correct horse battery",
                                                        scopes=["nmt"]),
                              timeout=10, metadata=(("x-api-key", mesh.admin_key()),))
        login = await stub.Login(auth_pb.LoginRequest(username="ulca-user", password="correct horse battery"),
                                 timeout=10)
    bearer = f"Bearer {login.access_token}"
    status, config = await asyncio.to_thread(post, mesh, "/ulca/apis/v0/model/getModelsPipeline",
                                             example("pipeline_config"), {"authorization": bearer})
    assert status == 200, config
    assert config["pipelineInferenceAPIEndPoint"]["inferenceApiKey"]["value"] == bearer
    status, answer = await asyncio.to_thread(post, mesh, "/services/inference/translation", example("translation"),
                                             {"authorization": bearer})
    assert status == 200 and urdu(answer["output"][0]["target"])


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"authorization": "ai4vc_00_00"}, 401), ({"authorization": "Basic dXNlcjpwYXNz"}, 401),
     ({"authorization": "not-a-key"}, 401)],
    ids=["none", "unknown-key", "basic", "garbage"],
)
def test_bad_credentials_are_refused_in_dhruva_shape(mesh, headers, status):
    """No key, an unknown key, a Basic header or garbage in Authorization: 401 as {"detail": {kind, message}}."""
    code, answer = post(mesh, "/services/inference/translation", example("translation"), headers)
    assert code == status
    assert set(answer) == {"detail"} and answer["detail"]["kind"] == "UNAUTHENTICATED" and answer["detail"]["message"]


async def test_wrong_scope_is_403_in_dhruva_shape(mesh):
    """A key without the nmt scope gets 403 {"detail": {"kind": "PERMISSION_DENIED"}} for translation; tts works."""
    key = await create_key(mesh, ["tts"])
    code, answer = await asyncio.to_thread(post, mesh, "/services/inference/translation", example("translation"),
                                           {"authorization": key})
    assert code == 403 and answer["detail"]["kind"] == "PERMISSION_DENIED"
    code, _ = await asyncio.to_thread(post, mesh, "/services/inference/tts", example("tts"), {"authorization": key})
    assert code == 200


@pytest.mark.parametrize(
    ("path", "change", "kind", "field"),
    [
        ("translation", lambda b: b["config"].update(serviceId="ai4bharat/no-such-model"), "UNKNOWN_SERVICE_ID",
         "config.serviceId"),
        ("translation", lambda b: b["config"].update(serviceId="ai4bharat/conformer-hi-gpu--t4"),
         "UNKNOWN_SERVICE_ID", "config.serviceId"),
        ("translation", lambda b: b.update(input=[]), "FIELD_REQUIRED", "input"),
        # NMT names the source of a pair it does not serve; the facade moves it onto ULCA's name.
        ("translation", lambda b: b["config"]["language"].update(targetLanguage="ta"), "UNSUPPORTED_LANGUAGE_PAIR",
         "config.language.sourceLanguage"),
        ("asr", lambda b: b["audio"][0].update(audioContent="", audioUri="http://169.254.169.254/latest"),
         "UNSUPPORTED_AUDIO_URI", "audio[0].audioUri"),
        ("asr", lambda b: b["audio"][0].update(audioContent=base64.b64encode(b"not audio").decode()),
         "AUDIO_UNDECODABLE", "audio[0].audioContent"),
        ("tts", lambda b: b["config"].update(gender="robot"), "FIELD_OUT_OF_RANGE", "config.gender"),
    ],
    ids=["unknown-service", "service-of-another-task", "no-input", "unserved-pair", "http-uri", "not-audio",
         "bad-gender"],
)
def test_bad_input_is_400_in_dhruva_shape_naming_the_field(mesh, path, change, kind, field):
    """Bad input is 400 {"detail": {"kind": <reason>, "message", "field": <ULCA field>}}; the facade keeps serving."""
    body = json.loads(json.dumps(example(path)).replace("<WAV>", ""))
    change(body)
    code, answer = post(mesh, f"/services/inference/{path}", body, {"authorization": mesh.admin_key()})
    assert code == 400, answer
    assert answer["detail"]["kind"] == kind and answer["detail"]["field"] == field and answer["detail"]["message"]
    code, _ = post(mesh, "/services/inference/translation", example("translation"), {"authorization": mesh.admin_key()})
    assert code == 200


def test_service_id_in_the_query_string_as_dhruva_urls_carry_it(mesh):
    """?serviceId= on the URL selects the service like config.serviceId; an unknown one is UNKNOWN_SERVICE_ID."""
    body = example("translation")
    del body["config"]["serviceId"]
    path = "/services/inference/translation?serviceId="
    code, answer = post(mesh, path + "ai4bharat/indictrans-v2-all-gpu--t4", body, {"authorization": mesh.admin_key()})
    assert code == 200 and urdu(answer["output"][0]["target"])
    code, answer = post(mesh, path + "ai4bharat/nope", body, {"authorization": mesh.admin_key()})
    assert code == 400 and answer["detail"]["kind"] == "UNKNOWN_SERVICE_ID"


def test_malformed_json_and_unknown_paths_in_dhruva_shape_other_paths_unchanged(mesh):
    """Broken JSON on a Dhruva path is 400 in Dhruva's shape and an unknown one 404 so; /v1/ keeps google.rpc.Status."""
    code, answer = post(mesh, "/services/inference/translation", b'{"config": ', {"authorization": mesh.admin_key()})
    assert code == 400 and answer["detail"]["kind"] == "MALFORMED_MESSAGE"
    code, answer = post(mesh, "/services/inference/ocr", example("translation"), {"authorization": mesh.admin_key()})
    assert code == 404 and answer["detail"]["kind"] == "NOT_FOUND"
    code, answer = post(mesh, "/v1/text:translate", {"contents": []}, {"x-api-key": mesh.admin_key()})
    assert code == 400 and answer["code"] == 3 and "detail" not in answer
