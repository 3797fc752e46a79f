"""The reference ASR models (asr_am_ensemble, asr_streaming) on a real tritonserver, fed English
speech synthesised by eSpeak NG (the `espeakng-loader` wheel) at 16 kHz."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from deploy.local.parts import ROOT, Triton, free_port
from tests.audio_util import RATE, speech, word_errors

CHUNK = RATE // 10  # 100 ms

# Measured with these sentences and the seeds below: corpus WER 0.24 (8 errors in 33 words)
# from the wheel's en-US model on eSpeak's voice; the bound leaves room for other builds.
WER_BOUND = 0.5
SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "hello world",
    "one two three four five",
    "good morning how are you today",
    "please call me at nine one one",
    "seven eight nine zero",
]


# --- the server -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server() -> Iterator[Triton]:
    run_dir = Path(tempfile.mkdtemp(prefix="ai4vc-asr-"))
    repo = run_dir / "models"
    repo.mkdir()
    for name in ("asr_am_ensemble", "asr_streaming"):
        (repo / name).symlink_to(ROOT / "models" / name)
    triton = Triton(run_dir, free_port(), free_port(), free_port(), model_repository=repo)
    triton.start()
    yield triton
    triton.stop()
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def client(server: Triton) -> Iterator[grpcclient.InferenceServerClient]:
    with grpcclient.InferenceServerClient(server.url) as triton_client:
        yield triton_client


def _boost_inputs(phrases: list[list[str]], scores: list[list[float]] | None) -> list[grpcclient.InferInput]:
    """BOOST_PHRASES / BOOST_SCORES for rows of phrases ("" pads the shorter rows)."""
    width = max(len(row) for row in phrases)
    text = np.array([[p.encode() for p in row] + [b""] * (width - len(row)) for row in phrases], dtype=np.object_)
    tensors = [grpcclient.InferInput("BOOST_PHRASES", list(text.shape), "BYTES")]
    tensors[0].set_data_from_numpy(text)
    if scores is not None:
        values = np.array([row + [0.0] * (width - len(row)) for row in scores], dtype=np.float32)
        tensors.append(grpcclient.InferInput("BOOST_SCORES", list(values.shape), "FP32"))
        tensors[1].set_data_from_numpy(values)
    return tensors


def _unary_inputs(rows: list[np.ndarray], langs: list[str] | None = None,
                  counts: list[int] | None = None, boosts: list[list[str]] | None = None,
                  scores: list[list[float]] | None = None) -> list[grpcclient.InferInput]:
    width = max((len(r) for r in rows), default=0)
    audio = np.zeros((len(rows), width), dtype=np.float32)
    for i, samples in enumerate(rows):
        audio[i, :len(samples)] = samples
    num = np.array([[c] for c in (counts if counts is not None else [len(r) for r in rows])], dtype=np.int32)
    lang = np.array([[code.encode()] for code in (langs or ["en"] * len(rows))], dtype=np.object_)
    inputs = [grpcclient.InferInput("AUDIO_SIGNAL", list(audio.shape), "FP32"),
              grpcclient.InferInput("NUM_SAMPLES", list(num.shape), "INT32"),
              grpcclient.InferInput("LANG_ID", list(lang.shape), "BYTES")]
    for tensor, value in zip(inputs, (audio, num, lang), strict=True):
        tensor.set_data_from_numpy(value)
    return inputs + (_boost_inputs(boosts, scores) if boosts is not None else [])


def recognize(client: grpcclient.InferenceServerClient, rows: list[np.ndarray],
              **kwargs: object) -> tuple[list[str], list[list[dict]]]:
    result = client.infer("asr_am_ensemble", _unary_inputs(rows, **kwargs),
                          outputs=[grpcclient.InferRequestedOutput("TRANSCRIPTS"),
                                   grpcclient.InferRequestedOutput("WORD_TIMES")])
    texts = [v.decode() for v in result.as_numpy("TRANSCRIPTS").reshape(-1)]
    times = [json.loads(v) for v in result.as_numpy("WORD_TIMES").reshape(-1)]
    return texts, times


def send_chunk(client: grpcclient.InferenceServerClient, corrid: int, chunk: np.ndarray, *, start: bool = False,
               end: bool = False, lang: str = "en", boosts: list[str] | None = None,
               scores: list[float] | None = None, prepare: bool = False) -> tuple[str, bool, list[dict]]:
    audio = chunk.reshape(1, -1).astype(np.float32)
    inputs = [grpcclient.InferInput("AUDIO_CHUNK", list(audio.shape), "FP32"),
              grpcclient.InferInput("LANG_ID", [1, 1], "BYTES")]
    inputs[0].set_data_from_numpy(audio)
    inputs[1].set_data_from_numpy(np.array([[lang.encode()]], dtype=np.object_))
    if boosts is not None:
        inputs += _boost_inputs([boosts], [scores] if scores is not None else None)
    if prepare:
        inputs.append(grpcclient.InferInput("PREPARE_FINAL", [1, 1], "INT32"))
        inputs[-1].set_data_from_numpy(np.ones((1, 1), np.int32))
    result = client.infer("asr_streaming", inputs, sequence_id=corrid, sequence_start=start, sequence_end=end)
    return (result.as_numpy("TRANSCRIPT")[0, 0].decode(), bool(result.as_numpy("IS_FINAL")[0, 0]),
            json.loads(result.as_numpy("WORD_TIMES")[0, 0]))


def stream(client: grpcclient.InferenceServerClient, corrid: int, audio: np.ndarray,
           boosts: list[str] | None = None) -> list[tuple[str, bool, list]]:
    chunks = [audio[i:i + CHUNK] for i in range(0, len(audio), CHUNK)]
    return [send_chunk(client, corrid, c, start=i == 0, end=i == len(chunks) - 1,
                       boosts=boosts if i == 0 else None) for i, c in enumerate(chunks)]


def assert_invalid_argument(excinfo: pytest.ExceptionInfo[InferenceServerException]) -> None:
    assert excinfo.value.status() == "StatusCode.INVALID_ARGUMENT", excinfo.value


def assert_word_times(words: list[dict], duration_s: float) -> None:
    assert words
    for word in words:
        assert word["word"] and word["word"][0] not in "<["
        assert 0.0 <= word["start_s"] < word["end_s"] <= duration_s + 0.01
        assert 0.0 <= word["confidence"] <= 1.0
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


# --- tests ------------------------------------------------------------------------------------

def test_configs_declare_capability(client: grpcclient.InferenceServerClient) -> None:
    """Both models declare task, language, rate, streaming and backend in their parameters."""
    for model, streaming in (("asr_am_ensemble", "false"), ("asr_streaming", "true")):
        params = client.get_model_config(model, as_json=True)["config"]["parameters"]
        declared = {key: value["string_value"] for key, value in params.items()}
        assert declared["task"] == "asr"
        assert declared["languages"] == "en"
        assert declared["sample_rate_hertz"] == "16000"
        assert declared["streaming"] == streaming
        assert declared["backend_name"] == "pocketsphinx"
    assert declared["chunk_ms"] == "100"


def test_unary_english_speech_within_wer_bound(client: grpcclient.InferenceServerClient) -> None:
    """Synthesised English sentences come back with corpus WER within WER_BOUND."""
    errors = words = 0
    for sentence in SENTENCES:
        [text], _ = recognize(client, [speech(sentence)])
        errors += word_errors(sentence, text)
        words += len(sentence.split())
        print(f"{sentence!r} -> {text!r}")
    print(f"corpus WER {errors / words:.3f} ({errors}/{words})")
    assert errors / words <= WER_BOUND
    assert recognize(client, [speech("hello world")])[0] == ["hello world"]


def test_unary_word_times_lie_within_the_audio(client: grpcclient.InferenceServerClient) -> None:
    """WORD_TIMES lists the transcript's words in order, inside the audio, without fillers."""
    audio = speech(SENTENCES[3])
    [text], [words] = recognize(client, [audio])
    assert [w["word"] for w in words] == text.split()
    assert_word_times(words, len(audio) / RATE)


