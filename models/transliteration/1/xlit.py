"""Candidates for romanized Indian-language text, ranked (no grpc, no Triton: unit-testable).

Romanized input is read two ways and the readings are pooled:
  - as the formal schemes (ITRANS, Harvard-Kyoto, IAST, Velthuis, OPTITRANS) through
    `indic-transliteration`, first when the input looks formal (capitals inside a word, diacritics);
  - as chat spelling: the word is cut into Latin units ("aa", "sh", "n"…) and each unit has the
    Devanagari readings people mean by it, with a cost ("a" is अ or आ; a final "a" is mostly आ;
    "ee"/"i" are ई or इ; "t" is त or ट; "n" before a consonant is anusvara; "v"/"w" are व; a
    consonant before another one may hide a schwa; a final consonant keeps its schwa in the
    Indo-Aryan languages and takes a virama in Tamil and Malayalam…). The cheapest readings are
    enumerated best-first, rendered in Devanagari (which has every letter the other scripts
    need: ऩ ऱ ऴ ऎ ऒ) and converted to the target script.
Candidates are ranked by the language's word list (`lexicon`) where one exists — a known word
beats any unknown one, a frequent word a rare one — and by the rule cost alone otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence

import lexicon as lexicons
from indic_transliteration import sanscript

SCRIPT = {
    "hi": "devanagari", "mr": "devanagari", "ne": "devanagari", "sa": "devanagari", "kok": "devanagari",
    "mai": "devanagari", "doi": "devanagari", "brx": "devanagari", "bn": "bengali", "as": "assamese",
    "pa": "gurmukhi", "gu": "gujarati", "or": "oriya", "ta": "tamil", "te": "telugu", "kn": "kannada",
    "ml": "malayalam", "ur": "urdu", "mni": "manipuri", "sat": "ol_chiki", "si": "sinhala",
}
# Formal schemes, most used first.
SCHEMES = ("itrans", "hk", "iast", "velthuis", "optitrans")
# A final consonant is written with a virama (not an inherent schwa) in these.
FINAL_VIRAMA = frozenset({"ta", "ml"})
# Short e/o (ऎ ऒ) exist only in the Dravidian scripts; alveolar ऩ, ऱ and ऴ only in Tamil and Malayalam.
DRAVIDIAN = frozenset({"ta", "te", "kn", "ml"})
# The inherent vowel is pronounced (and chat-spelled) "o" in these.
INHERENT_O = frozenset({"bn", "as", "or"})
_DRAVIDIAN_ONLY = frozenset("ऎॆऒॊ")
_TAMIL_MALAYALAM_ONLY = frozenset("ऩऱऴ")
# Urdu is written without short-vowel marks (harakat) in ordinary text.
_HARAKAT = re.compile("[\u064b-\u065f\u0670]")
# A known word outranks any unknown one: the bonus is larger than any rule cost we emit.
LEXICON_BONUS = 20.0
SIBLING_WEIGHT = 0.5
MAX_VARIANTS = 256
SENTENCE_VARIANTS = 48
SENTENCE_WORD_CANDIDATES = 4
# Past this many units a "word" is no word anyone types: it gets its cheapest reading only, which
# keeps a 5,000-letter content linear (the best-first enumeration copies an index per unit).
MAX_UNITS = 40
# Past this many words, sentence candidates are the best sentence and single-word swaps (cheapest
# first) instead of the exact best-first product, for the same reason.
MAX_EXACT_WORDS = 32

VIRAMA = "\u094d"
ANUSVARA = "\u0902"
# Vowel name → (independent letter, vowel sign).
VOWELS = {
    "a": ("अ", ""), "aa": ("आ", "ा"), "i": ("इ", "ि"), "ii": ("ई", "ी"), "u": ("उ", "ु"), "uu": ("ऊ", "ू"),
    "e": ("ए", "े"), "E": ("ऎ", "ॆ"), "ai": ("ऐ", "ै"), "o": ("ओ", "ो"), "O": ("ऒ", "ॊ"), "au": ("औ", "ौ"),
    "R": ("ऋ", "ृ"),
}
# Symbol: ("C", letter) consonant, ("V", name) vowel, ("M", "") anusvara, ("H", "") virama,
# ("L", text) literal.
Symbol = tuple[str, str]
Option = tuple[tuple[Symbol, ...], float]


def _c(*letters: str) -> tuple[Symbol, ...]:
    return tuple(("C", letter) for letter in letters)


def _v(name: str) -> tuple[Symbol, ...]:
    return (("V", name),)


# Latin unit → readings, cheapest first.
VOWEL_UNITS: dict[str, list[Option]] = {
    "aa": [(_v("aa"), 0.0)],
    "a": [(_v("a"), 0.0), (_v("aa"), 1.2)],
    "ai": [(_v("ai"), 0.0), (_v("e"), 1.5)],
    "au": [(_v("au"), 0.0), (_v("o"), 1.5)],
    "ee": [(_v("ii"), 0.0), (_v("e"), 0.8)],
    "ii": [(_v("ii"), 0.0)],
    "i": [(_v("i"), 0.0), (_v("ii"), 0.8)],
    "oo": [(_v("uu"), 0.0), (_v("o"), 0.8)],
    "uu": [(_v("uu"), 0.0)],
    "u": [(_v("u"), 0.0), (_v("uu"), 0.8)],
    "e": [(_v("e"), 0.0), (_v("E"), 0.6)],
    "o": [(_v("o"), 0.0), (_v("O"), 0.6)],
}
# Word-final vowels: a final "a"/"i"/"u" is mostly long in chat spelling ("duniya", "paani").
FINAL_VOWEL_UNITS: dict[str, list[Option]] = {
    "a": [(_v("aa"), 0.3), (_v("a"), 0.5)],
    "i": [(_v("ii"), 0.2), (_v("i"), 0.5)],
    "u": [(_v("u"), 0.2), (_v("uu"), 0.5)],
}
CONSONANT_UNITS: dict[str, list[Option]] = {
    "ksh": [(_c("क", "ष"), 0.0)],
    "chh": [(_c("छ"), 0.0)],
    "kh": [(_c("ख"), 0.0), (_c("ख़"), 1.0)],
    "gh": [(_c("घ"), 0.0), (_c("ग़"), 1.2)],
    "ch": [(_c("च"), 0.0), (_c("छ"), 1.0)],
    "jh": [(_c("झ"), 0.0)],
    "th": [(_c("थ"), 0.0), (_c("त"), 0.6), (_c("ठ"), 1.0)],
    "dh": [(_c("ध"), 0.0), (_c("द"), 0.9), (_c("ढ"), 1.0)],
    "ph": [(_c("फ"), 0.0), (_c("फ़"), 0.8)],
    "bh": [(_c("भ"), 0.0)],
    "sh": [(_c("श"), 0.0), (_c("ष"), 0.7)],
    "zh": [(_c("ऴ"), 0.0), (_c("ज़"), 1.0)],
    "gy": [(_c("ज", "ञ"), 0.0), (_c("ग", "य"), 0.5)],
    "jn": [(_c("ज", "ञ"), 0.0), (_c("ज", "न"), 0.8)],
    "k": [(_c("क"), 0.0), (_c("क़"), 1.5)],
    "g": [(_c("ग"), 0.0)],
    "c": [(_c("च"), 0.0), (_c("क"), 0.3)],
    "j": [(_c("ज"), 0.0), (_c("ज़"), 1.2)],
    "t": [(_c("त"), 0.0), (_c("ट"), 0.6)],
    "d": [(_c("द"), 0.0), (_c("ड"), 0.6)],
    "n": [(_c("न"), 0.0), (_c("ण"), 0.8), (_c("ऩ"), 0.9)],
    "p": [(_c("प"), 0.0)],
    "f": [(_c("फ़"), 0.0), (_c("फ"), 0.5)],
    "b": [(_c("ब"), 0.0)],
    "m": [(_c("म"), 0.0)],
    "y": [(_c("य"), 0.0)],
    "r": [(_c("र"), 0.0), (_c("ड़"), 1.2), (_c("ऱ"), 1.2)],
    "l": [(_c("ल"), 0.0), (_c("ळ"), 1.0), (_c("ऴ"), 1.5)],
    "v": [(_c("व"), 0.0)],
    "w": [(_c("व"), 0.0)],
    "s": [(_c("स"), 0.0), (_c("श"), 0.8), (_c("ष"), 1.2)],
    "h": [(_c("ह"), 0.0)],
    "z": [(_c("ज़"), 0.0), (_c("ज"), 0.6)],
    "q": [(_c("क़"), 0.0), (_c("क"), 0.5)],
    "x": [(_c("क", "ष"), 0.0), (_c("क", "स"), 0.5)],
}
_UNITS = sorted({*VOWEL_UNITS, *CONSONANT_UNITS}, key=len, reverse=True)
_WORD = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff'.~^]+")


@dataclasses.dataclass(frozen=True)
class Candidate:
    text: str
    score: float
    known: bool


def tokenize(word: str) -> list[str]:
    """Greedy longest-match cut of a lowercase Latin word into units ("namaste" → n a m a s t e)."""
    units: list[str] = []
    i = 0
    while i < len(word):
        for unit in _UNITS:
            if word.startswith(unit, i):
                units.append(unit)
                i += len(unit)
                break
        else:
            units.append(word[i])
            i += 1
    return units


def unit_options(units: Sequence[str], language: str) -> list[list[Option]]:
    """The readings of each unit in its context (word end, before a consonant)."""
    options: list[list[Option]] = []
    for index, unit in enumerate(units):
        last = index == len(units) - 1
        following = units[index + 1] if not last else ""
        before_consonant = following in CONSONANT_UNITS
        if unit in VOWEL_UNITS:
            opts = list(FINAL_VOWEL_UNITS.get(unit, VOWEL_UNITS[unit]) if last else VOWEL_UNITS[unit])
            if unit == "o" and language in INHERENT_O and index > 0:
                opts.append((_v("a"), 0.3))  # Bengali chat "kotha" is কথা: the inherent vowel sounds o
        elif unit in CONSONANT_UNITS:
            base = CONSONANT_UNITS[unit]
            if unit in ("n", "m") and before_consonant:
                # Nasal before a consonant: anusvara or a nasal conjunct, both written.
                nasal = _c("न") if unit == "n" else _c("म")
                opts = [((("M", ""),), 0.0 if unit == "n" else 0.4), (nasal, 0.2 if unit == "n" else 0.0),
                        (nasal + _v("a"), 1.0), (_c("ण"), 1.0)]
            elif before_consonant and following != unit:
                # A schwa the spelling dropped ("namste" for namaste), or a conjunct.
                opts = list(base) + [(sym + _v("a"), cost + 1.0) for sym, cost in base[:2]]
            elif last and unit == "m" and language == "ml":
                # Malayalam writes a final m as anusvara (വെള്ളം).
                opts = [((("M", ""),), 0.0)] + [(sym + (("H", ""),), cost + 0.5) for sym, cost in base]
            elif last:
                virama_cost, schwa_cost = (0.0, 0.6) if language in FINAL_VIRAMA else (1.0, 0.0)
                opts = [(sym, cost + schwa_cost) for sym, cost in base] + [
                    (sym + (("H", ""),), cost + virama_cost) for sym, cost in base]
            else:
                opts = list(base)
        else:
            opts = [((("L", unit),), 0.0)]
        options.append(sorted(opts, key=lambda option: option[1]))
    return options


def render(symbols: Iterable[Symbol]) -> str:
    """Devanagari for a symbol sequence: vowel signs after consonants, viramas between them."""
    out: list[str] = []
    previous = ""
    for kind, value in symbols:
        if kind == "C":
            if previous == "C":
                out.append(VIRAMA)
            out.append(value)
        elif kind == "V":
            independent, sign = VOWELS[value]
            out.append(sign if previous == "C" else independent)
        elif kind == "M":
            out.append(ANUSVARA)  # after a consonant: its inherent a, then the anusvara
        elif kind == "H":
            if previous == "C":
                out.append(VIRAMA)
        else:
            out.append(value)
        previous = kind
    return "".join(out)


def kbest(options: Sequence[Sequence[float]], limit: int) -> Iterable[tuple[float, tuple[int, ...]]]:
    """Index vectors over `options` (costs per choice, each list sorted cheapest first), cheapest
    total first, at most `limit` of them."""
    if not options or any(not o for o in options):
        return
    start = tuple(0 for _ in options)
    heap = [(sum(o[0] for o in options), start)]
    seen = {start}
    emitted = 0
    while heap and emitted < limit:
        cost, index = heapq.heappop(heap)
        yield cost, index
        emitted += 1
        for position, choice in enumerate(index):
            if choice + 1 < len(options[position]):
                nxt = index[:position] + (choice + 1,) + index[position + 1:]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (cost - options[position][choice] + options[position][choice + 1], nxt))


def _to_script(devanagari: str, language: str) -> str:
    """The target script's spelling, or "" when the reading uses letters the language lacks."""
    if language not in DRAVIDIAN and _DRAVIDIAN_ONLY.intersection(devanagari):
        return ""
    if language not in ("ta", "ml") and _TAMIL_MALAYALAM_ONLY.intersection(devanagari):
        return ""
    script = SCRIPT[language]
    if script == "devanagari":
        return devanagari
    text = sanscript.transliterate(devanagari, sanscript.DEVANAGARI, script)
    if any("\u0900" <= ch <= "\u097f" for ch in text):
        return ""  # a letter the target script has no counterpart for
    if language == "ur":
        text = _HARAKAT.sub("", text)
    return text


