"""The web console (web/) in the whole mesh: served by its own port and by the edge at /ui/
(public, Next's hashed files cached for a year, everything else under the edge's credential
rules as before), and used in a real browser (Debian chromium, playwright-core, no download):
translate (and detect), transliterate as you type, an error with its reason, synthesize and
play, its waveform, downloads in other encodings, upload a WAV, a FLAC and an Ogg and read the
transcripts (and the service's error for a file that is no audio), text → translation → speech in
one pipeline call, live speech to speech from the microphone, keys created and revoked, the live
microphone — Chromium's fake capture device playing a WAV over the WebSocket bridge — showing
interim text, then a final; sign-in with a user and password (JWT calls and streams, a refused
token refreshed, sign-out) and the interface in Hindi and Urdu (right to left).
Screenshots in .run/webui-{edge,web-port}/."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.request
from email.message import Message
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from tests.audio_util import RATE, speech
from tests.e2e.test_edge_auth import create_key
from tests.e2e.test_nmt_mesh import HINDI

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SENTENCE = "good morning how are you today"


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """(status, headers — case-insensitive: Envoy lower-cases them — and body)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture(scope="module")
def served(mesh) -> None:
    if not mesh.serve_web_ui:
        pytest.skip("needs web/node_modules (deploy/local/bootstrap.sh runs npm ci --prefix web)")


@pytest.mark.parametrize("via", ["edge", "web-port"])
def test_console_and_its_assets_are_served(mesh, served, via: str) -> None:
    """/ui/ answers the console without a credential; its hashed script files are cacheable for
    a year, the pages are revalidated."""
    port = mesh.ports.envoy if via == "edge" else mesh.ports.web_ui
    status, headers, body = _get(f"http://127.0.0.1:{port}/ui/")
    assert status == 200 and b"AI4V-C console" in body, (status, body[:200])
    assert headers["Cache-Control"] == "no-cache"
    script = re.search(rb'src="(/ui/_next/static/[^"]+\.js)"', body)
    assert script, body[:500]
    status, headers, _ = _get(f"http://127.0.0.1:{port}{script.group(1).decode()}")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, _, _ = _get(f"http://127.0.0.1:{port}/ui/nmt/")
    assert status == 200


def test_edge_caches_the_hashed_files_and_nothing_else(mesh, served) -> None:
    """Envoy's cache filter answers a hashed file from memory after the first fetch (an `age`
    header); pages (no-cache), a hashed file under another name and API answers are never stored."""
    edge = f"http://127.0.0.1:{mesh.ports.envoy}"
    _, _, page = _get(f"{edge}/ui/")
    scripts = re.findall(rb'src="(/ui/_next/static/[^"]+\.js)"', page)
    assert scripts, page[:500]
    # A file no earlier test fetched through the edge would do; the last one is rarely the first.
    script = scripts[-1].decode()
    _get(f"{edge}{script}")
    status, headers, body = _get(f"{edge}{script}")
    assert status == 200 and headers["age"] is not None, dict(headers)
    assert body == _get(f"http://127.0.0.1:{mesh.ports.web_ui}{script}")[2]
    for _ in range(2):
        status, headers, _ = _get(f"{edge}/ui/")
        assert status == 200 and headers["age"] is None
        status, headers, _ = _get(f"{edge}{script}?v=1")
        assert status == 200 and headers["age"] is None and headers["Cache-Control"] == "no-store"
        status, headers, _ = _get(f"{edge}/v1/voices", {"x-api-key": mesh.admin_key()})
        assert status == 200 and headers["age"] is None


def test_the_ui_prefix_opens_nothing_else(mesh, served) -> None:
    """Only /ui/... is public: REST without a key stays 401, and so do paths near the prefix."""
    edge = f"http://127.0.0.1:{mesh.ports.envoy}"
    assert _get(f"{edge}/v1/voices")[0] == 401
    for path in ("/ui", "/uix/", "/v1/ui/", "/ui.js"):
        assert _get(f"{edge}{path}")[0] == 401, path
    status, _, body = _get(f"http://127.0.0.1:{mesh.ports.web_ui}/ui/config.json")
    assert status == 200 and json.loads(body) == {"edgeUrl": edge, "webPort": mesh.ports.web_ui}