def test_batch_of_three_in_order_ignoring_padding(client: grpcclient.InferenceServerClient) -> None:
    """A padded batch of three utterances gives each row the transcript it gets alone."""
    rows = [speech(s) for s in (SENTENCES[1], SENTENCES[2], SENTENCES[3])]
    alone = [recognize(client, [row])[0][0] for row in rows]
    batched, _ = recognize(client, rows)
    assert batched == alone
    assert batched[0] == "hello world"
    assert len(set(batched)) == 3


def test_streaming_partials_then_final_with_word_times(client: grpcclient.InferenceServerClient) -> None:
    """100 ms chunks give non-final partials, then one final close to the unary transcript."""
    sentence = SENTENCES[3]
    audio = speech(sentence)
    responses = stream(client, 101, audio)
    assert [final for _, final, _ in responses] == [False] * (len(responses) - 1) + [True]
    partials = [text for text, final, _ in responses if not final and text]
    assert partials, "no partial hypothesis before the end"
    assert all(words == [] for _, final, words in responses if not final)
    final_text, _, words = responses[-1]
    [unary], _ = recognize(client, [audio])
    # The final is a second pass over the same samples with the same dither: the unary answer.
    assert final_text == unary
    assert word_errors(sentence, final_text) / len(sentence.split()) <= WER_BOUND
    assert [w["word"] for w in words] == final_text.split()
    assert_word_times(words, len(audio) / RATE)


