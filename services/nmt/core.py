"""NMT domain core: validation, language pairs, detection, do-not-translate, transliteration,
Triton calls.

Knows nothing of grpc. What the deployment can translate or transliterate comes from the
model registry (the Triton models' own configuration, or settings for repositories that
don't declare it), so nothing about capability is hard-coded here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Sequence

import numpy as np
import sacrebleu

from services.common.backends.registry import ModelInfo, ModelRegistry
from services.common.backends.triton import TritonAdapter
from services.common.errors import InvalidArgument, Reason
from services.common.languages import normalize_language
from services.common.paging import page
from services.common.settings import LiveValues
from services.nmt import langid
from services.nmt.settings import NmtSettings

MAX_TOP_K = 10
DEFAULT_PAGE_SIZE = 100
# A BCP-47 script subtag → the language whose script it is, as transliteration models key
# scripts ("hi-Latn" is romanized Hindi: Latin script, which models call "en").
SCRIPT_LANGUAGE = {
    "latn": "en", "deva": "hi", "beng": "bn", "guru": "pa", "gujr": "gu", "orya": "or", "taml": "ta",
    "telu": "te", "knda": "kn", "mlym": "ml", "arab": "ur", "mtei": "mni", "olck": "sat", "sinh": "si",
}


@dataclasses.dataclass(frozen=True)
class LanguagePair:
    source: str
    target: str
    model: str
    backend: str


@dataclasses.dataclass(frozen=True)
class ScriptPair:
    source: str
    target: str
    supports_candidates: bool
    backend: str


@dataclasses.dataclass(frozen=True)
class Translation:
    text: str
    source_language_code: str
    detected: bool
    model: str
    # Quality signals (hints, not truth): share of source words the model knew, when the model
    # reports it; chrF of the source against the translation translated back, when asked for.
    coverage: float | None = None
    round_trip_chrf: float | None = None
    round_trip_model: str = ""


def chrf(hypothesis: str, reference: str) -> float:
    """sacrebleu's sentence chrF (0..100) of `hypothesis` against one `reference`."""
    return float(sacrebleu.sentence_chrf(hypothesis, [reference]).score)


def reports(info: ModelInfo, signal: str) -> bool:
    """Whether the model's config declares `signal` among its optional quality outputs."""
    declared = info.parameters.get("quality_signals", "") or ""
    return signal in {item.strip() for item in declared.split(",")}


def script_language(code: str, field: str) -> str:
    """The script a BCP-47 tag is written in, named as models name it ("hi-Latn" → "en")."""
    normalize_language(code, field)
    parts = code.strip().replace("_", "-").lower().split("-")
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            if part not in SCRIPT_LANGUAGE:
                raise InvalidArgument(f"{field}={code!r}: script {part.title()} is not served",
                                      reason=Reason.UNSUPPORTED_SCRIPT_PAIR, field=field)
            return SCRIPT_LANGUAGE[part]
    return parts[0]


