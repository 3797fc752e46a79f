"""Candidate generation and ranking of the reference transliteration model (models/transliteration/1/xlit.py),
with the word lists the packages ship (wordfreq, Debian hunspell/aspell)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "transliteration" / "1"


@pytest.fixture(scope="module")
def xlit() -> ModuleType:
    # Triton's Python backend puts the model's folder on sys.path; so does this test.
    sys.path.insert(0, str(MODEL_DIR))
    try:
        import xlit as module
    finally:
        sys.path.remove(str(MODEL_DIR))
    return module


def test_tokenize_takes_longest_units(xlit):
    """Latin words are cut into the longest romanization units (digraphs and long vowels stay whole)."""
    assert xlit.tokenize("dhanyavaad") == ["dh", "a", "n", "y", "a", "v", "aa", "d"]
    assert xlit.tokenize("shukriya") == ["sh", "u", "k", "r", "i", "y", "a"]
    assert xlit.tokenize("kshama") == ["ksh", "a", "m", "a"]


def test_render_puts_signs_and_viramas(xlit):
    """Symbols render as Devanagari: vowel signs after consonants, a virama between two consonants."""
    symbols = [("C", "न"), ("V", "a"), ("C", "म"), ("V", "a"), ("C", "स"), ("C", "त"), ("V", "e")]
    assert xlit.render(symbols) == "नमस्ते"
    assert xlit.render([("V", "aa"), ("C", "प")]) == "आप"
    assert xlit.render([("C", "ह"), ("V", "i"), ("M", ""), ("C", "द"), ("V", "ii")]) == "हिंदी"


def test_kbest_is_cheapest_first_and_distinct(xlit):
    """kbest enumerates index vectors in non-decreasing total cost, each once, up to the limit."""
    options = [[0.0, 1.0, 3.0], [0.0, 0.5], [0.0, 2.0]]
    found = list(xlit.kbest(options, 100))
    costs = [cost for cost, _ in found]
    assert costs == sorted(costs)
    assert len({index for _, index in found}) == len(found) == 3 * 2 * 2
    assert len(list(xlit.kbest(options, 5))) == 5


@pytest.mark.parametrize(("word", "language", "expected"), [
    ("namaste", "hi", "नमस्ते"),
    ("duniya", "hi", "दुनिया"),
    ("vanakkam", "ta", "வணக்கம்"),
    ("paani", "hi", "पानी"),
    ("bhalo", "bn", "ভালো"),
    ("shukriya", "ur", "شکریہ"),
])
def test_common_words_rank_first(xlit, word, language, expected):
    """Chat spellings of common words give the dictionary spelling as the first candidate."""
    assert xlit.candidates(word, language, 3, word_level=True)[0] == expected


def test_top_k_gives_distinct_candidates_up_to_k(xlit):
    """top_k candidates are distinct, at most k, and more than one for a common word."""
    for k in (1, 2, 3, 5, 10):
        found = xlit.candidates("namaste", "hi", k, word_level=True)
        assert len(found) == len(set(found))
        assert 1 <= len(found) <= k
        if k > 1:
            assert len(found) >= 2


def test_known_words_outrank_unknown_ones(xlit):
    """A candidate in the language's word list ranks above every candidate that is not."""
    ranked = xlit.word_candidates("kamal", "hi", 10)
    known = [c.known for c in ranked]
    assert known[0] and known == sorted(known, reverse=True)


def test_formal_schemes_are_read(xlit):
    """ITRANS/HK capitals and IAST diacritics are read as those schemes (retroflex ण, long ā)."""
    assert xlit.candidates("vaNakkam", "ta", 1, word_level=True) == ["வணக்கம்"]
    assert xlit.candidates("rāma", "hi", 1, word_level=True) == ["राम"]
    assert xlit.candidates("kRSNa", "hi", 3, word_level=True)[0] == "कृष्ण"


def test_sentence_level_combines_words(xlit):
    """Sentence mode transliterates each word, keeps punctuation, and offers distinct combinations."""
    found = xlit.candidates("namaste duniya!", "hi", 3, word_level=False)
    assert found[0] == "नमस्ते दुनिया!"
    assert 2 <= len(found) <= 3 and len(set(found)) == len(found)


def test_languages_without_a_list_still_get_candidates(xlit):
    """A language with no packaged word list (Sinhala) is ranked by rule cost and still gives k candidates."""
    found = xlit.candidates("amma", "si", 3, word_level=True)
    assert len(found) == 3 and all(any("\u0d80" <= ch <= "\u0dff" for ch in c) for c in found)


def test_script_letters_stay_in_the_target_script(xlit):
    """No candidate carries a Devanagari letter into another script, or a Dravidian short e into Hindi."""
    for language in ("bn", "gu", "pa", "ta", "te", "kn", "ml", "or", "ur"):
        for candidate in xlit.candidates("bhalobasa", language, 10, word_level=True):
            assert not any("\u0900" <= ch <= "\u097f" for ch in candidate), (language, candidate)
    assert not any("ॆ" in c for c in xlit.candidates("namaste", "hi", 10, word_level=True))


@pytest.mark.parametrize("text", ["123", "...", "\x00\x01", "😀", "a\u200db", "zzzzhh", "~^.", "ḍḥṃ", "x" * 300])
@pytest.mark.parametrize("language", ["hi", "ta", "ur", "sat", "mni"])
def test_any_text_gets_at_least_one_candidate(xlit, text, language):
    """Digits, punctuation, control characters, emoji and letter runs give 1 to k candidates, never none."""
    for word_level in (True, False):
        found = xlit.candidates(text, language, 3, word_level=word_level)
        assert 1 <= len(found) <= 3 and all(found)
