"""Language identification from script blocks and marker letters."""

from __future__ import annotations

import pytest

from services.nmt.langid import detect


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("नमस्ते दुनिया", "hi"),
        ("یہ ایک کتاب ہے", "ur"),
        ("আমি ভাত খাই", "bn"),
        ("আমাৰ ঘৰ", "as"),
        ("আৱাৰ", "as"),
        ("வணக்கம் உலகம்", "ta"),
        ("నమస్కారం", "te"),
        ("ٻار ڳالهه", "sd"),
        ("hello world", "en"),
        ("ਸਤਿ ਸ੍ਰੀ ਅਕਾਲ", "pa"),
        ("ನಮಸ್ಕಾರ", "kn"),
        ("മലയാളം", "ml"),
        ("ଓଡ଼ିଆ", "or"),
        ("ગુજરાતી", "gu"),
    ],
)
def test_script_decides_language(text: str, language: str) -> None:
    """The script (and marker letters within a shared script) picks the top language."""
    assert detect(text)[0].language_code == language


def test_marathi_lla_tips_devanagari_to_marathi() -> None:
    """Devanagari LLA (ळ), absent from Hindi, ranks Marathi first."""
    assert detect("मळा")[0].language_code == "mr"


def test_urdu_markers_beat_sindhi_markers_when_more_frequent() -> None:
    """Within Perso-Arabic script the language with more marker letters wins."""
    assert detect("ٹوٹے ہوئے ڈبے ٻ")[0].language_code == "ur"


def test_shared_script_lists_other_languages_as_lower_candidates() -> None:
    """A shared script returns the script's other languages ranked below the best."""
    guesses = detect("আমাৰ ঘৰ")
    assert [g.language_code for g in guesses] == ["as", "bn"]
    assert guesses[0].confidence > guesses[1].confidence


@pytest.mark.parametrize("text", ["", "   ", "12345", "3.14 + 2 = 5.14!", "?!,.;:-()", "🙂👍"])
def test_no_letters_of_known_script_gives_empty(text: str) -> None:
    """Digits, punctuation, emoji and whitespace give no guesses."""
    assert detect(text) == []


@pytest.mark.parametrize("text", ["१२३४", "।", "১২৩"])
def test_indic_digits_and_danda_are_not_letters(text: str) -> None:
    """Indic digits and the danda alone are not letters, so no language is guessed."""
    assert detect(text) == []


@pytest.mark.parametrize(
    "text", ["नमस्ते दुनिया", "आमची मळा", "یہ ایک کتاب ہے", "আমি ভাত খাই", "hello नमस्ते", "abc வணக்கம்", "ٻار"]
)
def test_confidences_ordered_and_bounded(text: str) -> None:
    """Confidences lie in [0, 1] and are non-increasing, best first."""
    confidences = [g.confidence for g in detect(text)]
    assert confidences
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert confidences == sorted(confidences, reverse=True)


def test_single_language_script_is_certain_for_pure_text() -> None:
    """A text wholly in a one-language script gets confidence 1."""
    [guess] = detect("வணக்கம்")
    assert guess.confidence == 1.0


def test_mixed_scripts_majority_wins_with_reduced_confidence() -> None:
    """In mixed-script text the majority script wins, with confidence below that of pure text."""
    mixed = detect("ok வணக்கம் உலகம்")
    assert mixed[0].language_code == "ta"
    assert mixed[0].confidence < detect("வணக்கம் உலகம்")[0].confidence


def test_limit_caps_number_of_guesses() -> None:
    """`limit` caps how many candidates come back."""
    assert len(detect("नमस्ते", limit=2)) == 2
    assert len(detect("नमस्ते")) == 3
