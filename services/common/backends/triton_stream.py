"""Decoupled Triton models over ModelStreamInfer (`tritonclient.grpc.aio.stream_infer`).

One request per stream: responses are yielded as Triton sends them, until the empty response
flagged final (requested with `triton_enable_empty_final_response`). Stream errors carry only
a message, so they are classified by its wording: rejected input → INVALID_ARGUMENT, a model
that is gone → UNAVAILABLE, anything else → INTERNAL. Leaving the iteration early (the caller
cancelled) cancels the gRPC call, and the Python backend stops synthesising.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import grpc
import numpy as np
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import np_to_triton_dtype

from services.common.backends.triton import UNAVAILABLE_HINTS
from services.common.errors import DeadlineExceeded, DomainError, Internal, InvalidArgument, Reason, Unavailable

# How the reference models (and Triton's own input checks) word a rejected request.
_INVALID_HINTS = ("invalid_arg", "invalid argument", "is not served", "is empty", "more than", "is outside",
                  "not valid utf-8", "must hold", "is missing", "expected", "unexpected shape", "unexpected datatype")


def stream_error(message: str, model: str) -> DomainError:
    """Classifies an in-band stream error (message only) for `model`."""
    lowered = message.lower()
    meta = {"model": model}
    if any(h in lowered for h in UNAVAILABLE_HINTS):
        return Unavailable(f"model {model!r} is unavailable", reason=Reason.BACKEND_UNAVAILABLE, metadata=meta)
    if any(h in lowered for h in _INVALID_HINTS):
        return InvalidArgument(f"model {model!r} rejected the input: {message}", reason=Reason.BACKEND_REJECTED_INPUT,
                               metadata=meta)
    return Internal(f"model {model!r} failed", reason=Reason.BACKEND_ERROR, metadata=meta)


def rpc_error(exc: grpc.aio.AioRpcError, model: str) -> DomainError:
    """Classifies a failure of the stream itself (transport or status)."""
    code = exc.code()
    meta = {"model": model}
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(f"model {model!r} did not answer in time", reason=Reason.BACKEND_TIMEOUT, metadata=meta)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(f"model {model!r} rejected the input: {exc.details()}",
                               reason=Reason.BACKEND_REJECTED_INPUT, metadata=meta)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.CANCELLED):
        return Unavailable(f"model {model!r} is unavailable", reason=Reason.BACKEND_UNAVAILABLE, metadata=meta)
    return Internal(f"model {model!r} failed", reason=Reason.BACKEND_ERROR, metadata=meta)


class TritonStreamer:
    """Owns one Triton gRPC channel for decoupled (streaming) models."""

    def __init__(self, url: str) -> None:
        self._client = triton_aio.InferenceServerClient(url=url)

    async def stream(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        output: str,
        *,
        timeout_s: float | None,
        request_id: str = "",
    ) -> AsyncIterator[np.ndarray]:
        """Yields `output` of each response of one request, as it arrives."""
        finished = asyncio.Event()
        tensors = []
        for name, array in inputs.items():
            tensor = InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
            tensor.set_data_from_numpy(array)
            tensors.append(tensor)

        async def requests() -> AsyncIterator[dict]:
            yield {"model_name": model, "inputs": tensors, "outputs": [InferRequestedOutput(output)],
                   "request_id": request_id, "parameters": {"triton_enable_empty_final_response": True}}
            await finished.wait()  # half-close only once the final response is in

        responses = self._client.stream_infer(requests(), stream_timeout=timeout_s)
        try:
            async for result, error in responses:
                if error is not None:
                    raise stream_error(error.message() or str(error), model)
                array = result.as_numpy(output)
                if array is not None and array.size:
                    yield array.reshape(-1).astype(np.float32, copy=False)
                final = result.get_response().parameters.get("triton_final_response")
                if final is not None and final.bool_param:
                    return
            raise Unavailable(f"model {model!r} ended the stream early", reason=Reason.BACKEND_UNAVAILABLE,
                              metadata={"model": model})
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc, model) from exc
        finally:
            finished.set()
            responses.cancel()

    async def close(self) -> None:
        await self._client.close()