def test_streaming_english_speech_within_wer_bound(client: grpcclient.InferenceServerClient) -> None:
    """Synthesised English sentences streamed in 100 ms chunks end with corpus WER within WER_BOUND."""
    errors = words = 0
    for number, sentence in enumerate(SENTENCES):
        text = stream(client, 500 + number, speech(sentence))[-1][0]
        errors += word_errors(sentence, text)
        words += len(sentence.split())
        print(f"{sentence!r} -> {text!r}")
    print(f"streaming corpus WER {errors / words:.3f} ({errors}/{words})")
    assert errors / words <= WER_BOUND


def test_interleaved_streams_keep_their_own_state(client: grpcclient.InferenceServerClient) -> None:
    """Two streams fed chunk by chunk in turn each end with their own transcript."""
    audios = {201: speech("hello world"), 202: speech(SENTENCES[2])}
    expected = {cid: stream(client, cid + 1000, audio)[-1][0] for cid, audio in audios.items()}
    chunks = {cid: [a[i:i + CHUNK] for i in range(0, len(a), CHUNK)] for cid, a in audios.items()}
    finals: dict[int, str] = {}
    for step in range(max(len(c) for c in chunks.values())):
        for cid, parts in chunks.items():
            if step < len(parts):
                text, final, _ = send_chunk(client, cid, parts[step], start=step == 0, end=step == len(parts) - 1)
                if final:
                    finals[cid] = text
    assert finals == expected
    assert finals[201] != finals[202]
    assert finals[202].endswith("three four five")


@pytest.mark.parametrize("case", ["language", "nan", "inf", "empty", "num_samples_too_large", "num_samples_negative"])
def test_unary_bad_input_is_invalid_argument(client: grpcclient.InferenceServerClient, case: str) -> None:
    """Bad unary input is INVALID_ARGUMENT for that request, and the model keeps serving."""
    audio = speech("hello world").copy()
    kwargs: dict = {}
    if case == "language":
        kwargs["langs"] = ["xx"]
    elif case == "nan":
        audio[100] = np.nan
    elif case == "inf":
        audio[100] = np.inf
    elif case == "empty":
        audio = audio[:0]
    elif case == "num_samples_too_large":
        kwargs["counts"] = [len(audio) + 1]
    else:
        kwargs["counts"] = [-1]
    with pytest.raises(InferenceServerException) as excinfo:
        recognize(client, [audio], **kwargs)
    assert_invalid_argument(excinfo)
    assert recognize(client, [speech("hello world")])[0] == ["hello world"]


