"""The TN fast path (services/common/textnorm.py `plain`): a sentence it calls plain is given
back by NeMo's real grammar unchanged, for many sentences in English and Hindi (the grammars
TTS loads); what the grammars do change is never called plain; and the languages read by the
number reader keep their digit-free text as it is."""

from __future__ import annotations

import ast
import re
import sysconfig
from pathlib import Path

import pytest

from deploy.local.mesh import GRAMMAR_CACHE_DIR
from services.common import textnorm

PLAIN = {
    "en": [
        "The quick brown fox jumps over the lazy dog while the children play happily in the green park every day",
        "I think it's fine.", "A cat sat on a mat.", "Where are you going?", 'She said "yes" and left!',
        "Well; that is odd: very odd.", "In May we went to Paris.", "John and Mary met in London on Monday.",
        "Part of the class left early.", "What did I do in chapter one?", "Hello, world!", "Don't stop believing.",
        "The sections I read were long.", "Henry I think is right.", "Louis, I said, come here.", "I am here...",
        "He's the dog's owner.", "‘Quoted’ “curly” words.", "Mr Smith is here.", "Mrs Smith is here.",
        "Saint Mary church.", "It is Miss Daisy.", "Mix it.", "Vivid dim lid", "I love Lima", "Mon Tue Wed",
        "Jan Feb Mar", "min max sec", "kg lb oz", "am", "pm", "no", "Ave Maria", "Dr Who", "Mt Fuji",
        "Please read the whole paragraph aloud, slowly and clearly.", "Is this the right train to the city?",
        "We will meet again tomorrow morning!", "They have never seen such a beautiful sunset.",
    ],
    "hi": [
        "नमस्ते, आप कैसे हैं", "मैं आज बाज़ार जा रहा हूँ।", "क्या तुम कल आओगे?", "यह किताब बहुत अच्छी है।",
        'उसने कहा, "ठीक है"।', "भारत एक विशाल देश है॥", "हम सब एक हैं; सच में!", "ज़िंदगी ख़ूबसूरत है।",
        "आज मौसम अच्छा है", "सौ रुपये", "दो हज़ार", "सवा", "पौने", "डेढ़", "ढाई", "साढ़े", "हे राम!",
        "क्या हाल है: बढ़िया?", "बच्चे बगीचे में खेल रहे हैं।", "कृपया धीरे और साफ़ बोलिए।",
        "हमारी ट्रेन सुबह सात बजे चलती है।", "उसने अपनी माँ को चिट्ठी लिखी।",
    ],
}
# What the grammars change with no digit in sight: none of it may be called plain.
CHANGED = {
    "en": ["Dr. Smith", "U.S.A.", "etc.", "vs", "The dept is closed.", "We saw Jr and Sr there.", "St Mary",
           "World War I was long.", "Is it a.m.", "Eq", "ft in yd", "Hwy one", "Visit www or com or http now.",
           "a  b", " lead", "trail "],
    "hi": ["डॉ. शर्मा आए।", "प्रो. वर्मा", "कु. सीमा", "मा. राम", "इं. गुप्ता", "ले. सिंह", "वै. राय", "नमस्ते Mr Smith"],
}
# Left to the grammar although it leaves them alone today: capitals, roman numerals, their key words.
ASKED = ["NASA", "CIA and FBI", "Henry V", "Louis Xth", "Vth", "Chapter I begins.", "Part I.",
         "It was in the section I liked.", "The plan is B.", "hello , world", "He said 5 words.", "a-b", "(aside)"]
# The number reader's languages: text with no digit is spoken as written.
NUMBERS = {"ta": "வணக்கம், நீங்கள் எப்படி இருக்கிறீர்கள்", "bn": "ভালো আছি, ধন্যবাদ", "te": "నమస్కారం, మీరు ఎలా ఉన్నారు",
           "mr": "नमस्कार, तुम्ही कसे आहात", "gu": "નમસ્તે, તમે કેમ છો", "kn": "ನಮಸ್ಕಾರ, ಹೇಗಿದ್ದೀರಾ"}


