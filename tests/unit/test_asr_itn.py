"""Inverse text normalization in the ASR core: written form with NeMo's real English grammar,
word timings re-aligned to the written tokens, spoken form kept, and the switch honoured."""

from __future__ import annotations

import pytest

from deploy.local.mesh import GRAMMAR_CACHE_DIR
from services.asr.core import AsrCore, Options, Word, Written, written_words
from services.asr.settings import AsrSettings
from services.common import textnorm
from services.common.audio import E

CACHE = GRAMMAR_CACHE_DIR  # where bootstrap compiled them (the user's cache)


@pytest.fixture(scope="module")
def core() -> AsrCore:
    grammars = textnorm.Grammars("itn", ["en"], CACHE)
    grammars.load_now()
    # Only the ITN path is used: no Triton, no registry.
    return AsrCore(AsrSettings(), None, None, grammars)  # type: ignore[arg-type]


def timed(text: str) -> tuple[Word, ...]:
    return tuple(Word(w, i * 1.0, i * 1.0 + 0.8, 0.5 + 0.1 * (i % 3)) for i, w in enumerate(text.split()))


async def test_written_number_spans_the_timings_of_its_spoken_words(core):
    """"twenty five dollars" becomes "$25", starting with "twenty" and ending with "dollars"."""
    words = timed("i paid twenty five dollars today")
    form = await core.inverse_normalize("en", "i paid twenty five dollars today", words)
    assert form.applied and form.text == "i paid $25 today"
    assert form.spoken == "i paid twenty five dollars today"
    assert [w.word for w in form.words] == ["i", "paid", "$25", "today"]
    money = form.words[2]
    assert (money.start_s, money.end_s) == (words[2].start_s, words[4].end_s)
    assert money.spoken == "twenty five dollars"
    assert money.confidence == pytest.approx(sum(w.confidence for w in words[2:5]) / 3)
    assert form.words[0].spoken == ""  # unchanged words carry no spoken form
    assert form.words[3].start_s == words[5].start_s


async def test_language_without_grammar_keeps_the_spoken_form(core):
    """A language with no loaded grammar comes back unchanged and says so (applied False)."""
    form = await core.inverse_normalize("hi", "पच्चीस", ())
    assert not form.applied and form.text == "पच्चीस" and form.spoken == ""
    assert core.itn_languages(("en", "hi")) == ["en"]


def test_switch_defaults_to_the_deployment_setting(core):
    """Unset follows AsrSettings.itn_default (on); an explicit false or true wins."""
    base = Options(language_code="en-US", encoding=int(E.AUDIO_ENCODING_WAV))
    assert core.itn_wanted(base) is True
    assert core.itn_wanted(Options(language_code="en", encoding=1, inverse_text_normalization=False)) is False


def test_utterance_keeps_both_forms_and_masks_both(core):
    """The utterance carries the written transcript and the spoken one; profanity masking covers both."""
    words = timed("damn twenty five")
    form = textnorm.align([w.word for w in words], "damn 25")
    written = written_words(words, form)
    u = core.utterance(0, "damn twenty five", words, 3.0, profanity_filter=True,
                       written=Written("damn 25", written, "damn twenty five", True))
    assert u.normalized and u.transcript == "d*** 25" and u.spoken == "d*** twenty five"
    assert [w.word for w in u.words] == ["d***", "25"] and u.words[1].spoken == "twenty five"
    assert u.confidence == pytest.approx(sum(w.confidence for w in words) / 3)  # the recognizer's, spoken words