def test_streaming_bad_input_is_invalid_argument(client: grpcclient.InferenceServerClient) -> None:
    """A chunk without START, an unserved language or NaN samples are INVALID_ARGUMENT; a bad
    chunk mid-stream leaves the stream usable."""
    audio = speech("hello world")
    clean = stream(client, 300, audio)[-1][0]
    with pytest.raises(InferenceServerException) as excinfo:
        send_chunk(client, 301, audio[:CHUNK])
    assert_invalid_argument(excinfo)
    with pytest.raises(InferenceServerException) as excinfo:
        send_chunk(client, 302, audio[:CHUNK], start=True, lang="xx")
    assert_invalid_argument(excinfo)

    chunks = [audio[i:i + CHUNK] for i in range(0, len(audio), CHUNK)]
    send_chunk(client, 303, chunks[0], start=True)
    poisoned = chunks[1].copy()
    poisoned[0] = np.nan
    with pytest.raises(InferenceServerException) as excinfo:
        send_chunk(client, 303, poisoned)
    assert_invalid_argument(excinfo)
    with pytest.raises(InferenceServerException) as excinfo:
        send_chunk(client, 303, chunks[1], lang="xx")
    assert_invalid_argument(excinfo)
    for i, chunk in enumerate(chunks[1:], 1):
        text, final, _ = send_chunk(client, 303, chunk, end=i == len(chunks) - 1)
    assert final and text == clean and text.endswith("world")
    assert client.is_model_ready("asr_streaming") and client.is_model_ready("asr_am_ensemble")


def test_empty_end_chunk_closes_the_stream(client: grpcclient.InferenceServerClient) -> None:
    """An empty END chunk finalises the stream, after which its id needs START again."""
    audio = speech("hello world")
    clean = stream(client, 400, audio)[-1][0]
    for i in range(0, len(audio), CHUNK):
        send_chunk(client, 401, audio[i:i + CHUNK], start=i == 0)
    text, final, words = send_chunk(client, 401, audio[:0], end=True)
    assert final and text == clean and [w["word"] for w in words] == text.split()
    with pytest.raises(InferenceServerException) as excinfo:
        send_chunk(client, 401, audio[:CHUNK])
    assert_invalid_argument(excinfo)


