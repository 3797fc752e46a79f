"""Triton adapter: `tritonclient.grpc.aio` with deadlines and error translation.

Every call carries an explicit timeout (the caller's remaining time, capped by settings).
Triton's errors become domain errors: a rejected input is INVALID_ARGUMENT, an unreachable
or unloaded model is UNAVAILABLE (fail fast, never hang), a timeout is DEADLINE_EXCEEDED.
The channel reconnects on its own, so calls succeed again once Triton is back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from services.common.errors import DeadlineExceeded, DomainError, Internal, InvalidArgument, Reason, Unavailable

log = logging.getLogger(__name__)

UNAVAILABLE_HINTS = ("unavailable", "failed to connect", "connection refused", "socket closed", "not ready",
                      "unknown model", "is not found", "no model", "unloaded")


def translate_error(exc: InferenceServerException, model: str) -> DomainError:
    """Maps a Triton client error onto the domain error a caller should see."""
    status = (exc.status() or "").upper()
    message = exc.message() or str(exc)
    lowered = message.lower()
    meta = {"model": model}
    if "DEADLINE_EXCEEDED" in status or "deadline exceeded" in lowered:
        return DeadlineExceeded(f"model {model!r} did not answer in time", reason=Reason.BACKEND_TIMEOUT, metadata=meta)
    if "INVALID_ARG" in status:
        return InvalidArgument(f"model {model!r} rejected the input: {message}", reason=Reason.BACKEND_REJECTED_INPUT,
                               metadata=meta)
    if "UNAVAILABLE" in status or "NOT_FOUND" in status or any(h in lowered for h in UNAVAILABLE_HINTS):
        return Unavailable(f"model {model!r} is unavailable", reason=Reason.BACKEND_UNAVAILABLE, metadata=meta)
    return Internal(f"model {model!r} failed", reason=Reason.BACKEND_ERROR, metadata=meta)


def _input(name: str, array: np.ndarray) -> InferInput:
    tensor = InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
    tensor.set_data_from_numpy(array)
    return tensor


class TritonAdapter:
    """A thin, typed face over Triton's gRPC endpoint."""

    def __init__(self, url: str, default_timeout_s: float = 10.0) -> None:
        self.url = url
        self.default_timeout_s = default_timeout_s
        self._client = triton_aio.InferenceServerClient(url=url)

    def _timeout(self, timeout_s: float | None) -> float:
        if timeout_s is None:
            return self.default_timeout_s
        return max(0.001, min(timeout_s, self.default_timeout_s))

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        outputs: Sequence[str],
        *,
        timeout_s: float | None = None,
        request_id: str = "",
        sequence_id: int = 0,
        sequence_start: bool = False,
        sequence_end: bool = False,
    ) -> dict[str, np.ndarray]:
        """Runs one inference; returns the requested outputs as numpy arrays. For a
        sequence-batched model, `sequence_id` names the stream and START/END mark its ends."""
        try:
            result = await self._client.infer(
                model_name=model,
                inputs=[_input(name, array) for name, array in inputs.items()],
                outputs=[InferRequestedOutput(name) for name in outputs],
                request_id=request_id,
                client_timeout=self._timeout(timeout_s),
                sequence_id=sequence_id,
                sequence_start=sequence_start,
                sequence_end=sequence_end,
            )
        except InferenceServerException as exc:
            raise translate_error(exc, model) from exc
        return {name: result.as_numpy(name) for name in outputs}

    async def model_config(self, model: str, timeout_s: float | None = None) -> dict[str, Any]:
        """The model's configuration as a dict (parameters, inputs, batching)."""
        try:
            answer = await self._client.get_model_config(model, as_json=True, client_timeout=self._timeout(timeout_s))
        except InferenceServerException as exc:
            raise translate_error(exc, model) from exc
        return dict(answer.get("config", answer))

    async def repository_index(self, timeout_s: float | None = 2.0) -> list[dict[str, Any]]:
        """Triton's model repository index: name, version, state of every model."""
        try:
            answer = await self._client.get_model_repository_index(
                as_json=True, client_timeout=self._timeout(timeout_s))
        except InferenceServerException as exc:
            raise translate_error(exc, "<repository>") from exc
        return list(answer.get("models", []))

    async def model_ready(self, model: str, timeout_s: float = 2.0) -> bool:
        try:
            return bool(await self._client.is_model_ready(model, client_timeout=timeout_s))
        except InferenceServerException:
            return False

    async def close(self) -> None:
        await self._client.close()


def config_parameter(config: Mapping[str, Any], key: str, default: str = "") -> str:
    """A `parameters { key: ... value: { string_value: ... } }` entry of a model config."""
    entry = config.get("parameters", {}).get(key)
    if not entry:
        return default
    return str(entry.get("string_value", default))
