"""Apertium's unknown-word marks: counted for coverage, then taken out of the text users see.

Run without `-u`, Apertium writes `*` before a word its analyser did not know, `@` before one
missing from the bilingual dictionary and `#` before one it could not generate.
"""

from __future__ import annotations

import re

# A mark Apertium puts right before a word it did not know.
MARK = re.compile(r"[*@#](?=[^\W\d_])")
MARK_CHARS = frozenset("*@#")


def words(text: str) -> int:
    """Whitespace-separated tokens with at least one letter (what coverage counts as a word)."""
    return sum(1 for token in text.split() if any(ch.isalpha() for ch in token))


def coverage(source: str, marked: str) -> float:
    """Share of `source`'s words that Apertium's `marked` output shows no unknown-word mark for."""
    total = words(source)
    if not total:
        return 1.0
    return max(0.0, min(1.0, 1.0 - len(MARK.findall(marked)) / total))


def unmark(marked: str) -> str:
    """The text without the marks (only valid when the source held none of `MARK_CHARS`)."""
    return MARK.sub("", marked)


def needs_verbatim_pass(source: str) -> bool:
    """Whether the source itself holds a mark character, so stripping could remove the user's own."""
    return bool(MARK_CHARS.intersection(source))
