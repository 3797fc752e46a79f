"""Apertium unknown-word marks in the reference NMT model (models/nmt/1/marks.py): coverage and unmarking."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "nmt" / "1"


@pytest.fixture(scope="module")
def marks() -> ModuleType:
    # Triton's Python backend puts the model's folder on sys.path; so does this test.
    sys.path.insert(0, str(MODEL_DIR))
    try:
        import marks as module
    finally:
        sys.path.remove(str(MODEL_DIR))
    return module


def test_coverage_counts_marked_words(marks):
    """Coverage is the share of source words with no unknown-word mark (*, @, #) in Apertium's output."""
    source = "यह एक परीक्षा है। ज़ूम ब्लॉकचेन"
    marked = "یہ ایک *परीक्षा ہے۔ *ज़ूम *ब्लॉकचेन"
    assert marks.coverage(source, marked) == pytest.approx(3 / 6)
    assert marks.coverage("आप कैसे हैं?", "آپ کیسے ہیں؟") == 1.0
    assert marks.coverage("@अनजान #शब्द", "@अनजान #शब्द") == 0.0
    assert marks.coverage("123 !!", "123 !!") == 1.0


def test_unmark_removes_only_marks_before_letters(marks):
    """Unmarking drops a mark before a word and keeps other stars, at-signs and hashes."""
    assert marks.unmark("یہ *परीक्षा ہے 5 * 3 a@ #1") == "یہ परीक्षा ہے 5 * 3 a@ #1"


def test_source_with_mark_characters_needs_a_verbatim_pass(marks):
    """A source holding *, @ or # is re-translated with -u so none of its own characters are stripped."""
    assert marks.needs_verbatim_pass("#टैग")
    assert not marks.needs_verbatim_pass("सादा पाठ")
