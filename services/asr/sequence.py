"""Calls to a sequence-batched Triton model (one decoder state per correlation id): one
request per audio chunk, START on the first, END on the last, through the shared adapter.
"""

from __future__ import annotations

import json

import numpy as np

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


class SequenceClient:
    def __init__(self, triton: TritonAdapter) -> None:
        self._triton = triton

    async def send(self, model: str, corrid: int, samples: np.ndarray, language: str, *, start: bool, end: bool,
                   timeout_s: float | None = None, cap_s: float | None = None, request_id: str = ""
                   ) -> tuple[str, bool, list[dict]]:
        """One chunk of sequence `corrid`: (transcript so far, is_final, words of a final). Its
        deadline is `timeout_s` (the caller's remaining time) capped by `cap_s`, as in `infer`."""
        result = await self._triton.infer(
            model,
            {"AUDIO_CHUNK": np.asarray(samples, dtype=np.float32).reshape(1, -1),
             "LANG_ID": np.array([[language.encode()]], dtype=np.object_)},
            OUTPUTS, timeout_s=timeout_s, cap_s=cap_s, request_id=request_id,
            sequence_id=corrid, sequence_start=start, sequence_end=end)
        text = text_of(result["TRANSCRIPT"].reshape(-1)[0])
        final = bool(result["IS_FINAL"].reshape(-1)[0])
        words = words_of(result["WORD_TIMES"].reshape(-1)[0]) if final else []
        return text, final, words
