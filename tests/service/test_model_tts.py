"""The reference TTS models (models/tts, models/tts_streaming: espeak-ng) in a real
tritonserver, over Triton's gRPC endpoint, on the Indic-TTS tensor contract."""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from deploy.local.parts import ROOT, Triton, free_port

SAMPLE_RATE = 22050
SPEAKERS = ("male", "female")
# A short sentence per served language, in its own script.
SENTENCES = {
    "as": "মই ভালে আছো, আপুনি কেনে আছে",
    "bn": "ভালো আছি, ধন্যবাদ",
    "bpy": "মি ভালা আসু, তুমি কিসাদে আসত",
    "en": "Hello, how are you today?",
    "gu": "નમસ્તે, તમે કેમ છો",
    "hi": "नमस्ते, आप कैसे हैं",
    "kn": "ನಮಸ್ಕಾರ, ಹೇಗಿದ್ದೀರಾ",
    "kok": "तुमी कशें आसात",
    "ml": "നമസ്കാരം, സുഖമാണോ",
    "mr": "नमस्कार, तुम्ही कसे आहात",
    "ne": "नमस्ते, तपाईंलाई कस्तो छ",
    "or": "ନମସ୍କାର, ଆପଣ କେମିତି ଅଛନ୍ତି",
    "pa": "ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਤੁਸੀਂ ਕਿਵੇਂ ਹੋ",
    "sd": "توهان ڪيئن آهيو",
    "si": "ආයුබෝවන්, ඔබට කොහොමද",
    "ta": "வணக்கம், நீங்கள் எப்படி இருக்கிறீர்கள்",
    "te": "నమస్కారం, మీరు ఎలా ఉన్నారు",
    "ur": "السلام علیکم، آپ کیسے ہیں",
}
PARAGRAPH = " ".join(["The quick brown fox jumps over the lazy dog, and then it runs far away."] * 40)


@pytest.fixture(scope="module")
def triton() -> Iterator[Triton]:
    run_dir = Path(tempfile.mkdtemp(prefix="ai4vc-tts-"))
    repo = run_dir / "models"
    repo.mkdir()
    for name in ("tts", "tts_streaming"):
        (repo / name).symlink_to(ROOT / "models" / name)
    server = Triton(run_dir, free_port(), free_port(), free_port(), model_repository=repo)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if not os.environ.get("AI4VC_KEEP_TEST_RUN"):
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def client(triton: Triton) -> Iterator[grpcclient.InferenceServerClient]:
    with grpcclient.InferenceServerClient(triton.url) as the_client:
        yield the_client


def _text_inputs(text: str | bytes, speaker: str, language: str) -> list[grpcclient.InferInput]:
    inputs = []
    for name, value in (("INPUT_TEXT", text), ("INPUT_SPEAKER_ID", speaker), ("INPUT_LANGUAGE_ID", language)):
        tensor = grpcclient.InferInput(name, [1], "BYTES")
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        tensor.set_data_from_numpy(np.array([raw], dtype=np.object_))
        inputs.append(tensor)
    return inputs


def _synthesize(client: grpcclient.InferenceServerClient, text: str | bytes, speaker: str, language: str) -> np.ndarray:
    result = client.infer("tts", _text_inputs(text, speaker, language), timeout=30)
    return result.as_numpy("OUTPUT_GENERATED_AUDIO")


def _stream(client: grpcclient.InferenceServerClient, text: str, speaker: str, language: str,
            rate: float | None = None) -> tuple[list[np.ndarray], list[float], float, list[Exception]]:
    """(chunks, arrival time of each chunk, arrival time of the final flag, errors), times
    measured from the request being sent."""
    inputs = _text_inputs(text, speaker, language)
    if rate is not None:
        tensor = grpcclient.InferInput("SPEAKING_RATE", [1], "FP32")
        tensor.set_data_from_numpy(np.array([rate], dtype=np.float32))
        inputs.append(tensor)
    events: queue.Queue[tuple[float, object, Exception | None]] = queue.Queue()
    client.start_stream(callback=lambda result, error: events.put((time.perf_counter(), result, error)))
    try:
        start = time.perf_counter()
        client.async_stream_infer("tts_streaming", inputs, enable_empty_final_response=True)
        chunks: list[np.ndarray] = []
        arrivals: list[float] = []
        errors: list[Exception] = []
        while True:
            at, result, error = events.get(timeout=60)
            if error is not None:
                errors.append(error)
                continue
            chunk = result.as_numpy("OUTPUT_AUDIO_CHUNK")
            if chunk is not None:
                chunks.append(chunk)
                arrivals.append(at - start)
            if result.get_response().parameters["triton_final_response"].bool_param:
                return chunks, arrivals, at - start, errors
    finally:
        client.stop_stream()


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def _median_pitch_hertz(audio: np.ndarray) -> float:
    """Median autocorrelation pitch over the loud 40 ms frames (60-400 Hz)."""
    frame = int(0.04 * SAMPLE_RATE)
    low, high = SAMPLE_RATE // 400, SAMPLE_RATE // 60
    loudness = _rms(audio)
    pitches = []
    for start in range(0, audio.size - frame, frame):
        piece = audio[start:start + frame].astype(np.float64)
        if _rms(piece) < loudness:
            continue
        piece = piece - piece.mean()
        corr = np.correlate(piece, piece, mode="full")[frame - 1:]
        lag = low + int(np.argmax(corr[low:high]))
        pitches.append(SAMPLE_RATE / lag)
    return float(np.median(pitches))


