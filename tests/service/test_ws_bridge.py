"""The WebSocket bridge in-process in front of the real TTS and ASR services (production factories
and interceptors, real Triton and PostgreSQL), driven by a `websockets` client as a browser
would drive it."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import urllib.error
import urllib.request

import asyncpg
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.ws.bridge import WsBridgeSettings
from gateway.ws.bridge import running as bridge_running
from services.tts import app as tts_app
from services.tts.settings import TtsSettings
from tests.service.harness import running

HINDI = "भारत एक विशाल देश है। इसकी राजधानी नई दिल्ली है।"
TTS_CONFIG = {"config": {"voice": {"name": "hi-female"}, "audioConfig": {"encoding": "AUDIO_ENCODING_LINEAR16"}}}
IDENTITY = {"x-ai4vc-principal": "user:ws-tester", "x-ai4vc-key-id": "k-ws", "x-ai4vc-scopes": "tts",
            "x-request-id": "ws-req-1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
HAS_ASR = importlib.util.find_spec("services.asr") is not None and importlib.util.find_spec("services.asr.app")


@pytest.fixture
def tts_settings(triton, pg_schema, tmp_path) -> TtsSettings:
    url, schema = pg_schema
    return TtsSettings(port=0, metrics_port=-1, triton_url=triton.url, database_url=url, database_schema=schema,
                       spool_dir=str(tmp_path / "spool"), log_json=False)


def bridge_settings(**targets: str) -> WsBridgeSettings:
    # Unused targets point at a closed port: nothing in those tests dials them.
    defaults = {"asr_target": "127.0.0.1:9", "tts_target": "127.0.0.1:9", "pipeline_target": "127.0.0.1:9"}
    return WsBridgeSettings(port=0, log_json=False, grace_period_s=1.0, **{**defaults, **targets})


async def session(port: int, path: str, frames: list, headers: dict | None = None) -> tuple[list, int | None]:
    """Sends `frames` (dicts as JSON text, str as raw text, bytes as binary), then reads until the bridge closes:
    (frames received, dicts for JSON text; close code)."""
    async with connect(f"ws://127.0.0.1:{port}{path}", additional_headers=headers or {}, max_size=None) as ws:
        for frame in frames:
            try:
                await ws.send(json.dumps(frame, ensure_ascii=False) if isinstance(frame, dict) else frame)
            except ConnectionClosed:
                break  # the bridge refused an earlier frame: its error frame is waiting
        received: list = []
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed:
                break
            received.append(frame if isinstance(frame, bytes) else json.loads(frame))
        return received, ws.close_code


async def row(settings: TtsSettings, request_id: str) -> asyncpg.Record | None:
    """The call's record, or None while it is not written (the sink migrates on first connect)."""
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        return await conn.fetchrow("SELECT * FROM tts_requests WHERE request_id = $1", request_id)
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


async def test_tts_over_websocket_streams_audio_then_done_with_the_callers_identity(tts_settings):
    """Text frames come back as binary LINEAR16 audio, a metadata frame and {"event": "done"}, close 1000;
    the upgrade request's principal and request id reach the service (its tts_requests record)."""
    async with running(tts_settings, tts_app.create) as (app, handle, _channel):
        async with bridge_running(bridge_settings(tts_target=f"127.0.0.1:{handle.port}")) as (_bridge, port):
            received, code = await session(port, "/v1/ws/tts", [TTS_CONFIG, {"text": HINDI[:20]},
                                                                {"text": HINDI[20:]}, {"event": "end"}],
                                           headers=IDENTITY)
        assert await app.records.drain(10)
    audio = b"".join(f for f in received if isinstance(f, bytes))
    samples = np.frombuffer(audio, "<i2").astype(np.float32) / 32768.0
    assert code == 1000 and received[-1] == {"event": "done"}
    assert any(isinstance(f, dict) and f.get("voiceName") == "hi-female" for f in received)
    assert samples.size / 22050 > 1.5 and float(np.sqrt(np.mean(samples**2))) > 0.01
    record = await row(tts_settings, "ws-req-1")
    assert record["principal"] == "user:ws-tester" and record["method"] == "BidiStreamingSynthesize"
    assert record["status"] == "OK"