def test_the_root_redirects_to_the_console_and_opens_nothing_else(mesh, served) -> None:
    """GET / through Envoy is a redirect to /ui/ without a key; any other method on /, and any
    other path, still needs one."""
    connection = http.client.HTTPConnection("127.0.0.1", mesh.ports.envoy, timeout=10)
    try:
        for method in ("GET", "HEAD"):
            connection.request(method, "/")
            answer = connection.getresponse()
            answer.read()
            assert (answer.status, answer.getheader("location", "").endswith("/ui/")) == (302, True), method
        connection.request("POST", "/", body=b"{}", headers={"content-type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 401
    finally:
        connection.close()
    for path in ("/index.html", "//", "/v1/"):
        assert _get(f"http://127.0.0.1:{mesh.ports.envoy}{path}")[0] == 401, path
    status, headers, _ = _get(f"http://127.0.0.1:{mesh.ports.envoy}/")
    assert status == 200 and "text/html" in headers.get("content-type", "")


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    """An utterance to upload (as WAV, FLAC and Ogg Vorbis), and the microphone's: speech then
    1.5 s of quiet (Chromium loops the file), so the stream's endpointing closes the utterance with
    a final."""
    folder = tmp_path_factory.mktemp("console-speech")
    upload, mic, flac, ogg = folder / "upload.wav", folder / "mic.wav", folder / "upload.flac", folder / "upload.ogg"
    voiced = speech(SENTENCE)
    soundfile.write(upload, voiced, RATE, subtype="PCM_16")
    soundfile.write(flac, voiced, RATE, format="FLAC", subtype="PCM_16")
    soundfile.write(ogg, voiced, RATE, format="OGG", subtype="VORBIS")
    quiet = np.random.default_rng(1).normal(0.0, 3e-3, int(RATE * 1.5)).astype(np.float32)
    soundfile.write(mic, np.concatenate([voiced, quiet]), RATE, subtype="PCM_16")
    return upload, mic, flac, ogg


async def create_user(mesh, scopes: list[str]) -> tuple[str, str]:
    """A user who signs in with a password (AuthService CreateUser, with the admin key)."""
    username, password = f"console-{secrets.token_hex(4)}", f"pw-{secrets.token_hex(8)}"
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        await auth_grpc.AuthServiceStub(channel).CreateUser(
            auth_pb.CreateUserRequest(username=username, password=password, scopes=scopes),
            timeout=10, metadata=(("x-api-key", mesh.admin_key()),))
    return username, password


@pytest.mark.parametrize("via", ["edge", "web-port"])
@pytest.mark.timeout(660)  # a browser through every page, on 2 shared cores (the run itself is capped at 580 s)
async def test_browser_uses_every_page(mesh, served, wavs, via: str) -> None:
    """Chromium uses every page of the console through the edge (or from its own port) and sees
    each service answer: text, audio, transcripts, live streams, keys."""
    if not Path(CHROMIUM).exists() or not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip("needs Debian chromium and tests/browser/node_modules (deploy/local/bootstrap.sh installs both)")
    _key_id, key = await create_key(mesh, ["nmt", "tts", "asr", "pipeline"])
    user, password = await create_user(mesh, ["nmt", "tts"])
    shots = ROOT / ".run" / f"webui-{via}"
    shots.mkdir(parents=True, exist_ok=True)
    port = mesh.ports.envoy if via == "edge" else mesh.ports.web_ui
    upload, mic, flac, ogg = wavs
    run = await asyncio.to_thread(
        subprocess.run, [shutil.which("node") or "node", "console.mjs", f"http://127.0.0.1:{port}/ui/", key,
                         str(shots), str(upload), str(mic), HINDI, str(flac), str(ogg), user, password],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=580, env={**os.environ, "CHROMIUM": CHROMIUM})
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["errors"] == [], seen["errors"]
    # Settings: the edge is the page's own origin through Envoy, config.json's from :web_ui.
    assert seen["defaultEdgeUrl"] == f"http://127.0.0.1:{mesh.ports.envoy}"
    assert seen["keyInStorage"] is True
    # NMT: Urdu text (Arabic script), detection when the source is empty.
    assert seen["translation"].strip() and seen["translation"] != HINDI
    assert re.search("[\u0600-\u06ff]", seen["translation"]), seen["translation"]
    assert seen["translationDir"] == "auto"
    # Do-not-translate: the kept word verbatim in an otherwise Urdu translation.
    assert seen["keptPhrase"] in seen["keptTranslation"] and seen["keptPhrase"] not in seen["translation"]
    assert re.search("[\u0600-\u06ff]", seen["keptTranslation"]), seen["keptTranslation"]
    assert "hi" in seen["detected"]
    # Transliteration as you type: Tamil-script candidates for the Hindi word; a click takes one.
    assert seen["candidates"] and all(re.search("[\u0b80-\u0bff]", c) for c in seen["candidates"]), seen
    assert seen["transliterated"] == seen["candidates"][0] + " "
    # TTS: an error shows its reason and field (no text); then the <audio> holds seconds of speech.
    assert seen["ttsErrorReason"] == "FIELD_REQUIRED" and seen["ttsErrorFields"], seen
    assert seen["audioDuration"] > 0.5
    # Its waveform is drawn from the decoded samples: as long as the audio, not flat.
    assert abs(seen["waveform"]["seconds"] - seen["audioDuration"]) < 0.1 and seen["waveform"]["peak"] > 0.05, seen
    # Other encodings: each downloads as the service encoded it, under its own extension, and plays.
    magic = {"MP3": ("speech.mp3", ("ID3", "\xff\xfb", "\xff\xf3")), "OGG_OPUS": ("speech.opus", ("OggS",)),
             "FLAC": ("speech.flac", ("fLaC",)), "MULAW": ("speech.ulaw", None)}
    for encoding, (name, heads) in magic.items():
        got = seen["downloads"][encoding]
        assert got["file"] == name and got["size"] > 1000, (encoding, got)
        assert heads is None or got["head"].startswith(heads), (encoding, got)
        assert got["duration"] > 0.5 and got["waveformSeconds"] > 0.5, (encoding, got)
    # G.711 downloads as the raw samples the service sent (the WAV header is only for playing it here).
    assert seen["downloads"]["MULAW"]["head"][:4] != "RIFF"
    assert seen["webmReason"] == "UNSUPPORTED_ENCODING", seen["webmReason"]
    # ... and streamed over /v1/ws/tts: chunks, then about as many seconds.
    assert seen["streamChunks"] >= 1 and seen["streamDuration"] > 0.5, seen
    # ASR: the uploaded sentence's words, and live: interim text first, then a final.
    assert len(set(SENTENCE.split()) & set(seen["transcript"].lower().split())) >= 3, seen["transcript"]
    for container in ("flac", "ogg"):  # no encoding sent: the service read the container's header
        text = seen["otherTranscripts"][container]
        assert text and len(set(SENTENCE.split()) & set(text.lower().split())) >= 3, (container, text)
    assert seen["notAudio"]["reason"] and not seen["notAudio"]["transcript"], seen["notAudio"]
    assert seen["interims"], seen
    assert seen["finals"] and any(f for f in seen["finals"]), seen
    assert len(set(SENTENCE.split()) & set(" ".join(seen["finals"]).lower().split())) >= 2, seen["finals"]
    # Pipeline: text → Urdu translation → speech in an Urdu voice, one call.
    assert seen["pipelineStages"] == ["translation", "audio"], seen
    assert re.search("[\u0600-\u06ff]", seen["pipelineTranslation"]) and seen["pipelineVoice"].startswith("ur")
    assert seen["pipelineDuration"] > 0.5
    # Live speech to speech: the microphone's utterance recognized, then spoken back as it streamed.
    assert seen["s2sError"] is None, seen["s2sError"]
    assert seen["s2sSpoken"].startswith("en") and seen["s2sVoice"], seen
    assert len(set(SENTENCE.split()) & set(seen["s2sFinal"].lower().split())) >= 2, seen["s2sFinal"]
    assert seen["s2sAudioBytes"] > 16_000, seen["s2sAudioBytes"]
    # Settings: today's usage of the key; a key created (its secret shown once) and revoked.
    assert re.match(r"\d+ requests", seen["usage"]) and int(seen["usage"].split()[0]) > 0, seen["usage"]
    assert seen["newKey"] and seen["newKeyId"] and seen["revoked"] is True, seen
    # Sign-in: the user's JWT (in this tab's sessionStorage only) on the calls instead of the API key;
    # a refused token is refreshed once and the call goes through; the WebSocket takes the JWT;
    # sign-out ends the refresh token at the service.
    assert seen["signedInUser"] == user and user in seen["headerUser"], seen
    assert seen["tokenInSessionStorage"] is True and seen["tokenInLocalStorage"] is False, seen
    assert re.search("[\u0600-\u06ff]", seen["jwtTranslation"])
    assert seen["refreshedTranslation"] == seen["jwtTranslation"]
    assert all(r["bearer"] and not r["apiKey"] for r in seen["jwtRequests"]), seen["jwtRequests"]
    assert len(seen["jwtRequests"]) >= 3 and seen["tokenReplaced"] is True, seen  # first, refused, resent
    assert seen["jwtStreamChunks"] >= 1, seen
    assert seen["sessionAfterSignOut"] is None and seen["refreshAfterSignOut"] == 401, seen
    # The interface in Hindi and in Urdu (right to left, kept across a reload).
    hindi = {"nav": "सेटिंग्स", "label": "स्रोत भाषा", "button": "अनुवाद करें", "dir": "ltr"}
    assert seen["hindi"] == hindi, seen["hindi"]
    urdu = {"nav": "ترتیبات", "button": "ترجمہ کریں", "lang": "ur", "dir": "rtl", "stored": "ur"}
    assert seen["urdu"] == urdu, seen["urdu"]
    assert seen["tamilNav"] == "அமைப்புகள்", seen["tamilNav"]
    for page in ("settings", "settings-keys", "nmt", "nmt-transliterate", "tts-error", "tts", "tts-waveform",
                 "tts-encoding", "tts-stream", "asr-upload", "asr-upload-flac-ogg", "asr-upload-error", "asr-live",
                 "pipeline", "speech-to-speech", "signin", "signed-in", "ui-hindi", "ui-urdu", "ui-urdu-tts",
                 "ui-tamil-home"):
        assert (shots / f"{page}.png").stat().st_size > 0