@pytest.fixture(scope="module")
def tn() -> textnorm.Grammars:
    grammars = textnorm.Grammars("tn", ["en", "hi"], GRAMMAR_CACHE_DIR)
    grammars.load_now()
    assert grammars.ready_languages() == ("en", "hi")
    return grammars


def _docstring_sentences(limit: int) -> list[str]:
    """Plain sentences of the standard library's docstrings (real English prose, many words and
    names), in a fixed order."""
    found: list[str] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("argparse", "textwrap", "difflib", "threading", "subprocess", "tarfile", "smtplib", "calendar"):
        tree = ast.parse((stdlib / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module) and (doc := ast.get_docstring(node)):
                for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                    if textnorm.plain("en", sentence) and sentence not in found:
                        found.append(sentence)
    return found[:limit]


@pytest.mark.parametrize("language", sorted(PLAIN))
def test_plain_sentences_are_what_the_grammar_gives_back(tn, language):
    """Every sentence here is called plain, and NeMo's grammar returns each one unchanged."""
    for sentence in PLAIN[language]:
        assert textnorm.plain(language, sentence), sentence
        assert tn.convert(language, sentence) == sentence


def test_plain_prose_from_the_standard_library_is_unchanged(tn):
    """A hundred and fifty real English sentences the fast path calls plain come back from the grammar unchanged."""
    sentences = _docstring_sentences(150)
    assert len(sentences) == 150
    changed = [(s, out) for s in sentences if (out := tn.convert("en", s)) != s]
    assert changed == []


@pytest.mark.parametrize("language", sorted(CHANGED))
def test_what_the_grammar_changes_is_never_plain(tn, language):
    """Abbreviations, whitelisted words, roman numerals after a key phrase and odd spacing go to the grammar."""
    for sentence in CHANGED[language]:
        assert tn.convert(language, sentence) != sentence, sentence  # the list is of real changes
        assert not textnorm.plain(language, sentence), sentence


def test_capitals_roman_numerals_and_other_characters_are_left_to_the_grammar():
    """Conservative: capitals, roman numerals, digits, hyphens and brackets are never taken as plain."""
    assert [s for s in ASKED if textnorm.plain("en", s)] == []
    assert not textnorm.plain("ta", NUMBERS["ta"])  # no proof for a language without a grammar rule


def test_normalize_takes_the_fast_path_and_keeps_the_grammar_for_the_rest(tn):
    """A plain sentence never reaches the grammar; the next, with an abbreviation, still does."""
    calls: list[str] = []

    class Counting(textnorm.Grammars):
        def convert(self, language: str, text: str) -> str | None:
            calls.append(text)
            return tn.convert(language, text)

    counting = Counting("tn", [], GRAMMAR_CACHE_DIR)
    counting.ready = tn.ready  # type: ignore[method-assign]
    normalizer = textnorm.SpeechNormalizer(counting)
    assert normalizer.normalize("en", "The dog runs home. Dr. Smith waits.") == "The dog runs home. doctor Smith waits."
    assert calls == ["Dr."]


def test_unchanged_is_exactly_what_normalize_gives_back(tn):
    """`unchanged` (the event loop's check) is true only where `normalize` returns the very same text."""
    normalizer = textnorm.SpeechNormalizer(tn)
    for language, text in (("en", "The dog runs home. It is late!"), ("en", "The dog runs home.  It is late!"),
                           ("en", "Dr. Smith waits."), ("hi", "नमस्ते, आप कैसे हैं। सब ठीक है।"), ("hi", "₹500")):
        if normalizer.unchanged(language, text):
            assert normalizer.normalize(language, text) == text
    assert normalizer.unchanged("en", "The dog runs home. It is late!")
    assert not normalizer.unchanged("en", "The dog runs home.  It is late!")  # normalize respaces it
    assert not normalizer.unchanged("en", "Dr. Smith waits.")
    assert not normalizer.unchanged("ta", "விலை 25")  # the number reader's languages go to a thread


def test_number_reader_languages_keep_digit_free_text():
    """Languages without a grammar: text with no digit is spoken exactly as written."""
    normalizer = textnorm.SpeechNormalizer(None)
    for language, sentence in NUMBERS.items():
        assert normalizer.kind(language) == "numbers"
        assert normalizer.normalize(language, sentence) == sentence