def _voices(client: grpcclient.InferenceServerClient, model: str) -> set[str]:
    config = client.get_model_config(model, as_json=True)["config"]
    return set(config["parameters"]["voices"]["string_value"].split(","))


def test_advertised_voices_are_the_tested_ones(client):
    """Both models advertise a male and a female voice for every language tested here, and no other."""
    expected = {f"{language}-{speaker}" for language in SENTENCES for speaker in SPEAKERS}
    assert _voices(client, "tts") == expected
    assert _voices(client, "tts_streaming") == expected


def test_capability_parameters(client):
    """The configs declare task, sample rate, streaming and chunk size for the services to read."""
    unary = client.get_model_config("tts", as_json=True)["config"]
    streaming = client.get_model_config("tts_streaming", as_json=True)["config"]
    assert unary["parameters"]["task"]["string_value"] == "tts"
    assert unary["parameters"]["sample_rate_hertz"]["string_value"] == str(SAMPLE_RATE)
    assert unary["parameters"]["streaming"]["string_value"] == "false"
    assert unary["parameters"]["backend_name"]["string_value"] == "espeak-ng"
    assert streaming["parameters"]["streaming"]["string_value"] == "true"
    assert streaming["parameters"]["chunk_ms"]["string_value"] == "100"
    assert streaming["parameters"]["max_chunk_ms"]["string_value"] == "800"
    assert streaming["model_transaction_policy"]["decoupled"] is True


@pytest.mark.parametrize("speaker", SPEAKERS)
@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_every_voice_speaks(client, language, speaker):
    """Each advertised voice turns a short sentence in its script into audible float audio of plausible length."""
    audio = _synthesize(client, SENTENCES[language], speaker, language)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.3 <= audio.size / SAMPLE_RATE <= 10.0
    assert _rms(audio) > 0.02
    assert np.abs(audio).max() <= 1.0


def test_male_and_female_differ(client):
    """The female voice is a different, higher-pitched rendering of the same text."""
    male = _synthesize(client, SENTENCES["hi"], "male", "hi")
    female = _synthesize(client, SENTENCES["hi"], "female", "hi")
    assert male.size != female.size or not np.array_equal(male, female)
    assert _median_pitch_hertz(female) > 1.2 * _median_pitch_hertz(male)


@pytest.mark.parametrize(
    ("text", "speaker", "language", "message"),
    [
        ("hello", "male", "xx", "language"),
        ("hello", "child", "en", "speaker"),
        ("   ", "female", "hi", "empty"),
        (b"\xff\xfehello", "male", "en", "UTF-8"),
        ("a" * 5001, "male", "en", "5000"),
    ],
    ids=["unknown-language", "unknown-speaker", "empty-text", "not-utf8", "too-long"],
)
def test_bad_input_is_invalid_argument(client, text, speaker, language, message):
    """Bad input is INVALID_ARGUMENT with a message naming the problem, and the model keeps serving."""
    with pytest.raises(InferenceServerException) as caught:
        _synthesize(client, text, speaker, language)
    assert caught.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert message in caught.value.message()
    assert _rms(_synthesize(client, SENTENCES["en"], "male", "en")) > 0.02


