"""Quality checks through Triton: every advertised TTS voice speaks (non-silent audio of a
plausible duration), and the ASR word error rate on synthesized, noised English speech."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

from bench.data import ENGLISH, SENTENCES
from bench.loadgen import to_inputs

TTS_RATE = 22050
ASR_RATE = 16000
# Non-silent: RMS of the float samples above this (espeak-ng speech sits around 0.05-0.2).
MIN_RMS = 0.01
# Plausible duration: characters of text per second of audio within these bounds (read
# speech is ~10-20; a voice that reads nothing, or spells every letter, falls outside).
MIN_CHARS_PER_S = 3.0
MAX_CHARS_PER_S = 40.0


def config_parameter(config: Path, key: str) -> str:
    match = re.search(r'key:\s*"' + re.escape(key) + r'"\s*value:\s*\{\s*string_value:\s*"([^"]*)"',
                      config.read_text())
    return match.group(1) if match else ""


def synthesize(client: grpcclient.InferenceServerClient, text: str, speaker: str, lang: str) -> np.ndarray:
    row = {"INPUT_TEXT": np.array([text.encode()], dtype=np.object_),
           "INPUT_SPEAKER_ID": np.array([speaker.encode()], dtype=np.object_),
           "INPUT_LANGUAGE_ID": np.array([lang.encode()], dtype=np.object_)}
    result = client.infer("tts", to_inputs(row))  # type: ignore[arg-type]
    return np.asarray(result.as_numpy("OUTPUT_GENERATED_AUDIO"), dtype=np.float32).reshape(-1)


def check_voices(client: grpcclient.InferenceServerClient, voices: list[str]) -> list[dict[str, Any]]:
    rows = []
    for voice in voices:
        lang, _, speaker = voice.rpartition("-")
        text = SENTENCES.get(lang)
        row: dict[str, Any] = {"voice": voice, "ok": False}
        if text is None:
            rows.append({**row, "error": f"no test sentence for language '{lang}'"})
            continue
        try:
            audio = synthesize(client, text, speaker, lang)
        except Exception as exc:  # noqa: BLE001 - reported per voice
            rows.append({**row, "error": str(exc)[:200]})
            continue
        duration = audio.size / TTS_RATE
        rms = float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0
        chars = len(text.replace(" ", ""))
        cps = chars / duration if duration else float("inf")
        ok = rms >= MIN_RMS and MIN_CHARS_PER_S <= cps <= MAX_CHARS_PER_S
        rows.append({**row, "ok": ok, "seconds": round(duration, 2), "rms": round(rms, 4),
                     "chars_per_s": round(cps, 1)})
    return rows


def to_asr_input(audio_22k: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """22.05 kHz TTS audio -> 16 kHz with Gaussian noise at `snr_db` (resampled by soxr)."""
    import soxr

    audio = soxr.resample(audio_22k.astype(np.float32), TTS_RATE, ASR_RATE).astype(np.float32)
    power = float(np.mean(np.square(audio)))
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10.0)), audio.shape)
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def english_clips(client: grpcclient.InferenceServerClient, speakers: list[str], snr_db: float = 30.0,
                  seed: int = 1234) -> list[tuple[str, str, np.ndarray]]:
    """(speaker, reference, 16 kHz noised clip) for every English sentence and en voice."""
    rng = np.random.default_rng(seed)
    return [(speaker, text, to_asr_input(synthesize(client, text, speaker, "en"), snr_db, rng))
            for speaker in speakers for text in ENGLISH]


def recognize(client: grpcclient.InferenceServerClient, clip: np.ndarray, model: str = "asr_am_ensemble") -> str:
    row = {"AUDIO_SIGNAL": clip.reshape(1, -1), "NUM_SAMPLES": np.array([[clip.size]], dtype=np.int32),
           "LANG_ID": np.array([[b"en"]], dtype=np.object_)}
    result = client.infer(model, to_inputs(row))  # type: ignore[arg-type]
    value = result.as_numpy("TRANSCRIPTS").reshape(-1)[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def normalize(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions cost 1)."""
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, other in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        previous = current
    return previous[-1]


def wer(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER: total word edits over total reference words, over (reference, hypothesis) pairs."""
    edits = sum(edit_distance(normalize(ref), normalize(hyp)) for ref, hyp in pairs)
    words = sum(len(normalize(ref)) for ref, _ in pairs)
    return edits / words if words else 0.0


def transliteration_accuracy(client: grpcclient.InferenceServerClient, held_out: dict[str, dict[str, str]],
                             top_k: int = 5, model: str = "transliteration") -> dict[str, dict[str, Any]]:
    """Per language: share of held-out romanized words whose accepted spelling is the model's first
    candidate (top-1) or among its first `top_k` (top-k), through Triton at word level."""
    result: dict[str, dict[str, Any]] = {}
    for lang, words in held_out.items():
        romanized = list(words)
        n = len(romanized)
        tensors = {
            "INPUT_TEXT": np.array([[w.encode()] for w in romanized], dtype=np.object_),
            "INPUT_LANGUAGE_ID": np.array([[b"en"]] * n, dtype=np.object_),
            "OUTPUT_LANGUAGE_ID": np.array([[lang.encode()]] * n, dtype=np.object_),
            "IS_WORD_LEVEL": np.ones((n, 1), dtype=np.bool_),
            "TOP_K": np.full((n, 1), top_k, dtype=np.uint8),
        }
        inputs = []
        for name, value in tensors.items():
            tensor = grpcclient.InferInput(name, list(value.shape), "BOOL" if value.dtype == np.bool_ else
                                           "UINT8" if value.dtype == np.uint8 else "BYTES")
            tensor.set_data_from_numpy(value)
            inputs.append(tensor)
        out = client.infer(model, inputs, outputs=[grpcclient.InferRequestedOutput("OUTPUT_TEXT")])
        rows = out.as_numpy("OUTPUT_TEXT").reshape(n, -1)
        top1 = topk = 0
        misses = []
        for word, row in zip(romanized, rows, strict=True):
            candidates = [c.decode() for c in row if c]
            accepted = set(words[word].split("|"))
            top1 += bool(candidates) and candidates[0] in accepted
            topk += bool(accepted.intersection(candidates[:top_k]))
            if not candidates or candidates[0] not in accepted:
                misses.append({"word": word, "expected": words[word], "got": candidates[:3]})
        result[lang] = {"words": n, "top1": top1 / n, "topk": topk / n, "k": top_k, "misses": misses}
    return result
