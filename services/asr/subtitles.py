"""SubRip and WebVTT files from word timings.

Cues are built greedily from the words: a cue ends before a word that would make it longer
than `max_cue_s` or `max_chars`, or that follows a pause longer than `max_gap_s`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class TimedWord:
    word: str
    start_s: float
    end_s: float


@dataclasses.dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def cues(words: Sequence[TimedWord], max_cue_s: float = 7.0, max_chars: int = 42,
         max_gap_s: float = 1.5) -> list[Cue]:
    out: list[Cue] = []
    current: list[TimedWord] = []
    for word in words:
        if current:
            text = " ".join(w.word for w in (*current, word))
            if (word.end_s - current[0].start_s > max_cue_s or len(text) > max_chars
                    or word.start_s - current[-1].end_s > max_gap_s):
                out.append(_cue(current))
                current = []
        current.append(word)
    if current:
        out.append(_cue(current))
    return out


def _cue(words: Sequence[TimedWord]) -> Cue:
    return Cue(words[0].start_s, max(words[-1].end_s, words[0].start_s + 0.001), " ".join(w.word for w in words))


def _stamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(items: Sequence[Cue]) -> str:
    return "".join(f"{i}\n{_stamp(c.start_s, ',')} --> {_stamp(c.end_s, ',')}\n{c.text}\n\n"
                   for i, c in enumerate(items, 1))


def webvtt(items: Sequence[Cue]) -> str:
    return "WEBVTT\n\n" + "".join(f"{_stamp(c.start_s, '.')} --> {_stamp(c.end_s, '.')}\n{c.text}\n\n" for c in items)
