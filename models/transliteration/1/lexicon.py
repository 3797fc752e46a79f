"""Word lists per language for ranking transliteration candidates, from packages only.

Sources, merged per language (first one that has a word gives its frequency):
  - PyPI `wordfreq` (Apache-2.0 code, CC-BY-SA-4.0 data): frequency-ranked lists for hi, bn, ta, ur;
  - Debian `hunspell-{hi,bn,gu,ml,te}` (MPL-2.0 / GPL / LGPL) `.dic` files: membership only;
  - Debian `aspell-{kn,mr,or,pa,ta,te}` (GPL-3+) through `aspell dump master`: membership only.
A language with none of these has an empty lexicon; callers then rank by rule cost alone (or by a
sibling language that shares its script, see `SIBLING`). Lists load lazily, once per process.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

HUNSPELL_DIR = Path("/usr/share/hunspell")
# Zipf value given to a word that a membership-only list has and no frequency list does:
# about a word per million, the bottom of wordfreq's small lists.
MEMBER_ZIPF = 3.0
# Languages without a list of their own, ranked against a language written in the same script
# (a weaker signal: shared words and spellings, not the language itself).
SIBLING = {"ne": "hi", "sa": "hi", "kok": "hi", "mai": "hi", "doi": "hi", "brx": "hi", "mr": "hi"}
_WORDFREQ = ("hi", "bn", "ta", "ur")
_ASPELL_TIMEOUT_S = 60


@dataclasses.dataclass(frozen=True)
class Lexicon:
    language: str
    zipf: dict[str, float]
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.zipf)

    def get(self, word: str) -> float | None:
        return self.zipf.get(word)


def _wordfreq(language: str) -> dict[str, float]:
    if language not in _WORDFREQ:
        return {}
    try:
        import wordfreq
    except ImportError:
        return {}
    if language not in wordfreq.available_languages():
        return {}
    return {w: math.log10(f) + 9.0 for w, f in wordfreq.get_frequency_dict(language).items() if f > 0}


def _hunspell(language: str) -> set[str]:
    path = HUNSPELL_DIR / f"{language}_IN.dic"
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]
    return {line.split("/", 1)[0].strip() for line in lines if line.strip()}


def _aspell(language: str) -> set[str]:
    aspell = shutil.which("aspell")
    if aspell is None or not Path(f"/usr/share/aspell/{language}.cwl.gz").exists():
        return set()
    try:
        result = subprocess.run([aspell, "dump", "master", f"--lang={language}"], capture_output=True,
                                timeout=_ASPELL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("aspell %s word list unreadable: %s", language, exc)
        return set()
    if result.returncode != 0:
        return set()
    return {w.strip() for w in result.stdout.decode("utf-8", "replace").splitlines() if w.strip()}


_CACHE: dict[str, Lexicon] = {}


def load(language: str) -> Lexicon:
    """The merged word list of `language` (empty when no package ships one)."""
    if language in _CACHE:
        return _CACHE[language]
    zipf = _wordfreq(language)
    sources = ["wordfreq"] if zipf else []
    for name, words in (("hunspell", _hunspell(language)), ("aspell", _aspell(language))):
        if words:
            sources.append(name)
            for word in words:
                zipf.setdefault(word, MEMBER_ZIPF)
    lexicon = Lexicon(language, zipf, tuple(sources))
    _CACHE[language] = lexicon
    return lexicon
