"""Text normalization around speech (services/common/textnorm.py): the alignment of written to
spoken words, the number reader of the Indian languages, <say-as>, and NeMo's real grammars
(compiled once into the grammar cache the mesh uses, loaded from there afterwards)."""

from __future__ import annotations

import os

import pytest

from deploy.local.mesh import GRAMMAR_CACHE_DIR
from services.common import textnorm
from services.common.textnorm import Span, align

CACHE = GRAMMAR_CACHE_DIR


@pytest.fixture(scope="module")
def itn() -> textnorm.Grammars:
    grammars = textnorm.Grammars("itn", ["en", "xx"], CACHE)
    grammars.load_now()
    return grammars


@pytest.fixture(scope="module")
def tn() -> textnorm.Grammars:
    grammars = textnorm.Grammars("tn", ["hi"], CACHE)
    grammars.load_now()
    return grammars


def test_align_one_written_token_spans_its_spoken_words():
    """A number written as one token covers every spoken word it came from; shared words pair 1:1."""
    spoken = "i paid twenty five dollars today".split()
    assert align(spoken, "i paid $25 today") == [
        Span("i", 0, 0), Span("paid", 1, 1), Span("$25", 2, 4), Span("today", 5, 5)]


def test_align_covers_every_spoken_word_once_in_order():
    """Whatever ITN wrote, each spoken word belongs to exactly one span, spans in order."""
    cases = [("one hundred and five apples", "105 apples"), ("twenty five", "25"),
             ("at three thirty p m", "at 03:30 p.m."), ("hello world", ""), ("a b c", "x y z w"),
             ("five", "5 extra"), ("the one", "the one")]
    for spoken_text, written in cases:
        spoken = spoken_text.split()
        spans = align(spoken, written)
        covered = [i for s in spans for i in range(s.first, s.last + 1)]
        assert covered == list(range(len(spoken))), (spoken_text, written, spans)
        assert " ".join(s.written for s in spans).split() == written.split()


def test_align_is_case_blind_but_keeps_the_written_case():
    """A word ITN only re-cased still pairs one to one, written as ITN wrote it."""
    assert align(["march", "five"], "March 5") == [Span("March", 0, 0), Span("5", 1, 1)]


def test_english_itn_writes_numbers_money_and_times(itn):
    """NeMo's English grammar: cardinals, currency and times in written form; plain words untouched."""
    assert itn.ready("en") and not itn.ready("hi")
    assert "xx" not in itn.languages  # NeMo has no grammar for it: skipped, not failed
    assert itn.convert("en", "twenty five") == "25"
    assert itn.convert("en", "i paid twenty five dollars") == "i paid $25"
    assert itn.convert("en", "good morning how are you today") == "good morning how are you today"
    assert itn.convert("hi", "पच्चीस") is None  # not loaded: the caller keeps the spoken form


def test_itn_cache_is_reused(itn):
    """A second load of the same grammar reads the cached .far file instead of compiling, also when
    the cache is named by a relative path."""
    relative = os.path.relpath(CACHE)
    assert textnorm.cache_root(relative).is_absolute()  # the build directory's links must not dangle
    again = textnorm.Grammars("itn", ["en"], relative)
    again.load_now()
    assert again.status()["en"]["status"] == "ready" and again.status()["en"]["compiled"] is False
    assert list(textnorm.cache_root(CACHE).glob("en_itn*.far"))


def test_number_reader_speaks_indian_languages():
    """indic-numtowords reads numbers and rupee amounts in the languages NeMo has no TN grammar for."""
    assert textnorm.speak_number("25", "hi") == "पच्चीस"
    assert textnorm.speak_number("௨௫", "ta") == textnorm.speak_number("25", "ta")  # native digits
    said = textnorm.speak_numbers("விலை ₹500", "ta")
    assert "₹" not in said and "500" not in said and said.endswith("ரூபாய்")
    assert textnorm.speak_numbers("no digits here", "te") == "no digits here"
    assert textnorm.speak_number("12.5", "en") == "twelve point five"


def test_say_as_reads_each_interpretation():
    """<say-as> cardinal, ordinal, characters, digits and telephone come out as words of the language."""
    normalizer = textnorm.SpeechNormalizer(None)
    assert normalizer.say_as("cardinal", "1,234", "en") == "one thousand two hundred and thirty four"
    assert normalizer.say_as("ordinal", "3rd", "en") == "third"
    assert normalizer.say_as("ordinal", "5", "hi") == textnorm.speak_number("5", "hi") + "वाँ"
    assert normalizer.say_as("ordinal", "2", "hi") == "दूसरा"
    assert normalizer.say_as("characters", "AB C", "en") == "A B C"
    assert normalizer.say_as("digits", "12a3", "en") == "one two three"
    assert normalizer.say_as("telephone", "+91 98-76", "en") == "plus nine one, nine eight, seven six"
    assert normalizer.kind("ta") == "numbers" and normalizer.kind("xx") == "none"


def test_hindi_tn_speaks_the_rupee_amount(tn):
    """NeMo's Hindi grammar reads ₹500 as the amount in words, with rupees, leaving no digit or symbol."""
    normalizer = textnorm.SpeechNormalizer(tn)
    assert normalizer.kind("hi") == "grammar"
    said = normalizer.normalize("hi", "₹500")
    assert "₹" not in said and "500" not in said
    assert "पाँच सौ" in said and ("रुपए" in said or "रुपये" in said)


def test_empty_cache_compiles_once_and_leaves_only_whole_files(tmp_path):
    """On an empty cache the grammar is compiled (a few seconds for English ITN), moved into the
    cache whole, and a second process-like load reads it instead of compiling."""
    first = textnorm.Grammars("itn", ["en"], tmp_path)
    first.start()
    assert first.wait(300) and first.status()["en"]["compiled"] is True
    root = textnorm.cache_root(tmp_path)
    assert [p.name for p in root.glob("*.far")] == ["en_itn_lower_cased.far"]
    assert not list(root.glob(".build-*"))  # the private build directory is gone
    second = textnorm.Grammars("itn", ["en"], tmp_path)
    second.load_now()
    assert second.status()["en"]["compiled"] is False
    assert second.convert("en", "twenty five") == first.convert("en", "twenty five") == "25"
