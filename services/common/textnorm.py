"""Text normalization around speech, shared by ASR and TTS.

Inverse text normalization (ITN) turns what a recognizer hears into what people write
("twenty five dollars" → "$25") with NVIDIA NeMo's WFST grammars, the ones Riva uses; text
normalization (TN) turns written text into what a voice should say ("₹500" → "पाँच सौ रुपये")
with NeMo where it has a grammar for the language, and with `indic-numtowords` / `num2words`
for the numbers of the other Indian languages.

NeMo compiles its grammars from Python on first use (seconds to minutes per language); the
compiled `.far` files are cached under `cache_dir/nemo-<version>` and loaded from there at
every later start. `Grammars` loads them in one background thread, one language after the
other, so a service is healthy at once and never blocks its health on a compile: a language
is reported (and used) only once its grammar is loaded, and a call for a language still
loading gets its text back unchanged with `applied=False`, which the services pass on.
Knows nothing of grpc.
"""

from __future__ import annotations

import ctypes
import dataclasses
import difflib
import fcntl
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# Languages NeMo text processing 1.2.0 has grammars for (of those this platform serves or that
# an Indian-language deployment is asked for most).
NEMO_ITN_LANGUAGES = ("ar", "de", "en", "es", "fr", "he", "hi", "hy", "ja", "mr", "pt", "ru", "sv", "vi", "zh")
NEMO_TN_LANGUAGES = ("ar", "de", "en", "es", "fr", "hi", "hu", "hy", "it", "ja", "ru", "sv", "zh")


class _Converter(Protocol):
    def __call__(self, text: str) -> str: ...


def cache_root(cache_dir: str | Path) -> Path:
    """Where this NeMo version's compiled grammars live (a new version compiles afresh)."""
    # Absolute: the build directory links to these files, and a relative link would dangle.
    return Path(cache_dir).resolve() / f"nemo-{metadata.version('nemo_text_processing')}"


@dataclasses.dataclass
class _State:
    status: str = "pending"  # pending | loading | ready | failed
    convert: _Converter | None = None
    seconds: float = 0.0  # how long loading (or compiling) took
    compiled: bool = False  # True when this start compiled the grammar (no cache yet)
    error: str = ""
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def _build_itn(language: str, cache: Path) -> _Converter:
    from nemo_text_processing.inverse_text_normalization.inverse_normalize import InverseNormalizer

    normalizer = InverseNormalizer(lang=language, cache_dir=str(cache), overwrite_cache=False)
    return lambda text: str(normalizer.inverse_normalize(text, verbose=False))


def _build_tn(language: str, cache: Path) -> _Converter:
    from nemo_text_processing.text_normalization.normalize import Normalizer

    normalizer = Normalizer(input_case="cased", lang=language, cache_dir=str(cache), overwrite_cache=False)
    return lambda text: str(normalizer.normalize(text, verbose=False, punct_post_process=True))


_BUILDERS: dict[str, Callable[[str, Path], _Converter]] = {"itn": _build_itn, "tn": _build_tn}


