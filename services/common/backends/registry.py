"""Model registry: what the Triton deployment can serve, read from Triton itself.

At start and every `refresh_s` (and on demand after a failure) it reads Triton's repository
index and each ready model's configuration. Models declare their capability in
`config.pbtxt` parameters (`task`, `languages`, `language_pairs`, `voices`,
`sample_rate_hertz`, `streaming`, `backend_name`); `overrides` supply the same keys for
published repositories (IndicTrans2, IndicConformer, Indic-TTS) whose configs don't declare
them. Services ask it "which model serves task T for language L (voice V)"; nothing about
capability is hard-coded in a service.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from services.common.backends.triton import TritonAdapter
from services.common.errors import DeadlineExceeded, InvalidArgument, Reason, Unavailable

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Voice:
    name: str  # e.g. "hi-female"
    language: str
    gender: str  # "male" | "female" | ""


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    name: str
    task: str
    backend: str
    languages: tuple[str, ...] = ()
    language_pairs: tuple[tuple[str, str], ...] = ()
    voices: tuple[Voice, ...] = ()
    sample_rate_hertz: int = 0
    streaming: bool = False
    max_batch_size: int = 0
    parameters: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def serves(self, language: str = "", target: str = "", voice: str = "") -> bool:
        if target:
            return (language, target) in self.language_pairs
        if voice:
            return any(v.name == voice for v in self.voices)
        return not language or language in self.languages


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_model(name: str, config: Mapping[str, object], overrides: Mapping[str, str] | None = None) -> ModelInfo:
    """Reads a model's declared capability from its config (as Triton returns it in JSON)."""
    raw: Mapping[str, Any] = config.get("parameters") or {}  # type: ignore[assignment]
    params = {k: str(v.get("string_value", "")) for k, v in raw.items() if isinstance(v, dict)}
    params.update(overrides or {})
    languages = _split(params.get("languages", ""))
    pairs: list[tuple[str, str]] = []
    for item in _split(params.get("language_pairs", "")):
        source, _, target = item.partition("-")
        if source and target:
            pairs.append((source, target))
    if not pairs and params.get("task") == "transliteration" and languages:
        pairs = [(s, t) for s in languages for t in languages if s != t]
    voices = []
    for item in _split(params.get("voices", "")):
        language, _, gender = item.partition("-")
        voices.append(Voice(item, language, gender))
    if not languages:
        languages = tuple(sorted({s for s, _ in pairs} | {v.language for v in voices}))
    policy: Mapping[str, Any] = config.get("model_transaction_policy") or {}  # type: ignore[assignment]
    return ModelInfo(
        name=name,
        task=params.get("task", ""),
        backend=params.get("backend_name", str(config.get("backend", "") or config.get("platform", ""))),
        languages=languages,
        language_pairs=tuple(pairs),
        voices=tuple(voices),
        sample_rate_hertz=int(params.get("sample_rate_hertz", "0") or 0),
        streaming=params.get("streaming", "").lower() == "true" or bool(policy.get("decoupled")),
        max_batch_size=int(config.get("max_batch_size", 0) or 0),  # type: ignore[call-overload]
        parameters=params,
    )


class ModelRegistry:
    def __init__(self, triton: TritonAdapter, refresh_s: float = 30.0,
                 overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._triton = triton
        self._refresh_s = refresh_s
        self._overrides = {k: dict(v) for k, v in (overrides or {}).items()}
        self._models: dict[str, ModelInfo] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the cached view (e.g. after Triton restarted); the next ask reloads."""
        self._loaded_at = float("-inf")

    def _fresh(self) -> bool:
        return time.monotonic() - self._loaded_at <= self._refresh_s

    async def refresh(self, force: bool = False) -> None:
        # Every request asks; only a stale view costs the lock (and one reload for all waiters).
        if not force and self._fresh():
            return
        async with self._lock:
            if not force and self._fresh():
                return
            try:
                index = await self._triton.repository_index()
                models: dict[str, ModelInfo] = {}
                for entry in index:
                    name = str(entry.get("name", ""))
                    if not name or str(entry.get("state", "READY")) != "READY":
                        continue
                    config = await self._triton.model_config(name, timeout_s=5.0)
                    models[name] = parse_model(name, config, self._overrides.get(name))
            except (Unavailable, DeadlineExceeded):
                if self._models:
                    return  # keep the last known view; calls themselves will say UNAVAILABLE
                raise
            if set(models) != set(self._models):
                log.info("model registry", extra={"models": ",".join(sorted(models))})
            self._models = models
            self._loaded_at = time.monotonic()

    async def models(self, task: str | None = None) -> list[ModelInfo]:
        await self.refresh()
        return [m for m in self._models.values() if task is None or m.task == task]

    async def find(self, task: str, *, language: str = "", target: str = "", voice: str = "",
                   model: str = "", streaming: bool | None = None, field: str = "") -> ModelInfo:
        """The model serving the request, or INVALID_ARGUMENT naming what is available."""
        candidates = await self.models(task)
        if streaming is not None:
            candidates = [m for m in candidates if m.streaming == streaming]
        if model:
            named = [m for m in candidates if m.name == model]
            if not named:
                raise InvalidArgument(
                    f"model {model!r} does not serve {task}", reason=Reason.UNKNOWN_MODEL, field="model",
                    metadata={"available_models": ",".join(sorted(m.name for m in candidates))})
            candidates = named
        for info in sorted(candidates, key=lambda m: m.name):
            if info.serves(language, target, voice):
                return info
        if target:
            available = ",".join(sorted({f"{s}-{t}" for m in candidates for s, t in m.language_pairs}))
            raise InvalidArgument(
                f"no model serves {task} from {language or '?'} to {target}; available: {available or 'none'}",
                reason=Reason.UNSUPPORTED_LANGUAGE_PAIR, field=field or "target_language_code",
                metadata={"available_pairs": available})
        if voice:
            available = ",".join(sorted({v.name for m in candidates for v in m.voices}))
            raise InvalidArgument(f"no model has voice {voice!r}; available: {available or 'none'}",
                                  reason=Reason.UNKNOWN_VOICE, field=field or "voice.name",
                                  metadata={"available_voices": available})
        available = ",".join(sorted({lang for m in candidates for lang in m.languages}))
        raise InvalidArgument(f"no model serves {task} for language {language!r}; available: {available or 'none'}",
                              reason=Reason.UNSUPPORTED_LANGUAGE, field=field or "language_code",
                              metadata={"available_languages": available})