def _formal(word: str) -> bool:
    return any(ch.isupper() for ch in word[1:]) or any(ord(ch) > 127 for ch in word) or any(
        ch in word for ch in ".~^")


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def readings(word: str, language: str, limit: int = MAX_VARIANTS) -> dict[str, float]:
    """Native spellings of one romanized word → rule cost (lower is likelier), unranked by words."""
    found: dict[str, float] = {}

    def add(text: str, cost: float) -> None:
        if language == "ur":
            text = _HARAKAT.sub("", text)
        if text and (text not in found or cost < found[text]):
            found[text] = cost

    formal = _formal(word)
    for rank, scheme in enumerate(SCHEMES):
        try:
            text = sanscript.transliterate(word, scheme, SCRIPT[language])
        except (KeyError, ValueError):
            continue
        if any("a" <= ch.lower() <= "z" for ch in text):
            continue  # the scheme did not read every letter
        add(text, (0.0 if formal else 0.7) + 0.15 * rank)
    plain = _plain(word)
    units = tokenize(plain)
    options = unit_options(units, language)
    penalty = 1.0 if formal else 0.0
    if len(units) > MAX_UNITS:
        limit = 1
        options = [opts[:1] for opts in options]
    for cost, index in kbest([[c for _, c in opts] for opts in options], limit):
        symbols = itertools.chain.from_iterable(options[i][choice][0] for i, choice in enumerate(index))
        add(_to_script(render(symbols), language), cost + penalty)
    if language == "ta":
        # Tamil writes the alveolar ன inside words and dental ந at their start and before த;
        # chat "ndr"/"tr" inside a word is mostly ன்ற/ற்ற ("nandri" நன்றி).
        for text, cost in list(found.items()):
            fixed = text[0] + re.sub("ந(?!்த)", "ன", text[1:]) if "ந" in text[1:] else text
            fixed = re.sub("[நன]்[தட]்ர", "ன்ற", fixed)
            fixed = re.sub("(?<=.)[தட]்ர", "ற்ற", fixed)
            if fixed != text:
                add(fixed, cost - 0.1)
    if language == "ur":
        # A final long a is mostly ہ in Urdu spelling (shukriya شکریہ).
        for text, cost in list(found.items()):
            if text.endswith("ا") and len(text) > 2:
                add(text[:-1] + "ہ", cost + 0.1)
    return found