def _return_freed_memory() -> None:
    """Hands the heap's free pages back to the system (glibc's malloc_trim). Building a grammar
    frees tens of MB that glibc keeps until a later free happens to trim the heap's top: an ASR
    process measured 163 MB after loading en, hi and mr ITN and 135 MB after this call. Without
    it the drop comes at a random later moment, under traffic, and a memory reading taken
    across it is meaningless. A no-op where the C library is not glibc."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own symbols: libc is loaded
    if trim is not None:
        trim(0)


class Grammars:
    """NeMo grammars of one kind ("itn" or "tn") for some languages, loaded in the background.

    `languages` are primary subtags ("en", "hi"); those NeMo has no grammar for are dropped
    (and logged). Safe to call from any thread; each grammar is used by one thread at a time.
    """

    def __init__(self, kind: str, languages: Iterable[str], cache_dir: str | Path) -> None:
        if kind not in _BUILDERS:
            raise ValueError(f"kind must be 'itn' or 'tn', not {kind!r}")
        covered = NEMO_ITN_LANGUAGES if kind == "itn" else NEMO_TN_LANGUAGES
        wanted = list(dict.fromkeys(lang.strip().lower() for lang in languages if lang.strip()))
        if skipped := [lang for lang in wanted if lang not in covered]:
            log.warning("NeMo has no %s grammar for %s; those languages are not normalized", kind, skipped)
        self.kind = kind
        self.cache = cache_root(cache_dir)
        self._states = {lang: _State() for lang in wanted if lang in covered}
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages configured (ready or not)."""
        return tuple(self._states)

    def start(self) -> None:
        """Loads (compiling where no cache exists) every language, in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._load_all, name=f"nemo-{self.kind}", daemon=True)
            self._thread.start()

    def load_now(self) -> None:
        """Loads every language in the calling thread (the launcher's pre-compile, benchmarks)."""
        self._load_all()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Blocks until every language is loaded or failed; False on timeout."""
        return self._done.wait(timeout_s)

    def ready(self, language: str) -> bool:
        state = self._states.get(language)
        return state is not None and state.status == "ready"

    def ready_languages(self) -> tuple[str, ...]:
        return tuple(lang for lang, s in self._states.items() if s.status == "ready")

    def status(self) -> dict[str, dict[str, Any]]:
        """Per language: status, seconds it took, whether it was compiled (not cached), error."""
        return {lang: {"status": s.status, "seconds": round(s.seconds, 2), "compiled": s.compiled,
                       "error": s.error} for lang, s in self._states.items()}

    def _load_all(self) -> None:
        try:
            for language in self._states:
                self._load(language)
        finally:
            _return_freed_memory()
            self._done.set()

    def _load(self, language: str) -> None:
        state = self._states[language]
        if state.status in ("ready", "loading"):
            return
        state.status = "loading"
        started = time.perf_counter()
        self.cache.mkdir(parents=True, exist_ok=True)
        try:
            # Processes sharing the cache (replicas, asr and tts, test meshes) take turns: the
            # first compiles and writes the .far files, the others then load them instead of
            # compiling too. One lock for all: grammars of one language share files (hi ITN
            # writes hi_tn_post_processing.far, which hi TN reads).
            with open(self.cache / ".compile.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                convert, state.compiled = self._build(language)
            state.convert = convert
            state.status = "ready"
        except Exception as exc:  # noqa: BLE001 - a broken grammar leaves the language un-normalized
            state.status, state.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("NeMo %s grammar for %s failed to load", self.kind, language)
        state.seconds = time.perf_counter() - started
        log.info("NeMo %s grammar %s: %s in %.1f s (%s)", self.kind, language, state.status, state.seconds,
                 "compiled" if state.compiled else "from cache")

    def _build(self, language: str) -> tuple[_Converter, bool]:
        """Builds the grammar in a private directory that links to the cached files; what NeMo
        compiled there is then moved into the cache with an atomic rename, so a process killed
        mid-compile (a daemon thread at exit) never leaves a half-written .far behind."""
        for stale in self.cache.glob(".build-*"):  # left by a killed process (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=self.cache, prefix=".build-") as work:
            for far in self.cache.glob("*.far"):
                os.symlink(far.resolve(), Path(work) / far.name)
            convert = _BUILDERS[self.kind](language, Path(work))
            made = [f for f in Path(work).iterdir() if f.suffix == ".far" and not f.is_symlink()]
            for far in made:
                os.replace(far, self.cache / far.name)
        return convert, bool(made)

    def convert(self, language: str, text: str) -> str | None:
        """`text` normalized, or None when the language has no loaded grammar. Blocking: call it
        from a worker thread (asyncio.to_thread) in a server."""
        state = self._states.get(language)
        if state is None or state.status != "ready" or state.convert is None:
            return None
        if not text.strip():
            return text
        with state.lock:
            return state.convert(text)


# -- ITN: written form, aligned to the spoken words --------------------------------------


@dataclasses.dataclass(frozen=True)
class Span:
    """One written token (or run of tokens) and the spoken words it stands for, by index."""

    written: str
    first: int  # index of its first spoken word
    last: int  # index of its last spoken word (inclusive)


def _key(token: str) -> str:
    return token.casefold()


def align(spoken: Sequence[str], written: str) -> list[Span]:
    """Maps the written form back onto the spoken words it came from.

    Tokens both forms share are paired one to one; each stretch that differs between them
    becomes one span: the written tokens of the stretch, joined, cover all its spoken words
    ("twenty five dollars" → "$25" is one span over three words). Spoken words ITN dropped
    join the span before them (or after, at the start); written tokens with no spoken word
    join a neighbour the same way. Every spoken word belongs to exactly one span, in order.
    """
    tokens = written.split()
    if not spoken:
        return []
    if not tokens:
        return [Span("", 0, len(spoken) - 1)]
    matcher = difflib.SequenceMatcher(None, [_key(t) for t in tokens], [_key(w) for w in spoken], autojunk=False)
    spans: list[Span] = []
    pending_written: list[str] = []  # written tokens with no spoken word yet (inserted at the start)
    pending_first: int | None = None  # spoken words dropped before any span exists
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                spans.append(Span(tokens[i1 + k], j1 + k, j1 + k))
        elif j1 == j2:  # written tokens with no spoken word: they join the previous span
            if spans:
                last = spans[-1]
                spans[-1] = Span(" ".join([last.written, *tokens[i1:i2]]), last.first, last.last)
            else:
                pending_written.extend(tokens[i1:i2])
            continue
        elif i1 == i2:  # spoken words ITN dropped: they widen the previous span
            if spans:
                last = spans[-1]
                spans[-1] = Span(last.written, last.first, j2 - 1)
            elif pending_first is None:
                pending_first = j1
            continue
        else:
            spans.append(Span(" ".join(tokens[i1:i2]), j1, j2 - 1))
        if pending_written or pending_first is not None:
            first = spans[0]
            spans[0] = Span(" ".join([*pending_written, first.written]),
                            first.first if pending_first is None else pending_first, first.last)
            pending_written, pending_first = [], None
    if pending_written or pending_first is not None:  # nothing matched at all
        return [Span(" ".join(tokens), 0, len(spoken) - 1)]
    return spans


# -- TN for languages NeMo has no grammar for: numbers and currency ----------------------

# Native digits of the Indic scripts, mapped to ASCII before numbers are read.
_DIGITS = {ord(c): str(i) for block in ("०१२३४५६७८९", "০১২৩৪৫৬৭৮৯", "੦੧੨੩੪੫੬੭੮੯", "૦૧૨૩૪૫૬૭૮૯",
                                        "୦୧୨୩୪୫୬୭୮୯", "௦௧௨௩௪௫௬௭௮௯", "౦౧౨౩౪౫౬౭౮౯", "೦೧೨೩೪೫೬೭೮೯",
                                        "൦൧൨൩൪൫൬൭൮൯", "۰۱۲۳۴۵۶۷۸۹")
           for i, c in enumerate(block)}
# The rupee in each language (what a reader says after the amount).
RUPEE = {"as": "টকা", "bn": "টাকা", "gu": "રૂપિયા", "hi": "रुपए", "kn": "ರೂಪಾಯಿ", "ml": "രൂപ", "mr": "रुपये",
         "or": "ଟଙ୍କା", "pa": "ਰੁਪਏ", "ta": "ரூபாய்", "te": "రూపాయలు", "ur": "روپے", "en": "rupees"}
_AMOUNT = r"(\d[\d,]*(?:\.\d+)?)"
_RUPEE_BEFORE = re.compile(r"(?:₹|\bRs\.?|\bINR)\s*" + _AMOUNT)
_NUMBER = re.compile(r"(?<![\w.])" + _AMOUNT + r"(?![\w])")


def number_languages() -> tuple[str, ...]:
    """Languages whose numbers `speak_number` can read (indic-numtowords, then num2words)."""
    from indic_numtowords import supported_langs

    return tuple(sorted(set(supported_langs) | {"kn", "te", "bn"}))


def speak_number(value: str, language: str, *, ordinal: bool = False) -> str | None:
    """A number's words in `language` ("25" → "पच्चीस"), or None when nothing can read it.

    Integers go through indic-numtowords (cardinals of 13 Indian languages); ordinals, and
    decimals' whole parts, through num2words where it has the language. Digits after a
    decimal point are read one by one.
    """
    digits = value.translate(_DIGITS).replace(",", "")
    if not re.fullmatch(r"\d+(?:\.\d+)?", digits):
        return None
    whole, _, fraction = digits.partition(".")
    words = None
    if ordinal:
        try:
            from num2words import num2words as n2w

            words = str(n2w(int(whole), lang=language, to="ordinal"))
        except (NotImplementedError, OverflowError, ValueError, KeyError, TypeError):
            words = None  # no ordinals for the language: the cardinal is the best we can say
    if words is None:
        words = _cardinal(int(whole), language)
    if words is None:
        return None
    if fraction:
        point = {"hi": "दशमलव", "mr": "दशांश", "en": "point"}.get(language, ".")
        spoken = [_cardinal(int(d), language) or d for d in fraction]
        words = " ".join([words, point, *spoken])
    return words


def _cardinal(number: int, language: str) -> str | None:
    from indic_numtowords import num2words as indic
    from indic_numtowords import supported_langs

    if language in supported_langs:
        try:
            return str(indic(number, lang=language))
        except (KeyError, ValueError, IndexError, TypeError):
            pass
    try:
        from num2words import num2words as n2w

        return str(n2w(number, lang=language))
    except (NotImplementedError, OverflowError, ValueError, KeyError, TypeError):
        return None


def speak_numbers(text: str, language: str) -> str:
    """Amounts in rupees and plain numbers read out in `language`; anything else unchanged."""
    text = text.translate(_DIGITS)

    def rupees(match: re.Match[str]) -> str:
        words = speak_number(match.group(1), language)
        return f"{words} {RUPEE.get(language, RUPEE['en'])}" if words else match.group(0)

    def number(match: re.Match[str]) -> str:
        return speak_number(match.group(1), language) or match.group(0)

    return _NUMBER.sub(number, _RUPEE_BEFORE.sub(rupees, text))


# -- TN for TTS: the grammar where NeMo has one, numbers elsewhere, and SSML <say-as> -----

_SENTENCE = re.compile(r"(?<=[.!?।॥])\s+")

# The fast path: a sentence made only of words, spaces and plain punctuation, with nothing any
# of the grammar's classes acts on, is what the grammar gives back, unchanged; it is not sent
# through pynini (tens of ms a sentence, holding the GIL). What the grammars change without a
# digit or symbol (tests/unit/test_textnorm_plain.py holds the proof against the real ones):
# whitelisted words and abbreviations ("vs", "Dr.", "etc.", "डॉ."), capitals read as letters or
# roman numerals ("NASA", "U.S.A.", "Henry V", "World War I", "chapter I", "Vth"), a period
# inside a sentence, and spacing (the detokenizer respaces punctuation). Any of those, or any
# other character, sends the sentence through the grammar as before.
_PLAIN_PUNCT = ",;:!?'\"’‘“”"
_PLAIN_LETTERS = {
    "en": "A-Za-z",
    # Devanagari letters, vowel signs, nukta, virama, avagraha; not its digits (U+0966-096F),
    # dandas (punctuation, below) or the abbreviation sign (U+0970).
    "hi": "\u0900-\u0963\u0971-\u097f",
}
_ROMAN_KEY_WORDS = frozenset({"chapter", "class", "part", "article", "section", "paragraph"})  # en roman/key_word.tsv
_ROMAN_SUFFIXED = re.compile(r"[IVXLCDM]+(th|st|nd|rd)")


@dataclasses.dataclass(frozen=True)
class _PlainRule:
    sentence: re.Pattern[str]
    whitelist: frozenset[str]  # single-word keys, casefolded, as written (with any period)
    phrases: tuple[str, ...]  # multi-word keys, casefolded


def _whitelist_keys(language: str) -> list[str]:
    """The keys of the TN whitelist files NeMo's deterministic grammar of `language` loads."""
    from nemo_text_processing import text_normalization

    files = {"en": ("whitelist/tts.tsv",), "hi": ("whitelist/abbreviations.tsv",)}[language]
    root = Path(text_normalization.__file__).parent / language / "data"
    keys = []
    for name in files:
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            key = line.split("\t", 1)[0].strip()
            if key:
                keys.append(key)
    return keys


_PLAIN_RULES: dict[str, _PlainRule | None] = {}
_PLAIN_RULES_LOCK = threading.Lock()


def _plain_rule(language: str) -> _PlainRule | None:
    with _PLAIN_RULES_LOCK:
        if language not in _PLAIN_RULES:
            rule = None
            if language in _PLAIN_LETTERS:
                letters = _PLAIN_LETTERS[language]
                punct = re.escape(_PLAIN_PUNCT) + ("।॥" if language == "hi" else "")
                # Words of letters (an apostrophe inside: "don't"), single spaces, punctuation
                # after a word or quotes around it, and periods only at the very end.
                word = rf"[{punct}]*[{letters}]+(?:'[{letters}]+)*[{punct}]*"
                keys = [k.casefold() for k in _whitelist_keys(language)]
                rule = _PlainRule(re.compile(rf"{word}(?: {word})*\.*"),
                                  frozenset(k for k in keys if " " not in k),
                                  tuple(k for k in keys if " " in k))
            _PLAIN_RULES[language] = rule
        return _PLAIN_RULES[language]


def plain(language: str, sentence: str) -> bool:
    """True when `sentence` has nothing `language`'s TN grammar would change (see above), so its
    spoken form is the sentence itself. Only for languages whose grammar this was proven for;
    False means "ask the grammar", never "it would change"."""
    rule = _plain_rule(language)
    if rule is None or not rule.sentence.fullmatch(sentence):
        return False
    folded = sentence.casefold()
    if any(phrase in folded for phrase in rule.phrases):
        return False
    previous = ""
    for raw in sentence.split(" "):
        core = raw.strip(_PLAIN_PUNCT + "।॥.")
        if not core:
            return False
        with_period = core + "." if raw.rstrip(_PLAIN_PUNCT).endswith(".") else core
        if core.casefold() in rule.whitelist or with_period.casefold() in rule.whitelist:
            return False
        if language == "en":
            # Capitals past the first letter (acronyms, roman numerals, "McD"), a capital letter
            # alone (other than "I" and "A"; "I" after a roman key word), "Vth", "St" (Saint).
            if any(ch.isupper() for ch in core[1:]):
                return False
            if len(core) == 1 and core.isupper() and (core not in "IA" or previous in _ROMAN_KEY_WORDS):
                return False
            if _ROMAN_SUFFIXED.fullmatch(core) or core.casefold() == "st":
                return False
        previous = core.casefold()
    return True
# Hindi ordinals: the first few are words of their own, the rest add -वाँ to the cardinal.
_HI_ORDINAL = {1: "पहला", 2: "दूसरा", 3: "तीसरा", 4: "चौथा", 6: "छठा"}


class SpeechNormalizer:
    """Written text → what a voice should say, per language: NeMo's TN grammar once it is
    loaded, the number reader (`speak_numbers`) where NeMo has none or is still loading."""

    def __init__(self, grammars: Grammars | None) -> None:
        self.grammars = grammars
        self._numbers = frozenset(number_languages())

    def kind(self, language: str) -> str:
        """"grammar", "numbers" or "none": what normalizes `language` now."""
        if self.grammars is not None and self.grammars.ready(language):
            return "grammar"
        return "numbers" if language in self._numbers else "none"

    def unchanged(self, language: str, text: str) -> bool:
        """True when `normalize` would give `text` back as it is, known cheaply (no grammar pass):
        no normalizer, or every sentence plain for the grammar. Safe on an event loop."""
        kind = self.kind(language)
        if kind == "grammar":
            sentences = _SENTENCE.split(text.strip())
            return " ".join(sentences) == text and all(plain(language, sentence) for sentence in sentences)
        return kind == "none"

    def normalize(self, language: str, text: str) -> str:
        """Blocking (a grammar pass per sentence): call it from a worker thread in a server."""
        if self.kind(language) == "grammar":
            assert self.grammars is not None
            spoken = []
            for sentence in _SENTENCE.split(text.strip()):
                if plain(language, sentence):
                    spoken.append(sentence)
                    continue
                try:
                    out = self.grammars.convert(language, sentence)
                except Exception:  # noqa: BLE001 - a grammar failure falls back to the number reader
                    log.exception("text normalization failed for %s", language)
                    out = None
                spoken.append(out if out is not None else speak_numbers(sentence, language))
            return " ".join(spoken)
        if self.kind(language) == "numbers":
            return speak_numbers(text, language)
        return text

    def say_as(self, interpret_as: str, text: str, language: str) -> str:
        """The words for an SSML <say-as interpret-as=...> element's text in `language`."""
        value = " ".join(text.split())
        if interpret_as == "characters":
            return " ".join(ch for ch in value if not ch.isspace())
        if interpret_as in ("digits", "telephone"):
            # Telephone numbers keep their grouping: a comma (a short pause) between groups.
            groups = [g for g in re.split(r"[\s\-().]+", value) if g]
            if interpret_as == "digits":
                groups = ["".join(groups)]
            read = [" ".join(self._digit(ch, language) for ch in g if ch.translate(_DIGITS).isdigit() or ch == "+")
                    for g in groups]
            return ", ".join(r for r in read if r)
        if interpret_as in ("cardinal", "ordinal"):
            number = value.translate(_DIGITS).replace(",", "")
            number = re.sub(r"(?<=\d)(st|nd|rd|th|वाँ|वां|वें|वीं)$", "", number)
            if interpret_as == "ordinal" and language == "hi" and number.isdigit():
                n = int(number)
                cardinal = speak_number(number, language)
                return _HI_ORDINAL.get(n) or (f"{cardinal}वाँ" if cardinal else value)
            return speak_number(number, language, ordinal=interpret_as == "ordinal") or value
        if interpret_as in ("date", "currency"):
            return self.normalize(language, value)
        return value

    @staticmethod
    def _digit(ch: str, language: str) -> str:
        if ch == "+":
            return "plus" if language == "en" else "+"
        return speak_number(ch, language) or ch