def _growing(chunks: list[np.ndarray]) -> bool:
    """Chunk sizes as the config declares them: the first chunk_ms (100 ms), each next twice the
    one before up to max_chunk_ms (800 ms); only the last may be shorter."""
    size = SAMPLE_RATE // 10
    for chunk in chunks[:-1]:
        if chunk.size != size:
            return False
        size = min(2 * size, 8 * SAMPLE_RATE // 10)
    return bool(chunks) and chunks[-1].size <= size


def test_streaming_matches_unary(client):
    """The streamed chunks (100 ms first, then growing) concatenate to audio as long as the unary
    model's for the same text."""
    unary = _synthesize(client, SENTENCES["hi"], "female", "hi")
    chunks, _, _, errors = _stream(client, SENTENCES["hi"], "female", "hi")
    assert not errors
    assert len(chunks) >= 3
    assert _growing(chunks)
    streamed = np.concatenate(chunks)
    assert abs(streamed.size - unary.size) <= SAMPLE_RATE // 20
    assert _rms(streamed) > 0.02


def test_streaming_first_chunk_arrives_early(client):
    """For a long paragraph the first chunk arrives well before the last one is produced."""
    chunks, arrivals, final_at, errors = _stream(client, PARAGRAPH, "male", "en")
    assert not errors
    assert len(chunks) > 100
    assert arrivals == sorted(arrivals)
    assert arrivals[0] < 0.5 * arrivals[-1] <= final_at


def test_streaming_rate_changes_duration(client):
    """SPEAKING_RATE 2 gives clearly shorter audio than the default rate."""
    normal = np.concatenate(_stream(client, SENTENCES["en"], "male", "en")[0])
    fast = np.concatenate(_stream(client, SENTENCES["en"], "male", "en", rate=2.0)[0])
    assert fast.size < 0.75 * normal.size


@pytest.mark.parametrize(
    ("speaker", "language", "rate", "message"),
    [("male", "xx", None, "language"), ("robot", "hi", None, "speaker"), ("male", "en", 9.0, "SPEAKING_RATE")],
    ids=["unknown-language", "unknown-speaker", "rate-out-of-range"],
)
def test_streaming_bad_input_errors_then_finishes(client, speaker, language, rate, message):
    """A bad streaming request gets one error naming the problem, then the final flag; the model keeps serving."""
    # ModelStreamInferResponse carries only error_message, not the code: the message is what a client sees.
    chunks, _, _, errors = _stream(client, "hello there", speaker, language, rate=rate)
    assert not chunks
    assert len(errors) == 1
    assert message in str(errors[0])
    assert _stream(client, "hello there", "female", "en")[0]


class _Streams:
    """Several tts_streaming requests in flight at once, one client (and stream) each; every
    response's arrival is recorded in one order, so tests compare orderings, not times."""

    def __init__(self, triton: Triton, count: int) -> None:
        self.clients = [grpcclient.InferenceServerClient(triton.url) for _ in range(count)]
        self.events: queue.Queue[tuple[int, str, np.ndarray | None]] = queue.Queue()
        for index, client in enumerate(self.clients):
            client.start_stream(callback=lambda result, error, i=index: self._record(i, result, error))

    def _record(self, index: int, result: object, error: Exception | None) -> None:
        if error is not None:
            self.events.put((index, "error", None))
            return
        chunk = result.as_numpy("OUTPUT_AUDIO_CHUNK")
        if chunk is not None and chunk.size:
            self.events.put((index, "chunk", chunk))
        if result.get_response().parameters["triton_final_response"].bool_param:
            self.events.put((index, "final", None))

    def send(self, index: int, text: str) -> None:
        self.clients[index].async_stream_infer("tts_streaming", _text_inputs(text, "male", "en"),
                                               enable_empty_final_response=True)

    def until_final(self, indexes: set[int]) -> list[tuple[int, str, np.ndarray | None]]:
        seen: list[tuple[int, str, np.ndarray | None]] = []
        waiting = set(indexes)
        while waiting:
            event = self.events.get(timeout=60)
            seen.append(event)
            if event[1] in ("final", "error"):
                waiting.discard(event[0])
        return seen

    def close(self, cancel: bool = False) -> None:
        for client in self.clients:
            client.stop_stream(cancel_requests=cancel)
            client.close()


def test_new_streams_first_audio_comes_before_the_long_ones_rest(triton):
    """Two long paragraphs keep both instances busy; short requests sent after them still get their
    first audio before either paragraph has finished, with growing chunks and whole audio each."""
    streams = _Streams(triton, 5)
    try:
        streams.send(0, PARAGRAPH)
        streams.send(1, PARAGRAPH)
        first = streams.events.get(timeout=60)  # both paragraphs are being spoken
        for index in (2, 3, 4):
            streams.send(index, SENTENCES["en"])
        seen = [first, *streams.until_final({0, 1, 2, 3, 4})]
    finally:
        streams.close()
    assert not [e for e in seen if e[1] == "error"]
    position = {}
    for n, (index, kind, _) in enumerate(seen):
        position.setdefault((index, kind), n)
    for index in (2, 3, 4):
        assert position[(index, "chunk")] < min(position[(0, "final")], position[(1, "final")])
    alone = np.concatenate(_stream(triton_client(triton), SENTENCES["en"], "male", "en")[0])
    for index in (2, 3, 4):
        chunks = [chunk for i, kind, chunk in seen if i == index and kind == "chunk"]
        assert _growing(chunks)
        together = np.concatenate(chunks)
        # Cut into pieces under load: a cut adds espeak's clause-final lengthening, nothing is lost.
        assert alone.size <= together.size + SAMPLE_RATE // 20 <= 1.25 * alone.size + SAMPLE_RATE // 20
        assert _rms(together) > 0.02


def test_cancelled_stream_ends_and_the_model_keeps_serving(triton, client):
    """Paragraphs cancelled after their first chunk (on both instances) leave the worker serving:
    the next request is spoken in full."""
    streams = _Streams(triton, 2)
    streams.send(0, PARAGRAPH)
    streams.send(1, PARAGRAPH)
    assert {streams.events.get(timeout=60)[1], streams.events.get(timeout=60)[1]} == {"chunk"}
    streams.close(cancel=True)
    for _ in range(2):
        chunks, _, _, errors = _stream(client, SENTENCES["en"], "female", "en")
        assert not errors and len(chunks) >= 3


def triton_client(triton: Triton) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(triton.url)