class NmtCore:
    def __init__(self, settings: NmtSettings, triton: TritonAdapter, registry: ModelRegistry,
                 live: LiveValues | None = None) -> None:
        self.settings = settings
        self.triton = triton
        self.registry = registry
        # Config namespace "nmt": values set there win over the environment's while they are set.
        self.live = live

    @property
    def max_contents(self) -> int:
        """Texts per request: the live "nmt/max_contents" when set, else `settings.max_contents`."""
        default = self.settings.max_contents
        return self.live.get_int("max_contents", default, 1, 1024) if self.live is not None else default

    # -- validation ----------------------------------------------------------------------

    def _validate_contents(self, contents: Sequence[str]) -> None:
        s = self.settings
        if not contents:
            raise InvalidArgument("contents must hold at least one text",
                                  reason=Reason.FIELD_REQUIRED, field="contents")
        max_contents = self.max_contents
        if len(contents) > max_contents:
            raise InvalidArgument(f"contents holds {len(contents)} texts; at most {max_contents} are allowed",
                                  reason=Reason.TOO_MANY_CONTENTS, field="contents")
        total = 0
        for index, text in enumerate(contents):
            field = f"contents[{index}]"
            if not text.strip():
                raise InvalidArgument(f"{field} is empty", reason=Reason.FIELD_REQUIRED, field=field)
            if len(text) > s.max_content_chars:
                raise InvalidArgument(f"{field} has {len(text)} characters; at most {s.max_content_chars} are allowed",
                                      reason=Reason.CONTENT_TOO_LONG, field=field)
            total += len(text)
        if total > s.max_total_chars:
            raise InvalidArgument(f"contents hold {total} characters; at most {s.max_total_chars} in all",
                                  reason=Reason.CONTENT_TOO_LONG, field="contents")

    def _validate_phrases(self, phrases: Sequence[str]) -> list[str]:
        s = self.settings
        if len(phrases) > s.max_do_not_translate:
            raise InvalidArgument(f"do_not_translate holds {len(phrases)} phrases; at most {s.max_do_not_translate}",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field="do_not_translate")
        for index, phrase in enumerate(phrases):
            if not phrase.strip() or len(phrase) > s.max_phrase_chars:
                raise InvalidArgument(f"do_not_translate[{index}] must be 1 to {s.max_phrase_chars} characters",
                                      reason=Reason.FIELD_OUT_OF_RANGE, field=f"do_not_translate[{index}]")
        # Longest first, so a phrase inside a longer one doesn't split it.
        return sorted({p.strip() for p in phrases}, key=len, reverse=True)

    async def _pair(self, source: str, target: str, model: str, field: str) -> ModelInfo:
        return await self.registry.find("translation", language=source, target=target, model=model, field=field)

    # -- operations ----------------------------------------------------------------------

    async def translate(
        self,
        contents: Sequence[str],
        source_language_code: str,
        target_language_code: str,
        *,
        model: str = "",
        do_not_translate: Sequence[str] = (),
        include_round_trip_chrf: bool = False,
        timeout_s: float | None = None,
        request_id: str = "",
    ) -> list[Translation]:
        """Validates, groups texts by source language, translates each group in batches; with
        `include_round_trip_chrf`, translates the results back where a reverse direction exists."""
        self._validate_contents(contents)
        if not target_language_code.strip():
            raise InvalidArgument("target_language_code is required", reason=Reason.FIELD_REQUIRED,
                                  field="target_language_code")
        target = normalize_language(target_language_code, "target_language_code")
        source = normalize_language(source_language_code, "source_language_code")
        if len(model) > 128:
            raise InvalidArgument("model is longer than 128 characters",
                                  reason=Reason.FIELD_OUT_OF_RANGE, field="model")
        phrases = self._validate_phrases(do_not_translate)

        sources: list[str] = []
        for index, text in enumerate(contents):
            if source:
                sources.append(source)
                continue
            guesses = langid.detect(text)
            if not guesses:
                raise InvalidArgument(f"cannot detect the language of contents[{index}]; set source_language_code",
                                      reason=Reason.LANGUAGE_NOT_DETECTED, field=f"contents[{index}]")
            sources.append(guesses[0].language_code)
        if source and source == target:
            raise InvalidArgument("source and target language are the same", reason=Reason.UNSUPPORTED_LANGUAGE_PAIR,
                                  field="target_language_code")

        groups: dict[str, list[int]] = {}
        for index, lang in enumerate(sources):
            groups.setdefault(lang, []).append(index)
        pairs = {}
        for lang, indexes in groups.items():
            field = "source_language_code" if source else f"contents[{indexes[0]}]"
            pairs[lang] = await self._pair(lang, target, model, field)

        protected = [_protect(text, phrases) for text in contents]
        jobs = [(pairs[lang], lang, target, indexes) for lang, indexes in groups.items()]
        results, coverages = await self._run(jobs, [p[0] for p in protected], timeout_s, request_id)
        results = [_restore(text, protected[i][1]) for i, text in enumerate(results)]
        coverages = [_without_placeholders(c, *protected[i]) for i, c in enumerate(coverages)]
        translations = [
            Translation(results[i], sources[i], not source, pairs[sources[i]].name, coverages[i])
            for i in range(len(contents))
        ]
        if include_round_trip_chrf:
            translations = await self._round_trip(translations, contents, target, groups, timeout_s, request_id)
        return translations

    async def _run(self, jobs: Sequence[tuple[ModelInfo, str, str, list[int]]], texts: Sequence[str],
                   timeout_s: float | None, request_id: str) -> tuple[list[str], list[float | None]]:
        """For each job (model, source, target, indexes), translates `texts[i]` for its indexes, in batches."""
        results: list[str] = [""] * len(texts)
        coverages: list[float | None] = [None] * len(texts)
        calls = []
        for info, source, target, indexes in jobs:
            step = info.max_batch_size or 1
            for start in range(0, len(indexes), step):
                chunk = indexes[start : start + step]
                calls.append((chunk, self._infer(info, source, target, [texts[i] for i in chunk], timeout_s,
                                                 request_id)))
        outputs = await asyncio.gather(*(call for _, call in calls))
        for (chunk, _), (out, cover) in zip(calls, outputs, strict=True):
            for position, index in enumerate(chunk):
                results[index] = out[position]
                coverages[index] = cover[position] if cover is not None else None
        return results, coverages

    async def _round_trip(self, translations: list[Translation], contents: Sequence[str], target: str,
                          groups: dict[str, list[int]], timeout_s: float | None, request_id: str
                          ) -> list[Translation]:
        """Sets round_trip_chrf where the registry serves target → source; leaves it unset elsewhere."""
        jobs = []
        for lang, indexes in groups.items():
            try:
                info = await self._pair(target, lang, "", "target_language_code")
            except InvalidArgument:
                continue  # no reverse direction: the signal stays unset
            jobs.append((info, target, lang, indexes))
        if not jobs:
            return translations
        back, _ = await self._run(jobs, [t.text for t in translations], timeout_s, request_id)
        out = list(translations)
        for info, _, _, indexes in jobs:
            for index in indexes:
                out[index] = dataclasses.replace(out[index], round_trip_chrf=chrf(back[index], contents[index]),
                                                 round_trip_model=info.name)
        return out

    async def _infer(self, info: ModelInfo, source: str, target: str, texts: list[str], timeout_s: float | None,
                     request_id: str) -> tuple[list[str], list[float] | None]:
        """Translations of `texts`, and their coverage where the model reports it."""
        n = len(texts)
        want_coverage = reports(info, "coverage")
        out = await self.triton.infer(
            info.name,
            {
                "INPUT_TEXT": _column(texts),
                "INPUT_LANGUAGE_ID": _column([source] * n),
                "OUTPUT_LANGUAGE_ID": _column([target] * n),
            },
            ["OUTPUT_TEXT", "OUTPUT_COVERAGE"] if want_coverage else ["OUTPUT_TEXT"],
            timeout_s=timeout_s,
            request_id=request_id,
        )
        texts_out = [_text(v) for v in out["OUTPUT_TEXT"].reshape(-1)]
        if not want_coverage or "OUTPUT_COVERAGE" not in out:
            return texts_out, None
        return texts_out, [float(v) for v in np.asarray(out["OUTPUT_COVERAGE"]).reshape(-1)]

    def detect(self, content: str) -> list[langid.Guess]:
        if not content.strip():
            raise InvalidArgument("content is empty", reason=Reason.FIELD_REQUIRED, field="content")
        if len(content) > self.settings.max_content_chars:
            raise InvalidArgument(f"content has more than {self.settings.max_content_chars} characters",
                                  reason=Reason.CONTENT_TOO_LONG, field="content")
        guesses = langid.detect(content)
        if not guesses:
            raise InvalidArgument("no letters of a known script in content", reason=Reason.LANGUAGE_NOT_DETECTED,
                                  field="content")
        return guesses

    async def list_pairs(
        self, page_size: int, page_token: str, source: str, target: str
    ) -> tuple[list[LanguagePair], str]:
        source = normalize_language(source, "source_language_code")
        target = normalize_language(target, "target_language_code")
        pairs = [
            LanguagePair(s, t, m.name, m.backend)
            for m in sorted(await self.registry.models("translation"), key=lambda m: m.name)
            for s, t in m.language_pairs
            if (not source or s == source) and (not target or t == target)
        ]
        return page(pairs, page_size, page_token, default_size=DEFAULT_PAGE_SIZE)

    async def list_script_pairs(
        self, page_size: int, page_token: str, source: str, target: str
    ) -> tuple[list[ScriptPair], str]:
        source = script_language(source, "source_language_code") if source else ""
        target = script_language(target, "target_language_code") if target else ""
        pairs = [
            ScriptPair(s, t, int(m.parameters.get("max_top_k", "1") or 1) > 1, m.backend)
            for m in sorted(await self.registry.models("transliteration"), key=lambda m: m.name)
            for s, t in m.language_pairs
            if (not source or s == source) and (not target or t == target)
        ]
        return page(pairs, page_size, page_token, default_size=DEFAULT_PAGE_SIZE)

    async def transliterate(
        self,
        contents: Sequence[str],
        source_language_code: str,
        target_language_code: str,
        *,
        is_word_level: bool,
        top_k: int,
        timeout_s: float | None = None,
        request_id: str = "",
    ) -> list[list[str]]:
        """Candidates per text, best first."""
        self._validate_contents(contents)
        for name, code in (("source_language_code", source_language_code),
                           ("target_language_code", target_language_code)):
            if not code.strip():
                raise InvalidArgument(f"{name} is required", reason=Reason.FIELD_REQUIRED, field=name)
        source = script_language(source_language_code, "source_language_code")
        target = script_language(target_language_code, "target_language_code")
        if source == target:
            raise InvalidArgument("source and target are written in the same script",
                                  reason=Reason.UNSUPPORTED_SCRIPT_PAIR, field="target_language_code")
        if not 0 <= top_k <= MAX_TOP_K:
            raise InvalidArgument(f"top_k must be 0 to {MAX_TOP_K}", reason=Reason.FIELD_OUT_OF_RANGE, field="top_k")
        if is_word_level:
            for index, text in enumerate(contents):
                if len(text.split()) != 1:
                    raise InvalidArgument(f"contents[{index}] is not a single word", reason=Reason.NOT_A_WORD,
                                          field=f"contents[{index}]")
        info = await self.registry.find("transliteration", language=source, target=target,
                                        field="target_language_code")
        k = max(1, min(top_k or 1, int(info.parameters.get("max_top_k", "1") or 1)))
        step = info.max_batch_size or 1
        calls = []
        for start in range(0, len(contents), step):
            chunk = list(contents[start : start + step])
            n = len(chunk)
            calls.append(self.triton.infer(
                info.name,
                {
                    "INPUT_TEXT": _column(chunk),
                    "INPUT_LANGUAGE_ID": _column([source] * n),
                    "OUTPUT_LANGUAGE_ID": _column([target] * n),
                    "IS_WORD_LEVEL": np.full((n, 1), is_word_level, dtype=np.bool_),
                    "TOP_K": np.full((n, 1), k, dtype=np.uint8),
                },
                ["OUTPUT_TEXT"], timeout_s=timeout_s, request_id=request_id))
        results: list[list[str]] = []
        for out in await asyncio.gather(*calls):
            for row in out["OUTPUT_TEXT"].reshape(len(out["OUTPUT_TEXT"]), -1):
                results.append([_text(v) for v in row if _text(v)])
        return results