def rank(found: dict[str, float], language: str) -> list[Candidate]:
    """Candidates, best first: known words by frequency, then by rule cost."""
    own = lexicons.load(language)
    sibling = lexicons.load(lexicons.SIBLING[language]) if not len(own) and language in lexicons.SIBLING else None
    ranked: list[Candidate] = []
    for text, cost in found.items():
        zipf = own.get(text)
        weight = 1.0
        if zipf is None and sibling is not None:
            zipf, weight = sibling.get(text), SIBLING_WEIGHT
        bonus = weight * (LEXICON_BONUS + zipf) if zipf is not None else 0.0
        ranked.append(Candidate(text, bonus - cost, zipf is not None))
    ranked.sort(key=lambda c: -c.score)
    return ranked


def word_candidates(word: str, language: str, top_k: int, limit: int = MAX_VARIANTS) -> list[Candidate]:
    """Up to `top_k` distinct candidates for one romanized word, best first."""
    return list(_cached_candidates(word, language, top_k, limit))


@functools.lru_cache(maxsize=8192)
def _cached_candidates(word: str, language: str, top_k: int, limit: int) -> tuple[Candidate, ...]:
    # Texts repeat their words; a word's candidates depend on nothing else.
    return tuple(rank(readings(word, language, limit), language)[:top_k])


