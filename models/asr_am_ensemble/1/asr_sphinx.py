"""PocketSphinx helpers shared by the unary and the streaming ASR models (the streaming
model's folder links to this file)."""

from __future__ import annotations

import math

import numpy as np
from pocketsphinx import Decoder, NGramModel


def to_pcm16(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float [-1, 1] -> int16 with about one LSB of dither: PocketSphinx's noise estimate and
    feature normalisation break down on runs of exact digital zeros."""
    scaled = samples.astype(np.float64) * 32767.0 + rng.uniform(-1.0, 1.0, samples.shape)
    return np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)


def words_of(decoder: Decoder, frame_rate: int) -> list[dict]:
    """The recognised words with times in seconds; silences, fillers ([NOISE]) and
    sentence markers (<s>, </s>) are left out, pronunciation variants (`word(2)`) merged,
    boosted phrases split back into their words."""
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
    return split_boosted(words)


def decode_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise ValueError(f"expected UTF-8 bytes, got {type(value).__name__}")


# --- word boosting (speech contexts) ----------------------------------------------------------
#
# A boosted phrase becomes one new word of the language model: an alias ("taj_mahal+boost")
# whose pronunciation is its words' pronunciations joined, with a unigram weight of
# 10 ** (BOOST_LOG10_PER_UNIT * boost) relative to the uniform distribution. The alias has no
# bigrams, so it competes with the model's own words through backoff, and one LM score covers
# the whole phrase. Existing words are never touched (adding a unigram that already exists
# corrupts PocketSphinx's trie), so the default search is exactly as before and a request
# without phrases decodes as it always did. The boosted LM is a copy of the model's, loaded
# writable (about 30 MB) into a search of its own; the default search is restored after use.
# Words the dictionary lacks cannot be boosted (PocketSphinx has no grapheme-to-phoneme
# model); their phrases are reported back as ignored.

BOOST_SUFFIX = "+boost"
BOOST_LOG10_PER_UNIT = 0.3  # boost 20 -> unigram weight 1e6 (bench/README.md: asr_boost)
DEFAULT_BOOST = 15.0
_DEFAULT_SEARCH = "_default"


def boost_inputs(request: object, get_input: object, rows: int) -> list[list[tuple[str, float]]]:
    """Per row, the (phrase, boost) pairs of the optional BOOST_PHRASES (STRING [rows, P]) and
    BOOST_SCORES (FP32 [rows, P]) tensors of one request; "" pads a row's phrases, a score of
    0 means DEFAULT_BOOST, no BOOST_SCORES means DEFAULT_BOOST for all. Empty lists when absent.
    ValueError says what is wrong with them."""
    phrases_t = get_input(request, "BOOST_PHRASES")  # type: ignore[operator]
    if phrases_t is None:
        return [[] for _ in range(rows)]
    phrases = phrases_t.as_numpy()
    if phrases.ndim != 2 or phrases.shape[0] != rows:
        raise ValueError(f"BOOST_PHRASES must be [{rows}, phrases], got shape {list(phrases.shape)}")
    scores_t = get_input(request, "BOOST_SCORES")  # type: ignore[operator]
    scores = scores_t.as_numpy() if scores_t is not None else np.zeros(phrases.shape, np.float32)
    if scores.shape != phrases.shape:
        raise ValueError(f"BOOST_SCORES has shape {list(scores.shape)}, BOOST_PHRASES {list(phrases.shape)}")
    out = []
    for row in range(rows):
        pairs = []
        for i, (phrase, score) in enumerate(zip(phrases[row], scores[row], strict=True)):
            text, value = decode_text(phrase), float(score)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"row {row}: BOOST_SCORES[{i}] must be a finite number >= 0, got {value}")
            if text.strip():
                pairs.append((text, value or DEFAULT_BOOST))
        out.append(pairs)
    return out


def phrase_words(phrase: str) -> list[str]:
    return phrase.lower().split()


def unboost_word(word: str) -> list[str]:
    """The words an alias stands for (a plain word stands for itself)."""
    return word.removesuffix(BOOST_SUFFIX).split("_") if word.endswith(BOOST_SUFFIX) else [word]


def unboost_text(text: str) -> str:
    return " ".join(w for word in text.split() for w in unboost_word(word))


def split_boosted(words: list[dict]) -> list[dict]:
    """Word times with each alias split back into its words, its time shared evenly."""
    out = []
    for w in words:
        parts = unboost_word(w["word"])
        if len(parts) == 1:
            out.append({**w, "word": parts[0]})
            continue
        step = (w["end_s"] - w["start_s"]) / len(parts)
        for i, part in enumerate(parts):
            out.append({**w, "word": part, "start_s": round(w["start_s"] + i * step, 3),
                        "end_s": round(w["start_s"] + (i + 1) * step, 3)})
    return out


class Booster:
    """Switches one decoder between its default search and a boosted one. The last boosted
    search is kept (keyed by its phrases and weights), so repeated requests with the same
    phrases pay for building it once."""

    def __init__(self, decoder: Decoder) -> None:
        self.decoder = decoder
        self.key: tuple[tuple[str, float], ...] | None = None
        self.count = 0

    def apply(self, boosts: list[tuple[str, float]]) -> list[str]:
        """Activates the search for `boosts` (the default one when empty), between utterances.
        Returns the phrases that were ignored (a word not in the dictionary)."""
        if not boosts:
            self.reset()
            return []
        decoder = self.decoder
        aliases: dict[str, float] = {}
        ignored = []
        for phrase, boost in boosts:
            words = phrase_words(phrase)
            pronunciations = [decoder.lookup_word(w) for w in words]
            if not words or any(p is None for p in pronunciations) or any("_" in w or "+" in w for w in words):
                ignored.append(phrase)
                continue
            alias = "_".join(words) + BOOST_SUFFIX
            aliases[alias] = max(boost, aliases.get(alias, 0.0))
            if decoder.lookup_word(alias) is None:
                # update=True: the decoder's phone tables (dict2pid) must know the new word's
                # cross-word triphones, or it is scored with the wrong models.
                decoder.add_word(alias, " ".join(pronunciations), True)  # type: ignore[arg-type]
        key = tuple(sorted(aliases.items()))
        if not key:
            self.reset()
            return ignored
        if key != self.key:
            config = decoder.config
            config["mmap"] = False  # the copy must be writable to take new unigrams
            lm = NGramModel(config, decoder.logmath, config["lm"])
            for alias, boost in key:
                lm.add_word(alias, 10.0 ** (BOOST_LOG10_PER_UNIT * boost))
            self.reset(drop=True)
            self.count += 1
            decoder.add_lm(f"boost{self.count}", lm)
            self.key = key
        decoder.activate_search(f"boost{self.count}")
        return ignored

    def reset(self, drop: bool = False) -> None:
        """Back to the default search; `drop` also frees the boosted one."""
        if self.decoder.current_search() != _DEFAULT_SEARCH:
            self.decoder.activate_search(_DEFAULT_SEARCH)
        if drop and self.key is not None:
            self.decoder.remove_search(f"boost{self.count}")
            self.key = None