def test_prepared_final_answers_an_empty_end(client: grpcclient.InferenceServerClient) -> None:
    """PREPARE_FINAL on the last chunk, then an empty END: the final is the second pass over that
    audio (the unary answer) with its word times, and the stream is closed."""
    audio = np.concatenate([speech(SENTENCES[0]), np.zeros(RATE * 3 // 10, np.float32)])
    chunks = [audio[i:i + CHUNK] for i in range(0, len(audio), CHUNK)]
    for i, chunk in enumerate(chunks):
        text, final, _ = send_chunk(client, 450, chunk, start=i == 0, prepare=i == len(chunks) - 1)
        assert not final
    text, final, words = send_chunk(client, 450, audio[:0], end=True)
    [unary], _ = recognize(client, [audio])
    assert final and text == unary and [w["word"] for w in words] == text.split()
    assert_word_times(words, len(audio) / RATE)
    with pytest.raises(InferenceServerException) as excinfo:
        send_chunk(client, 450, audio[:CHUNK])
    assert_invalid_argument(excinfo)


def test_audio_after_prepare_drops_the_prepared_final(client: grpcclient.InferenceServerClient) -> None:
    """Speech sent after a PREPARE_FINAL (the speaker went on) is in the final: what was prepared is dropped."""
    first, second = speech("hello world"), speech(SENTENCES[2])
    pause = np.zeros(RATE * 3 // 10, np.float32)
    head = [c for a in (first, pause) for c in (a[i:i + CHUNK] for i in range(0, len(a), CHUNK))]
    for i, chunk in enumerate(head):
        send_chunk(client, 460, chunk, start=i == 0, prepare=i == len(head) - 1)
    for i in range(0, len(second), CHUNK):
        send_chunk(client, 460, second[i:i + CHUNK])
    text, final, words = send_chunk(client, 460, second[:0], end=True)
    [unary], _ = recognize(client, [np.concatenate([first, pause, second])])
    assert final and text == unary and text.endswith("three four five")
    assert words[-1]["end_s"] > (first.size + pause.size) / RATE


# --- word boosting ----------------------------------------------------------------------------

# Sentences whose boosted phrase the unboosted model gets wrong on eSpeak's voice (measured:
# "lives nearby and everywhere", "the dartmouth ali akbar"); bench/asr_boost.py measures more.
BOOSTED = [("my uncle lives near the ganges river", "ganges river"),
           ("we visited the taj mahal in agra last summer", "taj mahal")]


@pytest.mark.parametrize(("sentence", "phrase"), BOOSTED)
def test_unary_boosting_recognizes_the_boosted_phrase(client: grpcclient.InferenceServerClient, sentence: str,
                                                      phrase: str) -> None:
    """A boosted phrase the plain model misses is recognized, with word times per word."""
    audio = speech(sentence)
    (plain,), _ = recognize(client, [audio])
    assert phrase not in plain
    result = client.infer("asr_am_ensemble", _unary_inputs([audio], boosts=[[phrase]], scores=[[20.0]]),
                          outputs=[grpcclient.InferRequestedOutput(n) for n in
                                   ("TRANSCRIPTS", "WORD_TIMES", "BOOST_IGNORED")])
    boosted = result.as_numpy("TRANSCRIPTS")[0, 0].decode()
    words = json.loads(result.as_numpy("WORD_TIMES")[0, 0])
    assert phrase in boosted, boosted
    assert word_errors(sentence, boosted) < word_errors(sentence, plain)
    assert [w["word"] for w in words] == boosted.split()
    assert_word_times(words, len(audio) / RATE)
    assert json.loads(result.as_numpy("BOOST_IGNORED")[0, 0]) == []


def test_unary_boosting_is_per_row_and_reports_unknown_words(client: grpcclient.InferenceServerClient) -> None:
    """In one batch only the row that boosts a phrase gets it; a phrase with a word the
    dictionary lacks is reported in BOOST_IGNORED."""
    sentence, phrase = BOOSTED[0]
    audio = speech(sentence)
    result = client.infer("asr_am_ensemble",
                          _unary_inputs([audio, audio], boosts=[[phrase, "xyzzyqx"], []], scores=[[20.0, 0.0], []]),
                          outputs=[grpcclient.InferRequestedOutput(n) for n in ("TRANSCRIPTS", "BOOST_IGNORED")])
    texts = [v.decode() for v in result.as_numpy("TRANSCRIPTS").reshape(-1)]
    ignored = [json.loads(v) for v in result.as_numpy("BOOST_IGNORED").reshape(-1)]
    assert phrase in texts[0] and phrase not in texts[1]
    assert ignored == [["xyzzyqx"], []]


def test_streaming_boosting_applies_to_the_final(client: grpcclient.InferenceServerClient) -> None:
    """Phrases boosted on START reach the final transcript, word times split per word."""
    sentence, phrase = BOOSTED[1]
    audio = speech(sentence)
    plain = stream(client, 500, audio)[-1][0]
    boosted = stream(client, 501, audio, boosts=[phrase])[-1]
    assert phrase not in plain and boosted[1] and phrase in boosted[0], boosted[0]
    assert [w["word"] for w in boosted[2]] == boosted[0].split()


@pytest.mark.parametrize("score", [-1.0, float("nan")])
def test_bad_boost_scores_are_invalid_argument(client: grpcclient.InferenceServerClient, score: float) -> None:
    """A negative or NaN boost is INVALID_ARG for that request, and the model keeps serving."""
    audio = speech("hello world")
    with pytest.raises(InferenceServerException) as excinfo:
        client.infer("asr_am_ensemble", _unary_inputs([audio], boosts=[["hello"]], scores=[[score]]))
    assert_invalid_argument(excinfo)
    assert recognize(client, [audio])[0][0]
