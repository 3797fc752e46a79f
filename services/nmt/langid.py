"""Language identification from script and a few script-internal letters.

Indian languages mostly own a script, so the Unicode block of the letters decides most cases;
for scripts shared by several languages (Devanagari, Bengali-Assamese, Perso-Arabic) letters
that only one language uses tip the balance, and the rest of the script's languages are still
returned as lower-ranked candidates.
"""

from __future__ import annotations

import dataclasses
import functools
import unicodedata

# (first, last, candidates by prior): the first is the script's most common language.
_BLOCKS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0x0900, 0x097F, ("hi", "mr", "ne", "sa", "kok", "mai", "doi", "brx")),
    (0x0980, 0x09FF, ("bn", "as")),
    (0x0A00, 0x0A7F, ("pa",)),
    (0x0A80, 0x0AFF, ("gu",)),
    (0x0B00, 0x0B7F, ("or",)),
    (0x0B80, 0x0BFF, ("ta",)),
    (0x0C00, 0x0C7F, ("te",)),
    (0x0C80, 0x0CFF, ("kn",)),
    (0x0D00, 0x0D7F, ("ml",)),
    (0x0600, 0x06FF, ("ur", "ks", "sd")),
    (0x0750, 0x077F, ("ur", "ks", "sd")),
    (0xFB50, 0xFDFF, ("ur", "ks", "sd")),
    (0x1C50, 0x1C7F, ("sat",)),
    (0xABC0, 0xABFF, ("mni",)),
    (0x0041, 0x005A, ("en",)),
    (0x0061, 0x007A, ("en",)),
)

# Letters that mark one language within a shared script.
_MARKERS: dict[str, str] = {
    "\u09f0": "as", "\u09f1": "as",  # Assamese ra, wa
    "\u0933": "mr",  # Devanagari LLA, common in Marathi, absent from Hindi
    "\u067a": "sd", "\u067b": "sd", "\u0680": "sd", "\u0684": "sd", "\u0683": "sd", "\u0687": "sd",
    "\u068a": "sd", "\u068c": "sd", "\u068d": "sd", "\u068f": "sd", "\u06b3": "sd", "\u06bb": "sd",
    "\u0679": "ur", "\u0688": "ur", "\u0691": "ur", "\u06ba": "ur", "\u06d2": "ur",
}


@dataclasses.dataclass(frozen=True)
class Guess:
    language_code: str
    confidence: float


def _block(ch: str) -> tuple[str, ...] | None:
    point = ord(ch)
    for first, last, candidates in _BLOCKS:
        if first <= point <= last:
            return candidates
    return None


@functools.lru_cache(maxsize=4096)
def _letter_block(ch: str) -> tuple[str, ...] | None:
    """`_block` of a letter or vowel sign, None for anything else (digits, danda, spaces): a text
    repeats its characters, so this is asked once per distinct one."""
    candidates = _block(ch)
    if candidates is None or unicodedata.category(ch)[0] not in "LM":
        return None
    return candidates


def detect(text: str, limit: int = 3) -> list[Guess]:
    """Ranked guesses, best first; empty when the text has no letters of a known script."""
    script_votes: dict[tuple[str, ...], int] = {}
    markers: dict[str, int] = {}
    letters = 0
    for ch in text:
        candidates = _letter_block(ch)
        if candidates is None:
            continue
        letters += 1
        script_votes[candidates] = script_votes.get(candidates, 0) + 1
        marker = _MARKERS.get(ch)
        if marker:
            markers[marker] = markers.get(marker, 0) + 1
    if not letters:
        return []
    candidates, votes = max(script_votes.items(), key=lambda item: item[1])
    share = votes / letters
    ranked = list(candidates)
    marked = [lang for lang in ranked if markers.get(lang)]
    if marked:
        best = max(marked, key=lambda lang: markers[lang])
        ranked.remove(best)
        ranked.insert(0, best)
    if len(candidates) == 1:
        top = share
    else:
        top = share * (0.9 if marked else 0.7)
    rest = (share - top) / max(1, len(ranked) - 1)
    guesses = [Guess(ranked[0], round(top, 3))]
    # Only the `limit` returned are built (a script's list of languages runs to 8).
    guesses += [Guess(lang, round(rest, 3)) for lang in ranked[1:max(1, limit)]]
    return guesses[:limit]