def _column(values: Sequence[str]) -> np.ndarray:
    return np.array([v.encode("utf-8") for v in values], dtype=np.object_).reshape(len(values), 1)


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _protect(text: str, phrases: Sequence[str]) -> tuple[str, dict[str, str]]:
    """Swaps do-not-translate phrases for Latin placeholders that models pass through.

    One regex pass (longest phrase first), so a phrase never matches inside another phrase
    or inside a placeholder already put in.
    """
    if not phrases:
        return text, {}
    mapping: dict[str, str] = {}
    pattern = re.compile("|".join(re.escape(p) for p in phrases))

    def swap(match: re.Match[str]) -> str:
        token = f"ZXQ{len(mapping)}Q"
        mapping[token] = match.group(0)
        return token

    return pattern.sub(swap, text), mapping


_TOKEN = re.compile(r"ZXQ\d+Q")


def _without_placeholders(coverage: float | None, text: str, mapping: dict[str, str]) -> float | None:
    """Coverage over the words that were sent for translation: the model sees each do-not-translate
    placeholder as a word it does not know, and those are kept verbatim by design."""
    if coverage is None or not mapping:
        return coverage
    words = sum(1 for token in text.split() if any(ch.isalpha() for ch in token))
    translated = words - len(mapping)
    if translated <= 0:
        return 1.0
    return max(0.0, min(1.0, coverage * words / translated))


def _restore(text: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return text
    return _TOKEN.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
