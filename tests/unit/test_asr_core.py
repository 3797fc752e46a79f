"""Pure logic of the ASR service: subtitles, stability, endpointing ranges, profanity, pagination."""

from __future__ import annotations

import numpy as np
import pytest

from services.asr import subtitles
from services.asr.core import DEFAULT_PAGE_SIZE, mask_profanity
from services.asr.stream import make_endpointing, stability
from services.common import audio
from services.common.audio import E
from services.common.errors import InvalidArgument
from services.common.languages import normalize_language
from services.common.paging import page


def _words(n: int, step: float = 0.5) -> list[subtitles.TimedWord]:
    return [subtitles.TimedWord(f"word{i}", i * step, i * step + 0.4) for i in range(n)]


def test_cues_respect_length_duration_and_gaps():
    """Cues stay within 42 characters and 7 s, and a long pause starts a new cue."""
    cues = subtitles.cues(_words(40))
    assert all(len(c.text) <= 42 and c.end_s - c.start_s <= 7.0 for c in cues)
    assert " ".join(c.text for c in cues) == " ".join(w.word for w in _words(40))
    gap = [subtitles.TimedWord("a", 0, 0.3), subtitles.TimedWord("b", 3.0, 3.3)]
    assert [c.text for c in subtitles.cues(gap)] == ["a", "b"]


def test_srt_and_webvtt_timestamps():
    """SRT uses a comma and numbers its cues; WebVTT has its header and a dot."""
    cues = [subtitles.Cue(3661.5, 3662.25, "hello")]
    assert subtitles.srt(cues) == "1\n01:01:01,500 --> 01:01:02,250\nhello\n\n"
    assert subtitles.webvtt(cues) == "WEBVTT\n\n01:01:01.500 --> 01:01:02.250\nhello\n\n"


def test_stability_is_the_stable_prefix_share():
    """Stability is the share of words unchanged from the previous interim hypothesis."""
    assert stability("", "hello") == 0.0
    assert stability("hello world", "hello world again") == pytest.approx(0.667, abs=1e-3)
    assert stability("a b", "a b") == 1.0


def test_endpointing_defaults_and_ranges():
    """Unset endpointing takes the contract defaults; out-of-range values are FIELD_OUT_OF_RANGE."""
    ep = make_endpointing(interim_results=True, single_utterance=False, voice_activity_events=False,
                          speech_start_timeout_s=None, end_of_utterance_silence_s=None, max_utterance_s=None)
    assert (ep.end_of_utterance_silence_s, ep.max_utterance_s, ep.speech_start_timeout_s) == (0.8, 60.0, 0.0)
    with pytest.raises(InvalidArgument) as caught:
        make_endpointing(interim_results=False, single_utterance=False, voice_activity_events=False,
                         speech_start_timeout_s=None, end_of_utterance_silence_s=0.05, max_utterance_s=None)
    assert caught.value.reason == "FIELD_OUT_OF_RANGE"
    assert caught.value.field == "streaming_config.endpointing.end_of_utterance_silence"


def test_profanity_language_and_paging():
    """Profane words keep their first letter; BCP-47 tags reduce to the language; pages chain."""
    assert mask_profanity("oh damn it", frozenset({"damn"})) == "oh d*** it"
    assert normalize_language("en-US", "f") == "en"
    items, token = page(list(range(5)), 2, "", default_size=DEFAULT_PAGE_SIZE)
    assert items == [0, 1] and page(list(range(5)), 2, token, default_size=DEFAULT_PAGE_SIZE)[0] == [2, 3]


def test_chunk_decoder_joins_split_frames():
    """A LINEAR16 stream cut mid-sample decodes the same as the whole."""
    samples = np.linspace(-0.5, 0.5, 101, dtype=np.float32)
    data = audio.to_pcm16(samples).tobytes()
    decoder = audio.ChunkDecoder(E.AUDIO_ENCODING_LINEAR16, 16000)
    pieces = [decoder(data[i:i + 33]) for i in range(0, len(data), 33)]
    whole, _ = audio.decode(data, E.AUDIO_ENCODING_LINEAR16, 16000)
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
