"""The unchanged NVIDIA Riva client (`nvidia-riva-client`, in .venv-riva with its own protobuf)
against the whole mesh through Envoy, with the API key in its metadata — the way a Riva
application switches to this platform by changing only the URL and the key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.audio_util import RATE, speech, word_errors
from tests.e2e.test_edge_auth import create_key

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
RIVA_PYTHON = ROOT / ".venv-riva" / "bin" / "python"
SCRIPT = Path(__file__).with_name("riva_client.py")
SENTENCE = "good morning how are you today"
GRPCURL = str(Path(sys.executable).parent / "grpcurl")
RIVA_SERVICES = ("nvidia.riva.asr.RivaSpeechRecognition", "nvidia.riva.tts.RivaSpeechSynthesis",
                 "nvidia.riva.nmt.RivaTranslation")


def riva_client(mesh, tmp_path: Path, key: str, mode: str = "") -> dict:
    """Runs tests/e2e/riva_client.py in .venv-riva against the mesh's Envoy; its JSON answer."""
    if not RIVA_PYTHON.exists():
        pytest.fail(f"{RIVA_PYTHON} is missing: run make bootstrap (deploy/local/bootstrap.sh makes it)")
    wav = tmp_path / "speech.wav"
    if not wav.exists():
        soundfile.write(wav, speech(SENTENCE), RATE, format="WAV", subtype="PCM_16")
    done = subprocess.run([str(RIVA_PYTHON), str(SCRIPT), f"127.0.0.1:{mesh.ports.envoy}", str(wav), str(tmp_path),
                           key, mode], capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, f"riva client failed:\n{done.stdout}\n{done.stderr}"
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def riva_answers(mesh, tmp_path_factory) -> dict:
    """Everything the Riva client did with the admin key (one run: streaming and offline ASR,
    voice and model listings, Synthesize, SynthesizeOnline, TranslateText, language pairs)."""
    tmp = tmp_path_factory.mktemp("riva")
    answers = riva_client(mesh, tmp, mesh.admin_key())
    answers["tmp"] = str(tmp)
    return answers


def test_streaming_asr_of_a_wav_file_prints_the_transcript(riva_answers):
    """Riva's file chunk iterator (header in the first chunk, no encoding or rate) streams to a transcript."""
    transcript = riva_answers["streaming_transcript"]
    assert word_errors(SENTENCE, transcript.lower()) / len(SENTENCE.split()) <= 0.5, transcript
    assert riva_answers["streaming_interims"] > 0


def test_offline_recognize_returns_transcript_and_word_times(riva_answers):
    """Recognize of the whole WAV file gives the sentence with words timed in ms, in order."""
    transcript = riva_answers["recognize_transcript"]
    assert word_errors(SENTENCE, transcript.lower()) / len(SENTENCE.split()) <= 0.5, transcript
    words = riva_answers["recognize_words"]
    assert words and all(0 <= start <= end for _w, start, end in words)
    assert [start for _w, start, _e in words] == sorted(start for _w, start, _e in words)
    assert words[-1][2] <= len(speech(SENTENCE)) * 1000 // RATE + 500


def test_model_and_voice_listings_describe_what_serves(riva_answers):
    """GetRivaSpeechRecognitionConfig lists an online en-US model; GetRivaSynthesisConfig lists hi and ur voices."""
    models = riva_answers["asr_models"]
    assert any(m["type"] == "online" and "en" in m["language_code"] for m in models), models
    languages = {v["language_code"] for v in riva_answers["voices"]}
    assert {"hi", "ur"} <= {code.split("-")[0] for code in languages}, languages
    assert all(v["full_names"] and all("." in n for n in v["full_names"]) for v in riva_answers["voices"])


def test_synthesize_writes_a_valid_wav(riva_answers):
    """Synthesize (LINEAR_PCM, 22.05 kHz, a voice from the listing) gives audio that reads back as non-silent WAV."""
    samples, rate = soundfile.read(riva_answers["synthesized_wav"], dtype="float32")
    assert rate == 22050 and samples.size > rate // 2
    assert float(np.sqrt(np.mean(samples ** 2))) > 0.01


def test_synthesize_online_streams_audio_for_each_text(riva_answers):
    """SynthesizeOnline (bidirectional) returns audio chunks for the Hindi texts sent."""
    assert riva_answers["online_chunks"] >= 2
    assert riva_answers["online_bytes"] > 22050 * 2  # more than a second of 16-bit audio


def test_translate_hindi_to_urdu(riva_answers):
    """TranslateText hi→ur returns Urdu script tagged with the target language; ur pairs are listed."""
    ((text, language),) = riva_answers["translations"]
    assert language == "ur" and any("\u0600" <= ch <= "\u06ff" for ch in text), text
    pairs = riva_answers["language_pairs"]
    assert any("hi" in src and "ur" in tgt for src, tgt in pairs.values()), pairs


def test_without_a_key_every_riva_service_is_unauthenticated(mesh, tmp_path):
    """No key: the edge answers UNAUTHENTICATED for Riva's ASR, TTS and NMT alike."""
    assert riva_client(mesh, tmp_path, "", "probe") == {"nmt": "UNAUTHENTICATED", "tts": "UNAUTHENTICATED",
                                                         "asr": "UNAUTHENTICATED"}


async def test_a_key_without_the_scope_is_permission_denied(mesh, tmp_path):
    """An nmt-only key translates through Riva's API but is PERMISSION_DENIED for Riva's TTS and ASR."""
    _key_id, key = await create_key(mesh, ["nmt"])
    assert riva_client(mesh, tmp_path, key, "probe") == {"nmt": "OK", "tts": "PERMISSION_DENIED",
                                                         "asr": "PERMISSION_DENIED"}


def test_reflection_through_envoy_lists_and_describes_riva(mesh):
    """grpcurl through Envoy lists Riva's three services and describes SynthesizeOnline as bidirectional."""
    target = f"127.0.0.1:{mesh.ports.envoy}"
    listed = subprocess.run([GRPCURL, "-plaintext", target, "list"], capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert set(RIVA_SERVICES) <= set(listed.stdout.split()), listed.stdout
    described = subprocess.run([GRPCURL, "-plaintext", target, "describe", "nvidia.riva.tts.RivaSpeechSynthesis"],
                               capture_output=True, text=True, timeout=30)
    assert described.returncode == 0, described.stderr
    online = next(line for line in described.stdout.splitlines() if "rpc SynthesizeOnline" in line)
    assert online.count("stream") == 2, online
