"""The Python SDK and the `ai4vc` CLI against the whole mesh, through Envoy with real keys: sync and
asyncio clients, typed errors from the real servers, and the CLI (in-process with Typer's runner,
and once as a subprocess) transcribing a folder, streaming a file, synthesizing to a WAV file,
translating, discovery, keys and usage, and the exit codes for a bad key and a bad argument."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.cli.app import app
from ai4vc.sdk import AsyncClient, Client, errors
from ai4vc.sdk.audio import chunks, read_wav
from tests.audio_util import RATE, container_files, speech, word_errors
from tests.e2e.test_nmt_mesh import HINDI
from tests.sdk_venv import install_sdk, run

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "good morning how are you today"


@pytest.fixture(scope="module")
def edge(mesh) -> str:
    return f"127.0.0.1:{mesh.ports.envoy}"


@pytest.fixture(scope="module")
def cli(mesh, edge):
    """Runs the CLI in-process against the mesh with the admin key (extra env may override)."""
    runner = CliRunner()
    key = mesh.admin_key()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(app, list(args), env={"AI4VC_ENDPOINT": edge, "AI4VC_API_KEY": key, **(env or {})})

    return invoke


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    for name, text in (("one.wav", SENTENCE), ("two.wav", "thank you very much")):
        soundfile.write(folder / name, speech(text), RATE, subtype="PCM_16")
    return folder


def test_sync_client_translates_and_raises_typed_errors(mesh, edge):
    """Client.translate hi→ur through Envoy; an unsupported pair raises InvalidArgument with its reason."""
    with Client(edge, api_key=mesh.admin_key()) as client:
        urdu = client.translate(HINDI, source="hi", target="ur")
        assert urdu and urdu != HINDI
        with pytest.raises(errors.InvalidArgument) as caught:
            client.translate(HINDI, source="hi", target="hi")
        assert caught.value.reason == "UNSUPPORTED_LANGUAGE_PAIR"
        candidates = client.transliterate("भारत", source="hi", target="ta", top_k=3)
        assert candidates and candidates[0] != "भारत"
    with Client(edge, api_key="ai4vc-not-a-key") as client, pytest.raises(errors.Unauthenticated):
        client.translate(HINDI, source="hi", target="ur")


async def test_async_client_translates_and_streams_synthesis(mesh, edge, tmp_path):
    """AsyncClient: TranslateText, then StreamingSynthesize written to a WAV file chunk by chunk."""
    async with AsyncClient(edge, api_key=mesh.admin_key()) as client:
        assert await client.translate(HINDI, source="hi", target="ur")
        chunks: list[int] = []
        async for _response in client.synthesize_stream("भारत एक विशाल देश है। यहाँ अनेक भाषाएँ बोली जाती हैं।",
                                                        voice="hi-female",
                                                        on_chunk=lambda pcm, rate: chunks.append(len(pcm))):
            pass
        assert len(chunks) > 1 and all(chunks)
        seconds = await client.synthesize_to_file("नमस्ते दुनिया", tmp_path / "a.wav", voice="hi-female")
    assert seconds > 0.3
    with wave.open(str(tmp_path / "a.wav")) as out:
        assert out.getnframes() > 0 and out.getsampwidth() == 2


def test_sync_stream_file_gives_interim_then_final_results(mesh, edge, wav_dir):
    """Client.stream_file (as fast as possible): interim results, then a final close to the sentence."""
    with Client(edge, api_key=mesh.admin_key()) as client:
        results = list(client.stream_file(wav_dir / "one.wav", language="en", realtime=False))
    finals = [r.alternatives[0].transcript for r in results if r.is_final and r.alternatives]
    assert any(not r.is_final for r in results), "no interim result"
    assert word_errors(SENTENCE, " ".join(finals)) / len(SENTENCE.split()) <= 0.5, finals


def test_sync_speech_to_speech_streams_transcripts_then_audio(mesh, edge, wav_dir):
    """Client.speech_to_speech: final transcripts, then synthesized audio; an unsupported target
    raises InvalidArgument with NMT's reason from inside the stream."""
    audio = read_wav(wav_dir / "one.wav")
    with Client(edge, api_key=mesh.admin_key()) as client:
        events = list(client.speech_to_speech(chunks(audio), source="en", sample_rate_hertz=audio.sample_rate_hertz,
                                              timeout=60))
        kinds = [e.WhichOneof("event") for e in events]
        assert "transcript" in kinds and "audio" in kinds and kinds.index("transcript") < kinds.index("audio")
        with pytest.raises(errors.InvalidArgument) as caught:
            list(client.speech_to_speech(chunks(audio), source="en", target="hi", timeout=60))
    assert caught.value.reason == "UNSUPPORTED_LANGUAGE_PAIR"