def sentence_candidates(text: str, language: str, top_k: int) -> list[str]:
    """Up to `top_k` distinct transliterations of a romanized text: each word's candidates,
    combined cheapest first; spaces, digits and punctuation are kept as they are."""
    pieces: list[list[Candidate]] = []
    position = 0
    for match in _WORD.finditer(text):
        if match.start() > position:
            pieces.append([Candidate(text[position:match.start()], 0.0, True)])
        word = match.group(0)
        found = word_candidates(word, language, SENTENCE_WORD_CANDIDATES, SENTENCE_VARIANTS)
        pieces.append(found or [Candidate(word, 0.0, False)])
        position = match.end()
    if position < len(text):
        pieces.append([Candidate(text[position:], 0.0, True)])
    out: list[str] = []
    costs = [[-c.score for c in piece] for piece in pieces]
    if sum(len(piece) > 1 for piece in pieces) <= MAX_EXACT_WORDS:
        choices: Iterable[tuple[int, ...]] = (index for _, index in kbest(costs, top_k * 4))
    else:
        best = tuple(0 for _ in pieces)
        swaps = sorted((cost[1] - cost[0], i) for i, cost in enumerate(costs) if len(cost) > 1)
        choices = itertools.chain([best], (best[:i] + (1,) + best[i + 1:] for _, i in swaps[:top_k * 4]))
    for index in choices:
        sentence = "".join(pieces[i][choice].text for i, choice in enumerate(index))
        if sentence not in out:
            out.append(sentence)
        if len(out) == top_k:
            break
    return out


def candidates(text: str, language: str, top_k: int, *, word_level: bool) -> list[str]:
    """Latin text → `language`'s script: up to `top_k` distinct candidates, best first."""
    found = ([c.text for c in word_candidates(text.strip(), language, top_k)] if word_level
             else sentence_candidates(text, language, top_k))
    # Never nothing: a text no reading survives for (letters no scheme reads) comes back as it is.
    return found or [text]
