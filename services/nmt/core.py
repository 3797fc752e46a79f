"""NMT domain core: validation, language pairs, detection, do-not-translate, Triton calls.

Knows nothing of grpc. What the deployment can translate comes from the Triton model's own
configuration (`language_pairs` parameter), or from settings for repositories that don't
declare it, so nothing about capability is hard-coded here.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import re
import time
from collections.abc import Sequence

import numpy as np

from services.common.errors import InvalidArgument, Unavailable
from services.common.triton import TritonAdapter, config_parameter
from services.nmt import langid
from services.nmt.settings import NmtSettings

MAX_LANGUAGE_CODE_CHARS = 35


@dataclasses.dataclass(frozen=True)
class LanguagePair:
    source: str
    target: str
    model: str
    backend: str


@dataclasses.dataclass(frozen=True)
class Translation:
    text: str
    source_language_code: str
    detected: bool
    model: str


def normalize_language(code: str, field: str) -> str:
    """BCP-47 tag → the primary language subtag models are keyed by ("hi-IN" → "hi")."""
    code = code.strip()
    if len(code) > MAX_LANGUAGE_CODE_CHARS:
        raise InvalidArgument(f"{field} is longer than {MAX_LANGUAGE_CODE_CHARS} characters",
                              reason="FIELD_OUT_OF_RANGE", field=field)
    primary = code.replace("_", "-").split("-")[0].lower()
    if code and not (primary.isascii() and primary.isalpha() and 2 <= len(primary) <= 3):
        raise InvalidArgument(f"{field}={code!r} is not a BCP-47 language tag", reason="UNSUPPORTED_LANGUAGE",
                              field=field)
    return primary


class PairCatalog:
    """The language pairs the model serves, refreshed from Triton every `refresh_s`."""

    def __init__(self, triton: TritonAdapter, settings: NmtSettings) -> None:
        self._triton = triton
        self._settings = settings
        self._pairs: tuple[LanguagePair, ...] = ()
        self._max_batch = 0
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def pairs(self) -> tuple[LanguagePair, ...]:
        if time.monotonic() - self._loaded_at > self._settings.catalog_refresh_s:
            await self.refresh()
        return self._pairs

    @property
    def max_batch(self) -> int:
        return self._max_batch or 1

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._loaded_at <= self._settings.catalog_refresh_s and self._pairs:
                return
            try:
                config = await self._triton.model_config(self._settings.model_name, timeout_s=2.0)
            except Unavailable:
                if self._pairs:
                    return  # keep serving what we knew; the infer call will tell the truth
                raise
            declared = self._settings.language_pairs or config_parameter(config, "language_pairs")
            backend = config_parameter(config, "backend_name", config.get("backend", ""))
            pairs = []
            for item in declared.split(","):
                source, _, target = item.strip().partition("-")
                if source and target:
                    pairs.append(LanguagePair(source.lower(), target.lower(), self._settings.model_name, backend))
            self._pairs = tuple(pairs)
            self._max_batch = int(config.get("max_batch_size", 0) or 0)
            self._loaded_at = time.monotonic()


class NmtCore:
    def __init__(self, settings: NmtSettings, triton: TritonAdapter, catalog: PairCatalog) -> None:
        self.settings = settings
        self.triton = triton
        self.catalog = catalog

    # -- validation ----------------------------------------------------------------------

    def _validate_contents(self, contents: Sequence[str]) -> None:
        s = self.settings
        if not contents:
            raise InvalidArgument("contents must hold at least one text", reason="FIELD_REQUIRED", field="contents")
        if len(contents) > s.max_contents:
            raise InvalidArgument(f"contents holds {len(contents)} texts; at most {s.max_contents} are allowed",
                                  reason="TOO_MANY_CONTENTS", field="contents")
        total = 0
        for index, text in enumerate(contents):
            field = f"contents[{index}]"
            if not text.strip():
                raise InvalidArgument(f"{field} is empty", reason="FIELD_REQUIRED", field=field)
            if len(text) > s.max_content_chars:
                raise InvalidArgument(f"{field} has {len(text)} characters; at most {s.max_content_chars} are allowed",
                                      reason="CONTENT_TOO_LONG", field=field)
            total += len(text)
        if total > s.max_total_chars:
            raise InvalidArgument(f"contents hold {total} characters; at most {s.max_total_chars} in all",
                                  reason="CONTENT_TOO_LONG", field="contents")

    def _validate_phrases(self, phrases: Sequence[str]) -> list[str]:
        s = self.settings
        if len(phrases) > s.max_do_not_translate:
            raise InvalidArgument(f"do_not_translate holds {len(phrases)} phrases; at most {s.max_do_not_translate}",
                                  reason="FIELD_OUT_OF_RANGE", field="do_not_translate")
        for index, phrase in enumerate(phrases):
            if not phrase.strip() or len(phrase) > s.max_phrase_chars:
                raise InvalidArgument(f"do_not_translate[{index}] must be 1 to {s.max_phrase_chars} characters",
                                      reason="FIELD_OUT_OF_RANGE", field=f"do_not_translate[{index}]")
        # Longest first, so a phrase inside a longer one doesn't split it.
        return sorted({p.strip() for p in phrases}, key=len, reverse=True)

    async def _pair(self, source: str, target: str, model: str, field: str) -> LanguagePair:
        pairs = await self.catalog.pairs()
        if model and all(p.model != model for p in pairs):
            raise InvalidArgument(f"model {model!r} is not served", reason="UNKNOWN_MODEL", field="model",
                                  metadata={"available_models": ",".join(sorted({p.model for p in pairs}))})
        for pair in pairs:
            if pair.source == source and pair.target == target and (not model or pair.model == model):
                return pair
        available = ",".join(f"{p.source}-{p.target}" for p in pairs)
        raise InvalidArgument(
            f"no model translates {source or '?'} to {target}; served pairs: {available or 'none'}",
            reason="UNSUPPORTED_LANGUAGE_PAIR", field=field, metadata={"available_pairs": available},
        )

    # -- operations ----------------------------------------------------------------------

    async def translate(
        self,
        contents: Sequence[str],
        source_language_code: str,
        target_language_code: str,
        *,
        model: str = "",
        do_not_translate: Sequence[str] = (),
        timeout_s: float | None = None,
        request_id: str = "",
    ) -> list[Translation]:
        """Validates, groups texts by source language, translates each group in batches."""
        self._validate_contents(contents)
        if not target_language_code.strip():
            raise InvalidArgument("target_language_code is required", reason="FIELD_REQUIRED",
                                  field="target_language_code")
        target = normalize_language(target_language_code, "target_language_code")
        source = normalize_language(source_language_code, "source_language_code")
        if len(model) > 128:
            raise InvalidArgument("model is longer than 128 characters", reason="FIELD_OUT_OF_RANGE", field="model")
        phrases = self._validate_phrases(do_not_translate)

        sources: list[str] = []
        for index, text in enumerate(contents):
            if source:
                sources.append(source)
                continue
            guesses = langid.detect(text)
            if not guesses:
                raise InvalidArgument(f"cannot detect the language of contents[{index}]; set source_language_code",
                                      reason="LANGUAGE_NOT_DETECTED", field=f"contents[{index}]")
            sources.append(guesses[0].language_code)
        if source and source == target:
            raise InvalidArgument("source and target language are the same", reason="UNSUPPORTED_LANGUAGE_PAIR",
                                  field="target_language_code")

        groups: dict[str, list[int]] = {}
        for index, lang in enumerate(sources):
            groups.setdefault(lang, []).append(index)
        pairs = {}
        for lang, indexes in groups.items():
            field = "source_language_code" if source else f"contents[{indexes[0]}]"
            pairs[lang] = await self._pair(lang, target, model, field)

        protected = [_protect(text, phrases) for text in contents]
        results: list[str] = [""] * len(contents)
        calls = []
        for lang, indexes in groups.items():
            for start in range(0, len(indexes), self.catalog.max_batch):
                chunk = indexes[start : start + self.catalog.max_batch]
                calls.append((chunk, self._infer(pairs[lang], [protected[i][0] for i in chunk], timeout_s, request_id)))
        outputs = await asyncio.gather(*(call for _, call in calls))
        for (chunk, _), texts in zip(calls, outputs, strict=True):
            for index, text in zip(chunk, texts, strict=True):
                results[index] = _restore(text, protected[index][1])
        return [
            Translation(results[i], sources[i], not source, pairs[sources[i]].model) for i in range(len(contents))
        ]

    async def _infer(self, pair: LanguagePair, texts: list[str], timeout_s: float | None, request_id: str) -> list[str]:
        n = len(texts)

        def column(values: Sequence[str]) -> np.ndarray:
            return np.array([v.encode("utf-8") for v in values], dtype=np.object_).reshape(n, 1)

        out = await self.triton.infer(
            pair.model,
            {
                "INPUT_TEXT": column(texts),
                "INPUT_LANGUAGE_ID": column([pair.source] * n),
                "OUTPUT_LANGUAGE_ID": column([pair.target] * n),
            },
            ["OUTPUT_TEXT"],
            timeout_s=timeout_s,
            request_id=request_id,
        )
        return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in out["OUTPUT_TEXT"].reshape(-1)]

    def detect(self, content: str) -> list[langid.Guess]:
        if not content.strip():
            raise InvalidArgument("content is empty", reason="FIELD_REQUIRED", field="content")
        if len(content) > self.settings.max_content_chars:
            raise InvalidArgument(f"content has more than {self.settings.max_content_chars} characters",
                                  reason="CONTENT_TOO_LONG", field="content")
        guesses = langid.detect(content)
        if not guesses:
            raise InvalidArgument("no letters of a known script in content", reason="LANGUAGE_NOT_DETECTED",
                                  field="content")
        return guesses

    async def list_pairs(
        self, page_size: int, page_token: str, source: str, target: str
    ) -> tuple[list[LanguagePair], str]:
        source = normalize_language(source, "source_language_code")
        target = normalize_language(target, "target_language_code")
        if page_size < 0:
            raise InvalidArgument("page_size must not be negative", reason="FIELD_OUT_OF_RANGE", field="page_size")
        size = min(page_size or 100, 1000)
        offset = decode_page_token(page_token)
        pairs = [p for p in await self.catalog.pairs()
                 if (not source or p.source == source) and (not target or p.target == target)]
        page = pairs[offset : offset + size]
        next_token = encode_page_token(offset + size) if offset + size < len(pairs) else ""
        return page, next_token


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def decode_page_token(token: str) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        offset = int(value)
        if kind != "o" or offset < 0:
            raise ValueError(token)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument("page_token is not one this server issued", reason="INVALID_PAGE_TOKEN",
                              field="page_token") from exc
    return offset


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


def _restore(text: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return text
    return _TOKEN.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