def test_cli_translate_in_process_and_as_a_subprocess(mesh, edge, cli):
    """`ai4vc translate --from hi --to ur "…"` prints the Urdu, in-process and as a real process."""
    result = cli("translate", "--from", "hi", "--to", "ur", HINDI)
    assert result.exit_code == 0, result.output
    urdu = result.stdout.strip()
    assert urdu and urdu != HINDI
    env = {**os.environ, "AI4VC_ENDPOINT": edge, "AI4VC_API_KEY": mesh.admin_key(),
           "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("sdk/python/src", "gen/python"))}
    done = subprocess.run([sys.executable, "-m", "ai4vc.cli", "translate", "--from", "hi", "--to", "ur", HINDI],
                          env=env, capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == urdu


def test_installed_wheel_translates_through_envoy(mesh, edge, tmp_path):
    """The issue's check: the wheel installed into a fresh venv, then `ai4vc translate --from hi --to ur`."""
    sdk = install_sdk(tmp_path)
    env = {**sdk.env, "AI4VC_ENDPOINT": edge, "AI4VC_API_KEY": mesh.admin_key()}
    out = run(sdk.ai4vc, "translate", "--from", "hi", "--to", "ur", HINDI, cwd=tmp_path, env=env)
    assert out.strip() and out.strip() != HINDI


def test_cli_bad_key_and_bad_argument_exit_codes(cli):
    """A refused key exits 3 with a message naming the key; a pair the server rejects exits 2."""
    refused = cli("translate", "--from", "hi", "--to", "ur", HINDI, env={"AI4VC_API_KEY": "ai4vc-wrong"})
    assert refused.exit_code == 3, refused.output
    assert "the API key was refused (UNAUTHENTICATED)" in refused.output and "Traceback" not in refused.output
    bad = cli("translate", "--from", "hi", "--to", "hi", HINDI)
    assert bad.exit_code == 2, bad.output
    assert "INVALID_ARGUMENT" in bad.output and "UNSUPPORTED_LANGUAGE_PAIR" in bad.output
    assert cli("transcribe", "/no/such/file", "-l", "en").exit_code == 2


def test_cli_transcribes_a_folder_to_srt_and_a_file_to_json(cli, wav_dir, tmp_path):
    """transcribe DIR writes one .srt per file (in parallel); transcribe FILE --format json prints results."""
    out = tmp_path / "subs"
    result = cli("transcribe", str(wav_dir), "-l", "en", "--format", "srt", "-o", str(out), "-j", "2")
    assert result.exit_code == 0, result.output
    assert "2 of 2 files transcribed" in result.output
    for name in ("one.srt", "two.srt"):
        text = (out / name).read_text()
        assert text.startswith("1\n00:00:") and " --> " in text, text
    as_json = cli("transcribe", str(wav_dir / "one.wav"), "-l", "en", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["results"][0]["alternatives"][0]["transcript"]
    vtt = cli("transcribe", str(wav_dir / "two.wav"), "-l", "en", "--format", "vtt")
    assert vtt.exit_code == 0 and vtt.stdout.startswith("WEBVTT\n\n")


def test_cli_transcribes_by_the_header_not_the_suffix(cli, tmp_path):
    """A Vorbis .ogg and a WebM recording saved as .ogg both transcribe: the SDK sends no encoding, ASR sniffs."""
    files = container_files(speech(SENTENCE))
    (tmp_path / "vorbis.ogg").write_bytes(files["ogg_vorbis"])
    (tmp_path / "recording.ogg").write_bytes(files["webm_opus"])
    for name in ("vorbis.ogg", "recording.ogg"):
        result = cli("transcribe", str(tmp_path / name), "-l", "en", "--format", "json")
        assert result.exit_code == 0, result.output
        transcript = json.loads(result.stdout)["results"][0]["alternatives"][0]["transcript"]
        assert word_errors(SENTENCE, transcript) <= len(SENTENCE.split()) // 2, (name, transcript)


def test_cli_streams_a_file(cli, wav_dir):
    """`ai4vc stream FILE --fast` prints the final transcript on stdout."""
    result = cli("stream", str(wav_dir / "one.wav"), "-l", "en", "--fast")
    assert result.exit_code == 0, result.output
    assert word_errors(SENTENCE, result.stdout.strip()) / len(SENTENCE.split()) <= 0.5, result.stdout
    assert cli("stream", "-l", "en").exit_code == 2  # neither FILE nor --mic


def test_cli_synthesizes_to_a_wav_file(cli, tmp_path):
    """`ai4vc synthesize TEXT -o out.wav` writes real speech."""
    target = tmp_path / "out.wav"
    result = cli("synthesize", "भारत एक विशाल देश है।", "--voice", "hi-female", "-o", str(target))
    assert result.exit_code == 0, result.output
    samples, rate = soundfile.read(target, dtype="int16")
    assert rate > 8000 and samples.size / rate > 0.5 and np.abs(samples).max() > 1000


def test_cli_discovery_commands(cli):
    """voices, models, pairs and transliteration pairs answer with what the deployment serves."""
    voices = cli("voices", "--json")
    assert voices.exit_code == 0 and "hi-female" in {v["name"] for v in json.loads(voices.stdout)}
    models = cli("models", "--json")
    assert models.exit_code == 0 and {m["name"] for m in json.loads(models.stdout)} >= {"asr_am_ensemble"}
    pairs = cli("pairs", "--json")
    assert pairs.exit_code == 0
    assert any(p["sourceLanguageCode"] == "hi" and p["targetLanguageCode"] == "ur" for p in json.loads(pairs.stdout))
    script_pairs = cli("transliterate", "--from", "hi", "--to", "ta", "--top-k", "2", "भारत")
    assert script_pairs.exit_code == 0 and script_pairs.stdout.strip(), script_pairs.output
    assert cli("pairs", "--transliteration").exit_code == 0
    assert cli("voices").exit_code == 0  # the Rich table


def test_cli_keys_create_list_revoke_and_usage(mesh, cli):
    """keys create prints a working secret; list shows it; revoke marks it; usage answers."""
    created = cli("keys", "create", "--name", "sdk-e2e", "--scope", "nmt")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert cli("translate", "--from", "hi", "--to", "ur", HINDI, env={"AI4VC_API_KEY": secret}).exit_code == 0
    listed = json.loads(cli("keys", "list", "--json").stdout)
    mine = [k for k in listed if k.get("displayName") == "sdk-e2e"]
    assert mine and mine[0]["scopes"] == ["nmt"]
    revoked = cli("keys", "revoke", mine[0]["keyId"])
    assert revoked.exit_code == 0, revoked.output
    with Client(f"127.0.0.1:{mesh.ports.envoy}", api_key=mesh.admin_key()) as client:
        keys = client.auth.list_api_keys(auth_pb.ListApiKeysRequest(show_revoked=True, page_size=100)).api_keys
    assert any(k.key_id == mine[0]["keyId"] and k.HasField("revoke_time") for k in keys)
    unknown = cli("keys", "revoke", "no-such-key")
    assert unknown.exit_code in (2, 4) and unknown.output.startswith("error: "), unknown.output
    usage = cli("usage", "--json")
    assert usage.exit_code == 0, usage.output
    assert "today" in json.loads(usage.stdout)
