"""PocketSphinx helpers shared by the unary and the streaming ASR models (the streaming
model's folder links to this file)."""

from __future__ import annotations

import math

import numpy as np
from pocketsphinx import Decoder


def to_pcm16(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float [-1, 1] -> int16 with about one LSB of dither: PocketSphinx's noise estimate and
    feature normalisation break down on runs of exact digital zeros."""
    scaled = samples.astype(np.float64) * 32767.0 + rng.uniform(-1.0, 1.0, samples.shape)
    return np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)


def words_of(decoder: Decoder, frame_rate: int) -> list[dict]:
    """The recognised words with times in seconds; silences, fillers ([NOISE]) and
    sentence markers (<s>, </s>) are left out, pronunciation variants (`word(2)`) merged."""
    words = []
    for seg in decoder.seg():
        word = seg.word
        if not word or word[0] in "<[":
            continue
        base, paren, _ = word.partition("(")
        confidence = float(seg.prob)
        words.append({
            "word": base if paren and base else word,
            "start_s": round(seg.start_frame / frame_rate, 3),
            "end_s": round((seg.end_frame + 1) / frame_rate, 3),
            "confidence": round(min(1.0, max(0.0, confidence)), 4) if math.isfinite(confidence) else 0.0,
        })
    return words


def decode_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise ValueError(f"expected UTF-8 bytes, got {type(value).__name__}")
