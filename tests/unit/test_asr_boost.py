"""Word boosting's pure logic: the contract's limits on speech_contexts, the tensors sent to a
boosting model, the warnings a response carries, and how the reference model's boosted aliases
map back to words."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from deploy.local.parts import ROOT
from services.asr.core import (
    Options,
    SpeechContext,
    boost_tensors,
    boost_warnings,
    check_speech_contexts,
    supports_boosting,
)
from services.common.backends.registry import ModelInfo
from services.common.errors import InvalidArgument

PREFIX = "config."
BOOSTING = ModelInfo("asr_am_ensemble", "asr", "pocketsphinx", ("en",), parameters={"word_boosting": "true"})
PLAIN = ModelInfo("indicconformer", "asr", "triton", ("hi",))


def _sphinx():  # the reference model's helper module (models/ is not a package)
    path = ROOT / "models" / "asr_am_ensemble" / "1" / "asr_sphinx.py"
    spec = importlib.util.spec_from_file_location("asr_sphinx", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("asr_sphinx", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("contexts", "field", "reason"), [
    (tuple(SpeechContext(("a",)) for _ in range(11)), "config.speech_contexts", "FIELD_OUT_OF_RANGE"),
    ((SpeechContext(tuple(f"w{i}" for i in range(101))),), "config.speech_contexts", "FIELD_OUT_OF_RANGE"),
    ((SpeechContext(()),), "config.speech_contexts[0].phrases", "FIELD_REQUIRED"),
    ((SpeechContext(("ok",)), SpeechContext(("ok", " "))), "config.speech_contexts[1].phrases[1]", "FIELD_REQUIRED"),
    ((SpeechContext(("x" * 101,)),), "config.speech_contexts[0].phrases[0]", "FIELD_OUT_OF_RANGE"),
    ((SpeechContext(("one two three four five six",)),), "config.speech_contexts[0].phrases[0]",
     "FIELD_OUT_OF_RANGE"),
    ((SpeechContext(("ok",), 20.5),), "config.speech_contexts[0].boost", "FIELD_OUT_OF_RANGE"),
    ((SpeechContext(("ok",), -1.0),), "config.speech_contexts[0].boost", "FIELD_OUT_OF_RANGE"),
    ((SpeechContext(("ok",), float("nan")),), "config.speech_contexts[0].boost", "FIELD_OUT_OF_RANGE"),
], ids=["contexts", "phrases", "no_phrases", "blank_phrase", "long_phrase", "many_words", "boost_high",
        "boost_negative", "boost_nan"])
def test_speech_context_limits_name_the_field(contexts, field, reason) -> None:
    """Each limit on speech_contexts is INVALID_ARGUMENT with the offending field and its reason."""
    with pytest.raises(InvalidArgument) as caught:
        check_speech_contexts(contexts, PREFIX)
    assert caught.value.field == field and caught.value.reason == reason


def test_limits_at_their_edges_pass() -> None:
    """10 contexts, 100 phrases of 100 characters and 5 words, boosts 0 and 20 are accepted."""
    contexts = tuple(SpeechContext(tuple("a b c d " + "e" * 92 for _ in range(10)), 20.0 * (i % 2))
                     for i in range(10))
    check_speech_contexts(contexts, PREFIX)


def test_boost_tensors_flatten_contexts_in_order() -> None:
    """Every phrase of every context becomes one BOOST_PHRASES entry with its context's boost."""
    tensors = boost_tensors((SpeechContext(("taj mahal", " agra "), 12.0), SpeechContext(("kerala",))))
    assert tensors["BOOST_PHRASES"].shape == (1, 3) and tensors["BOOST_SCORES"].shape == (1, 3)
    assert [p.decode() for p in tensors["BOOST_PHRASES"][0]] == ["taj mahal", "agra", "kerala"]
    assert tensors["BOOST_SCORES"][0].tolist() == [12.0, 12.0, 0.0]


def test_warnings_say_what_was_ignored() -> None:
    """A model that cannot boost gets one WORD_BOOSTING_UNSUPPORTED warning; phrases a boosting
    model reports ignored get PHRASE_IGNORED with their field path; no contexts, no warnings."""
    options = Options("en", 0, speech_contexts=(SpeechContext(("agra",)), SpeechContext(("kerala", "xyzzyq"))))
    assert supports_boosting(BOOSTING) and not supports_boosting(PLAIN)
    unsupported = boost_warnings(PLAIN, options)
    assert [(w.reason, w.field) for w in unsupported] == [("WORD_BOOSTING_UNSUPPORTED", "config.speech_contexts")]
    ignored = boost_warnings(BOOSTING, options, ["xyzzyq"])
    assert [(w.reason, w.field) for w in ignored] == [("PHRASE_IGNORED", "config.speech_contexts[1].phrases[1]")]
    assert boost_warnings(BOOSTING, options, []) == []
    assert boost_warnings(PLAIN, Options("en", 0)) == []


def test_boosted_aliases_map_back_to_words() -> None:
    """The reference model's phrase aliases become their words again, word times shared evenly."""
    sphinx = _sphinx()
    assert sphinx.unboost_text("we saw the taj_mahal+boost today") == "we saw the taj mahal today"
    words = sphinx.split_boosted([{"word": "taj_mahal+boost", "start_s": 1.0, "end_s": 2.0, "confidence": 0.5},
                                  {"word": "today", "start_s": 2.0, "end_s": 2.5, "confidence": 0.9}])
    assert [(w["word"], w["start_s"], w["end_s"]) for w in words] == [
        ("taj", 1.0, 1.5), ("mahal", 1.5, 2.0), ("today", 2.0, 2.5)]
