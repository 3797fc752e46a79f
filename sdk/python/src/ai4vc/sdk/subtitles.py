"""SRT and WebVTT from recognition results, on the client, so that a live stream's final results
caption the same way as a file's `Recognize` answer. Word offsets, where the server sent them,
split long results into cues of a readable length."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_CUE_WORDS = 12
MAX_CUE_SECONDS = 6.0


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str


def _seconds(duration: Any) -> float:
    return duration.seconds + duration.nanos / 1e9


def timestamp(seconds: float, separator: str = ",") -> str:
    """`HH:MM:SS,mmm` (SRT) or, with separator ".", `HH:MM:SS.mmm` (WebVTT)."""
    millis = max(int(round(seconds * 1000)), 0)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def cues_from_results(results: Iterable[Any]) -> list[Cue]:
    """Cues from `SpeechRecognitionResult`s (or final `StreamingRecognitionResult`s): one per result,
    split at word offsets when a result is long; a result without offsets starts where the last ended."""
    cues: list[Cue] = []
    previous_end = 0.0
    for result in results:
        if not result.alternatives:
            continue
        best = result.alternatives[0]
        text = best.transcript.strip()
        end = _seconds(result.result_end_offset) if result.HasField("result_end_offset") else previous_end
        words = [w for w in best.words if w.HasField("end_offset")]
        if words:
            cues.extend(_split_words(words))
        elif text:
            cues.append(Cue(previous_end, max(end, previous_end), text))
        previous_end = max(end, previous_end, cues[-1].end if cues else 0.0)
    return cues


def _split_words(words: Sequence[Any]) -> list[Cue]:
    out: list[Cue] = []
    group: list[Any] = []
    for word in words:
        if group and (len(group) >= MAX_CUE_WORDS
                      or _seconds(word.end_offset) - _seconds(group[0].start_offset) > MAX_CUE_SECONDS):
            out.append(_cue(group))
            group = []
        group.append(word)
    if group:
        out.append(_cue(group))
    return out


def _cue(words: Sequence[Any]) -> Cue:
    return Cue(_seconds(words[0].start_offset), _seconds(words[-1].end_offset), " ".join(w.word for w in words))


def srt(cues: Iterable[Cue]) -> str:
    blocks = [f"{i}\n{timestamp(c.start)} --> {timestamp(c.end)}\n{c.text}\n" for i, c in enumerate(cues, 1)]
    return "\n".join(blocks)


def webvtt(cues: Iterable[Cue]) -> str:
    blocks = [f"{timestamp(c.start, '.')} --> {timestamp(c.end, '.')}\n{c.text}\n" for c in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)
