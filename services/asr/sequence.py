"""Calls to a sequence-batched Triton model (one decoder state per correlation id).

`TritonAdapter.infer` has no sequence arguments, so streams of `asr_streaming` go through
this thin client: one request per audio chunk, START on the first, END on the last.
"""

from __future__ import annotations

import json

import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException

from services.common.triton import translate_error

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
    def __init__(self, url: str) -> None:
        self._client = triton_aio.InferenceServerClient(url=url)

    async def send(self, model: str, corrid: int, samples: np.ndarray, language: str, *, start: bool, end: bool,
                   timeout_s: float, request_id: str = "") -> tuple[str, bool, list[dict]]:
        """One chunk of sequence `corrid`: (transcript so far, is_final, words of a final)."""
        audio = np.asarray(samples, dtype=np.float32).reshape(1, -1)
        lang = np.array([[language.encode()]], dtype=np.object_)
        inputs = [InferInput("AUDIO_CHUNK", list(audio.shape), "FP32"), InferInput("LANG_ID", [1, 1], "BYTES")]
        inputs[0].set_data_from_numpy(audio)
        inputs[1].set_data_from_numpy(lang)
        try:
            result = await self._client.infer(
                model_name=model, inputs=inputs, outputs=[InferRequestedOutput(n) for n in OUTPUTS],
                sequence_id=corrid, sequence_start=start, sequence_end=end, client_timeout=timeout_s,
                request_id=request_id)
        except InferenceServerException as exc:
            raise translate_error(exc, model) from exc
        text = text_of(result.as_numpy("TRANSCRIPT").reshape(-1)[0])
        final = bool(result.as_numpy("IS_FINAL").reshape(-1)[0])
        words = words_of(result.as_numpy("WORD_TIMES").reshape(-1)[0]) if final else []
        return text, final, words

    async def close(self) -> None:
        await self._client.close()
