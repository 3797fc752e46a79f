"""Text normalization around speech through the real Envoy, the way users call it over REST:
ASR's inverse text normalization ("twenty five" → "25") on a WAV sent with no audio_config (its
header says the encoding and rate), and
Hindi TTS speaking "₹500" as the amount. The mesh's services load their grammars from the
grammar cache (~/.cache/ai4vc/grammars) in the background, so the test waits until ListModels says so."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.request

import numpy as np
import pytest
import soundfile

from tests.audio_util import RATE, speech

pytestmark = pytest.mark.e2e
SPOKEN = "twenty five"  # what PocketSphinx hears exactly from eSpeak's English voice


def rest(mesh, method: str, path: str, body: object | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{mesh.ports.envoy}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": mesh.admin_key()})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def itn_ready(mesh, language: str, timeout_s: float = 300.0) -> None:
    """Waits until ListModels names `language` for ITN (a fresh machine compiles first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        models = rest(mesh, "GET", "/v1/models")["models"]
        if all(language in m.get("inverseTextNormalizationLanguageCodes", []) for m in models):
            return
        assert time.monotonic() < deadline, f"ITN for {language} never became ready: {models}"
        time.sleep(1.0)


def recognize(mesh, content: bytes, **config: object) -> dict:
    """Recognize over REST with no audioConfig: the WAV header says what the audio is."""
    body = {"config": {"languageCode": "en-US", "enableWordTimeOffsets": True, **config},
            "content": base64.b64encode(content).decode()}
    return dict(rest(mesh, "POST", "/v1/speech:recognize", body)["results"][0]["alternatives"][0])


def test_rest_recognize_writes_numbers_with_itn_and_spoken_form_without(mesh):
    """A WAV with no audio_config saying "twenty five" comes back "25" with ITN on (the default),
    "twenty five" with it off."""
    itn_ready(mesh, "en")
    buffer = io.BytesIO()
    soundfile.write(buffer, speech(SPOKEN), RATE, format="WAV", subtype="PCM_16")
    written = recognize(mesh, buffer.getvalue())
    spoken = recognize(mesh, buffer.getvalue(), enableInverseTextNormalization=False)
    assert written["transcript"] == "25" and written["inverseTextNormalized"] is True
    assert written["spokenTranscript"] == SPOKEN
    assert [w["word"] for w in written["words"]] == ["25"] and written["words"][0]["spokenWord"] == SPOKEN
    # One written word over both spoken ones. (Two calls: PocketSphinx adapts its cepstral mean
    # between utterances, so offsets of the same audio may differ by a frame or two.)
    def offset(word: dict, key: str) -> float:
        return float(word[key].rstrip("s"))
    assert offset(written["words"][0], "startOffset") == pytest.approx(offset(spoken["words"][0], "startOffset"),
                                                                        abs=0.05)
    assert offset(written["words"][0], "endOffset") == pytest.approx(offset(spoken["words"][-1], "endOffset"),
                                                                      abs=0.05)
    assert spoken["transcript"] == SPOKEN and spoken.get("spokenTranscript", "") == ""
    assert not spoken.get("inverseTextNormalized", False)


def test_rest_hindi_tts_speaks_the_rupee_amount(mesh):
    """Hindi TTS of "₹500" speaks the amount: the normalized text has it in words, the audio is longer than "₹"."""
    def synthesize(text: str) -> tuple[dict, np.ndarray, int]:
        answer = rest(mesh, "POST", "/v1/text:synthesize", {
            "input": {"text": text}, "voice": {"languageCode": "hi"},
            "audioConfig": {"encoding": "AUDIO_ENCODING_WAV"}})
        samples, rate = soundfile.read(io.BytesIO(base64.b64decode(answer["audioContent"])), dtype="float32")
        return answer, samples, rate

    amount, samples, rate = synthesize("₹500")
    _symbol, bare, _rate = synthesize("₹")  # eSpeak has nothing to say for the bare sign
    assert float(np.sqrt(np.mean(samples ** 2))) > 0.01
    said = amount["normalizedText"]
    assert "पाँच सौ" in said and ("रुपए" in said or "रुपये" in said) and "₹" not in said and "500" not in said
    assert samples.size / rate > bare.size / rate + 0.3