@pytest.mark.parametrize(("first", "reason"), [
    ("not json", "INVALID_JSON"),
    (b"\x00\x01", "STREAM_CONFIG_MISSING"),
    ({"text": "नमस्ते"}, "STREAM_CONFIG_MISSING"),
    ({"config": {"voice": {"name": "hi-female"}, "bogusField": 1}}, "INVALID_CONFIG"),
    ({"config": {"voice": {}}, "extra": True}, "STREAM_CONFIG_MISSING"),
])
async def test_bad_first_frame_gets_an_error_frame_and_close_1008(first, reason):
    """A first frame that is not {"config": <valid config>} gets an INVALID_ARGUMENT error frame, then 1008."""
    async with bridge_running(bridge_settings()) as (_bridge, port):
        received, code = await session(port, "/v1/ws/tts", [first])
    assert code == 1008 and len(received) == 1
    error = received[0]["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["details"][0]["@type"].endswith("google.rpc.ErrorInfo") and error["details"][0]["reason"] == reason


async def test_service_error_is_relayed_with_its_details_and_close_1008(tts_settings):
    """An unknown voice is the service's INVALID_ARGUMENT, relayed with its ErrorInfo; a frame that breaks
    the protocol mid-stream (binary on /v1/ws/tts) is the bridge's, and cancels the call."""
    async with running(tts_settings, tts_app.create) as (_app, handle, _channel):
        async with bridge_running(bridge_settings(tts_target=f"127.0.0.1:{handle.port}")) as (_bridge, port):
            bad_voice = {"config": {"voice": {"name": "no-such-voice"},
                                    "audioConfig": {"encoding": "AUDIO_ENCODING_LINEAR16"}}}
            received, code = await session(port, "/v1/ws/tts", [bad_voice, {"text": "नमस्ते।"}, {"event": "end"}])
            binary, binary_code = await session(port, "/v1/ws/tts", [TTS_CONFIG, b"\x00" * 10])
    error = received[-1]["error"]
    assert code == 1008 and error["code"] == "INVALID_ARGUMENT"
    assert error["details"][0]["domain"] == "ai4vc" and error["details"][0]["reason"]
    assert binary_code == 1008 and binary[-1]["error"]["details"][0]["reason"] == "UNEXPECTED_FRAME"


async def test_closing_the_socket_cancels_the_grpc_call(tts_settings):
    """A client that goes away mid-stream cancels the TTS call: its record says CANCELLED."""
    async with running(tts_settings, tts_app.create) as (app, handle, _channel):
        async with bridge_running(bridge_settings(tts_target=f"127.0.0.1:{handle.port}")) as (_bridge, port):
            async with connect(f"ws://127.0.0.1:{port}/v1/ws/tts",
                               additional_headers={"x-request-id": "ws-cancel-1"}) as ws:
                await ws.send(json.dumps(TTS_CONFIG))
                await ws.send(json.dumps({"text": "नमस्ते। यह वाक्य अभी पूरा नहीं"}, ensure_ascii=False))
                while not isinstance(await ws.recv(), bytes):
                    pass  # the first sentence's audio: the call is live
            # leaving the block closed the socket with the call still open
            for _ in range(100):
                if await app.records.drain(1) and await row(tts_settings, "ws-cancel-1"):
                    break
                await asyncio.sleep(0.1)
    assert (await row(tts_settings, "ws-cancel-1"))["status"] == "CANCELLED"


async def test_healthz_and_unknown_paths_answer_over_plain_http():
    """GET /healthz is 200 for Envoy's HTTP health check; a path with no endpoint is 404."""
    async with bridge_running(bridge_settings()) as (_bridge, port):
        ok = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5))
        with pytest.raises(urllib.error.HTTPError) as missing:
            await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/ws/nope", timeout=5))
    assert ok.status == 200 and missing.value.code == 404


