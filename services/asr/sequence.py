"""Calls to a sequence-batched Triton model (one decoder state per correlation id): one
request per audio chunk, START on the first, END on the last, through the shared adapter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from services.common.backends.registry import ModelInfo
from services.common.backends.triton import TritonAdapter

OUTPUTS = ("TRANSCRIPT", "IS_FINAL", "WORD_TIMES")


def text_of(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def words_of(value: object) -> list[dict]:
    raw = text_of(value).strip()
    if not raw:
        return []
    parsed = json.loads(raw)
    return [w for w in parsed if isinstance(w, dict) and w.get("word")] if isinstance(parsed, list) else []


def supports_prepare(info: ModelInfo) -> bool:
    """The model declares it takes PREPARE_FINAL (config parameter prepare_final)."""
    return info.parameters.get("prepare_final", "").lower() == "true"


class SequenceClient:
    def __init__(self, triton: TritonAdapter) -> None:
        self._triton = triton

    async def send(self, model: str, corrid: int, samples: np.ndarray, language: str, *, start: bool, end: bool,
                   timeout_s: float | None = None, cap_s: float | None = None, request_id: str = "",
                   boost: Mapping[str, np.ndarray] | None = None, ignored: list[str] | None = None,
                   prepare: bool = False) -> tuple[str, bool, list[dict]]:
        """One chunk of sequence `corrid`: (transcript so far, is_final, words of a final). Its
        deadline is `timeout_s` (the caller's remaining time) capped by `cap_s`, as in `infer`.
        `boost` (BOOST_PHRASES / BOOST_SCORES, on START only) boosts phrases for the sequence; the
        phrases the model could not boost are appended to `ignored`. `prepare` sends
        PREPARE_FINAL=1 (only to models that declare prepare_final): the model prepares the
        final now, and an empty END after this chunk answers it at once."""
        inputs = {"AUDIO_CHUNK": np.asarray(samples, dtype=np.float32).reshape(1, -1),
                  "LANG_ID": np.array([[language.encode()]], dtype=np.object_),
                  **(boost if boost and start else {}),
                  **({"PREPARE_FINAL": np.ones((1, 1), np.int32)} if prepare else {})}
        outputs = (*OUTPUTS, "BOOST_IGNORED") if boost and start else OUTPUTS
        result = await self._triton.infer(
            model, inputs, outputs, timeout_s=timeout_s, cap_s=cap_s, request_id=request_id,
            sequence_id=corrid, sequence_start=start, sequence_end=end)
        if boost and start and ignored is not None:
            raw = text_of(result["BOOST_IGNORED"].reshape(-1)[0]).strip()
            parsed = json.loads(raw) if raw else []
            if isinstance(parsed, list):
                ignored.extend(str(p) for p in parsed)
        text = text_of(result["TRANSCRIPT"].reshape(-1)[0])
        final = bool(result["IS_FINAL"].reshape(-1)[0])
        words = words_of(result["WORD_TIMES"].reshape(-1)[0]) if final else []
        return text, final, words
