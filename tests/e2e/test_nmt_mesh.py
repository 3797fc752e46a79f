"""The whole mesh as `make up` runs it — Envoy, NMT, Triton, PostgreSQL, Redis — called the
way users call it: gRPC, REST/JSON and gRPC-Web through Envoy, and grpcurl."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg
import grpc
import pytest

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from deploy.local.mesh import Mesh, Ports
from deploy.local.parts import pid_alive
from tests.errors_util import error_info

pytestmark = pytest.mark.e2e
HINDI = "भारत एक विशाल देश है।"
GRPCURL = str(Path(sys.executable).parent / "grpcurl")


def rest(mesh: Mesh, method: str, path: str, body: object | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{mesh.ports.envoy}{path}", data=data, method=method,
                                     headers={"content-type": "application/json", "x-api-key": mesh.admin_key(),
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, {"raw": raw.decode(errors="replace")}


async def fetch_request(mesh: Mesh, request_id: str, timeout_s: float = 10) -> asyncpg.Record | None:
    conn = await asyncpg.connect(mesh.postgres.url)
    try:
        for _ in range(int(timeout_s / 0.1)):
            row = await conn.fetchrow("SELECT * FROM nmt_requests WHERE request_id = $1", request_id)
            if row is not None:
                return row
            await asyncio.sleep(0.1)
        return None
    finally:
        await conn.close()


def key_metadata(mesh: Mesh, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("x-api-key", mesh.admin_key()), *extra)


def test_grpcurl_lists_and_describes_the_api(mesh):
    """grpcurl, through Envoy with server reflection, lists every ai4vc service the mesh serves."""
    target = f"127.0.0.1:{mesh.ports.envoy}"
    listed = subprocess.run([GRPCURL, "-plaintext", target, "list"], capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert {"ai4vc.nmt.v1.NmtService", "ai4vc.tts.v1.TtsService", "ai4vc.auth.v1.AuthService"} <= set(
        listed.stdout.split())
    described = subprocess.run([GRPCURL, "-plaintext", target, "describe", "ai4vc.nmt.v1.NmtService"],
                               capture_output=True, text=True, timeout=30)
    assert "rpc TranslateText" in described.stdout


def test_grpcurl_translates(mesh):
    """The README's grpcurl call returns Urdu for Hindi."""
    body = json.dumps({"contents": [HINDI], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"})
    result = subprocess.run([GRPCURL, "-plaintext", "-H", f"x-api-key: {mesh.admin_key()}", "-d", body,
                             f"127.0.0.1:{mesh.ports.envoy}",
                             "ai4vc.nmt.v1.NmtService/TranslateText"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    text = json.loads(result.stdout)["translations"][0]["translated_text"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in text)


async def test_grpc_through_envoy_is_translated_and_recorded(mesh):
    """A gRPC call through Envoy is answered and its record lands in PostgreSQL with Envoy's request id."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        answer = await pb_grpc.NmtServiceStub(channel).TranslateText(
            pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi", target_language_code="ur"),
            timeout=15, metadata=key_metadata(mesh, ("x-request-id", "e2e-grpc-1")))
    assert any("\u0600" <= ch <= "\u06ff" for ch in answer.translations[0].translated_text)
    row = await fetch_request(mesh, "e2e-grpc-1")
    assert row is not None and row["source_language_code"] == "hi" and row["num_contents"] == 1


async def test_rest_translate_returns_json_and_is_recorded(mesh):
    """POST /v1/text:translate (REST, transcoded by Envoy) returns the Urdu translation as JSON."""
    status, body = await asyncio.to_thread(
        rest, mesh, "POST", "/v1/text:translate",
        {"contents": [HINDI], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}, {"x-request-id": "e2e-rest-1"})
    assert status == 200, body
    assert body["translations"][0]["model"] == "nmt"
    assert any("\u0600" <= ch <= "\u06ff" for ch in body["translations"][0]["translatedText"])
    assert await fetch_request(mesh, "e2e-rest-1") is not None


def test_rest_translate_carries_quality_signals(mesh):
    """REST translate carries coverage, and round-trip chrF when includeRoundTripChrf is set."""
    status, body = rest(mesh, "POST", "/v1/text:translate",
                        {"contents": [HINDI], "sourceLanguageCode": "hi", "targetLanguageCode": "ur",
                         "includeRoundTripChrf": True})
    assert status == 200, body
    signals = body["translations"][0]["signals"]
    assert 0.0 < signals["coverage"] <= 1.0
    assert 0.0 < signals["roundTripChrf"] <= 100.0 and signals["roundTripModel"] == "nmt"


def test_rest_transliterate_gives_ranked_candidates(mesh):
    """POST /v1/text:transliterate with topK 3 gives at least two distinct candidates, the dictionary
    spelling first."""
    status, body = rest(mesh, "POST", "/v1/text:transliterate",
                        {"contents": ["namaste duniya", "vanakkam"], "sourceLanguageCode": "hi-Latn",
                         "targetLanguageCode": "hi", "topK": 3})
    assert status == 200, body
    sentence = body["transliterations"][0]["candidates"]
    assert sentence[0] == "नमस्ते दुनिया" and 2 <= len(sentence) <= 3 and len(set(sentence)) == len(sentence)
    status, body = rest(mesh, "POST", "/v1/text:transliterate",
                        {"contents": ["vanakkam"], "sourceLanguageCode": "ta-Latn", "targetLanguageCode": "ta",
                         "isWordLevel": True, "topK": 3})
    assert status == 200, body
    words = body["transliterations"][0]["candidates"]
    assert words[0] == "வணக்கம்" and len(set(words)) == len(words) >= 2


def test_rest_discovery(mesh):
    """GET /v1/languagePairs reports exactly what the Triton model repository serves."""
    status, body = rest(mesh, "GET", "/v1/languagePairs")
    assert status == 200
    assert {(p["sourceLanguageCode"], p["targetLanguageCode"]) for p in body["languagePairs"]} == {
        ("hi", "ur"), ("ur", "hi")}


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ({"contents": [""], "targetLanguageCode": "ur"}, "FIELD_REQUIRED", "contents[0]"),
        ({"contents": ["नमस्ते"], "sourceLanguageCode": "hi", "targetLanguageCode": "ta"},
         "UNSUPPORTED_LANGUAGE_PAIR", "source_language_code"),
        ({"contents": ["क"] * 200, "targetLanguageCode": "ur"}, "TOO_MANY_CONTENTS", "contents"),
        ({"contents": ["क" * 6000], "targetLanguageCode": "ur"}, "CONTENT_TOO_LONG", "contents[0]"),
    ],
)
def test_rest_bad_input_is_400_with_json_error(mesh, body, reason, field):
    """Bad input over REST is HTTP 400 with a JSON google.rpc.Status naming reason and field; the mesh keeps serving."""
    status, answer = rest(mesh, "POST", "/v1/text:translate", body)
    assert status == 400, answer
    assert answer["code"] == 3
    info = next(d for d in answer["details"] if d["@type"].endswith("google.rpc.ErrorInfo"))
    assert info["reason"] == reason and info["metadata"]["field"] == field
    ok_status, _ = rest(mesh, "POST", "/v1/text:translate",
                        {"contents": ["नमस्ते"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"})
    assert ok_status == 200


def test_rest_malformed_json_is_400(mesh):
    """A body that is not JSON is refused with 400 at the edge, not passed on."""
    status, _ = rest(mesh, "POST", "/v1/text:translate", b"{not json")
    assert status == 400


async def test_grpc_bad_input_through_envoy_keeps_rich_status(mesh):
    """The rich error (ErrorInfo + BadRequest) survives the trip through Envoy for gRPC callers."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.NmtServiceStub(channel).TranslateText(
                pb.TranslateTextRequest(contents=["x"], source_language_code="hi", target_language_code="ta"),
                timeout=10, metadata=key_metadata(mesh))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, fields = error_info(caught.value)
    assert info.reason == "UNSUPPORTED_LANGUAGE_PAIR" and fields == ["source_language_code"]


async def test_forged_identity_headers_are_stripped_at_the_edge(mesh):
    """A client-sent x-ai4vc-principal never reaches the service: the record carries the principal
    the gateway authenticated, not the forged one."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        await pb_grpc.NmtServiceStub(channel).TranslateText(
            pb.TranslateTextRequest(contents=["नमस्ते"], source_language_code="hi", target_language_code="ur"),
            timeout=15, metadata=key_metadata(mesh, ("x-request-id", "e2e-forged-1"),
                                              ("x-ai4vc-principal", "mallory")))
    row = await fetch_request(mesh, "e2e-forged-1")
    assert row is not None and row["principal"] not in ("", "mallory")


def test_grpc_web_call(mesh):
    """A browser-style gRPC-Web request (HTTP/1.1) is answered through Envoy."""
    message = pb.TranslateTextRequest(contents=[HINDI], source_language_code="hi",
                                      target_language_code="ur").SerializeToString()
    frame = b"\x00" + struct.pack(">I", len(message)) + message
    request = urllib.request.Request(
        f"http://127.0.0.1:{mesh.ports.envoy}/ai4vc.nmt.v1.NmtService/TranslateText", data=frame, method="POST",
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-api-key": mesh.admin_key()})
    with urllib.request.urlopen(request, timeout=15) as answer:
        payload = answer.read()
    assert payload[0] == 0
    length = struct.unpack(">I", payload[1:5])[0]
    reply = pb.TranslateTextResponse.FromString(payload[5 : 5 + length])
    assert any("\u0600" <= ch <= "\u06ff" for ch in reply.translations[0].translated_text)
    assert b"grpc-status:0" in payload[5 + length:].replace(b" ", b"")


def test_down_leaves_no_process_behind(run_base):
    """`make down` (python -m deploy.local down) stops every process the mesh started."""
    run_dir = run_base / "updown"
    run_dir.mkdir()
    run_dir.chmod(0o755)
    mesh = Mesh(run_dir, Ports.free(), durable=False, free_metrics_ports=True)
    try:
        mesh.up()
        pids = [int(p.read_text()) for p in (run_dir / "pids").glob("*.pid")]
        pids.append(int((run_dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0]))
        assert len(pids) >= 5 and all(pid_alive(pid) for pid in pids)
    finally:
        result = subprocess.run([sys.executable, "-m", "deploy.local", "down"], capture_output=True, text=True,
                                env={**os.environ, "AI4VC_RUN_DIR": str(run_dir)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert not any(pid_alive(pid) for pid in pids)
    leftovers = subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