@pytest.mark.skipif(not HAS_ASR, reason="services.asr is not in this tree yet (written concurrently)")
async def test_asr_over_websocket_gives_a_final_transcript(triton, pg_schema, tmp_path):
    """100 ms binary LINEAR16 frames of English speech give a final transcript frame, then done and 1000;
    a frame above 32 KB is refused with AUDIO_CHUNK_TOO_LARGE and 1008."""
    from services.asr import app as asr_app
    from services.asr.settings import AsrSettings
    from services.common import audio
    from tests.audio_util import RATE, speech, word_errors

    url, schema = pg_schema
    settings = AsrSettings(port=0, metrics_port=-1, triton_url=triton.url, database_url=url, database_schema=schema,
                           spool_dir=str(tmp_path / "spool"), log_json=False)
    sentence = "good morning how are you today"
    pcm = audio.to_pcm16(speech(sentence)).tobytes()
    step = RATE // 10 * 2
    config = {"config": {"config": {"languageCode": "en-US", "audioConfig": {
        "encoding": "AUDIO_ENCODING_LINEAR16", "sampleRateHertz": RATE}}, "interimResults": True}}
    async with running(settings, asr_app.create) as (_app, handle, _channel):
        async with bridge_running(bridge_settings(asr_target=f"127.0.0.1:{handle.port}")) as (_bridge, port):
            chunks = [pcm[i:i + step] for i in range(0, len(pcm), step)]
            received, code = await session(port, "/v1/ws/asr", [config, *chunks, {"event": "end"}])
            too_big, too_big_code = await session(port, "/v1/ws/asr", [config, bytes(32_769)])
    assert code == 1000 and received[-1] == {"event": "done"}
    finals = [r for f in received for r in f.get("results", []) if r.get("isFinal")]
    assert len(finals) == 1
    assert word_errors(sentence, finals[0]["alternatives"][0]["transcript"]) <= len(sentence.split()) // 2
    assert too_big_code == 1008 and too_big[-1]["error"]["details"][0]["reason"] == "AUDIO_CHUNK_TOO_LARGE"


@pytest.mark.skipif(not HAS_ASR, reason="services.asr is not in this tree yet (written concurrently)")
async def test_asr_over_websocket_takes_webm_and_wav_without_an_audio_config(triton, pg_schema, tmp_path):
    """Binary frames of a WebM Opus recording (MediaRecorder) or a WAV file, config without audioConfig:
    the bridge passes them on untouched and ASR's sniffing gives a final transcript."""
    from services.asr import app as asr_app
    from services.asr.settings import AsrSettings
    from tests.audio_util import container_files, speech, word_errors

    url, schema = pg_schema
    settings = AsrSettings(port=0, metrics_port=-1, triton_url=triton.url, database_url=url, database_schema=schema,
                           spool_dir=str(tmp_path / "spool"), log_json=False)
    sentence = "good morning how are you today"
    files = container_files(speech(sentence))
    config = {"config": {"config": {"languageCode": "en-US"}, "interimResults": True}}
    async with running(settings, asr_app.create) as (_app, handle, _channel):
        async with bridge_running(bridge_settings(asr_target=f"127.0.0.1:{handle.port}")) as (_bridge, port):
            for kind in ("webm_opus", "wav"):
                data = files[kind]
                frames = [data[i:i + 4000] for i in range(0, len(data), 4000)]
                received, code = await session(port, "/v1/ws/asr", [config, *frames, {"event": "end"}])
                assert code == 1000 and received[-1] == {"event": "done"}, (kind, received[-1])
                finals = [r for f in received for r in f.get("results", []) if r.get("isFinal")]
                transcript = " ".join(r["alternatives"][0]["transcript"] for r in finals)
                assert word_errors(sentence, transcript) <= len(sentence.split()) // 2, (kind, transcript)
