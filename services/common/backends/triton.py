"""The one Triton client: `tritonclient.grpc.aio` with per-call deadlines and error translation.

`TritonAdapter` owns one gRPC channel to Triton and serves unary and sequence inference
(`infer`), decoupled streaming models over ModelStreamInfer (`stream`) and the discovery calls
the model registry and readiness checks need. Every call carries an explicit deadline: the
caller's remaining time, capped by the call's own ceiling (the adapter's default unless the
caller names one). Every Triton failure becomes a domain error through `translate`: a rejected
input is INVALID_ARGUMENT, an unreachable or unloaded model is UNAVAILABLE (fail fast, never
hang), a request Triton's queue policy refused (queue full, queue timeout) is RESOURCE_EXHAUSTED,
a timeout is DEADLINE_EXCEEDED, anything else INTERNAL. The channel reconnects on its
own, so calls succeed again once Triton is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import grpc
import numpy as np
import tritonclient.grpc.aio as triton_aio
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from tritonclient.grpc import InferInput, InferRequestedOutput
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from services.common import tracing
from services.common.errors import (
    DeadlineExceeded,
    DomainError,
    Internal,
    InvalidArgument,
    Reason,
    ResourceExhausted,
    Unavailable,
)

log = logging.getLogger(__name__)

# How Triton and the gRPC transport word a server that is unreachable or a model that is not loaded.
UNAVAILABLE_HINTS = ("unavailable", "failed to connect", "connection refused", "socket closed", "not ready",
                     "unknown model", "is not found", "no model", "unloaded",
                     # a Python-backend stub that missed its health check (Triton hung a while)
                     # is being restarted: the model is back in seconds
                     "is not healthy")
# How Triton words a request its model's queue policy refused (models/*/config.pbtxt
# `default_queue_policy`): the queue was full, or the request waited past its timeout. Triton sends
# both as UNAVAILABLE; they mean "overloaded, back off", not "gone", so they are read first.
QUEUE_FULL_HINT = "exceeds maximum queue size"
QUEUE_TIMEOUT_HINT = "request timeout expired"
OVERLOAD_HINTS = (QUEUE_FULL_HINT, QUEUE_TIMEOUT_HINT)
# How the reference models (and Triton's own input checks) word a rejected request. Read only when
# no status code came with the error (in-band stream errors carry just a message): a status code
# is more reliable than wording, and a server-side failure must never read as INVALID_ARGUMENT.
INVALID_HINTS = ("invalid_arg", "invalid argument", "is not served", "is empty", "more than", "is outside",
                 "not valid utf-8", "must hold", "is missing", "expected", "unexpected shape", "unexpected datatype")
# A stream Triton (or a proxy) cancelled means it is going away; the caller may retry elsewhere.
_UNAVAILABLE_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.CANCELLED)
_MIN_TIMEOUT_S = 0.001
CLOSE_WAIT_S = 1.0  # how long a finished stream waits for Triton to end the call before cancelling it
RETRY_AFTER_S = 1.0  # the RetryInfo of an UNAVAILABLE, and of a request Triton's queue refused
# Spans for calls to Triton: children of the RPC being served (the tracer is a proxy to the
# process's provider, set up by the server factory).
_tracer = trace.get_tracer(__name__)


def _status_code(status: grpc.StatusCode | str | None) -> grpc.StatusCode | None:
    """A gRPC status code from a code or its text (`tritonclient` writes "StatusCode.NOT_FOUND")."""
    if status is None or isinstance(status, grpc.StatusCode):
        return status
    name = status.strip().upper().rpartition(".")[2]
    return grpc.StatusCode.__members__.get(name)


def translate(status: grpc.StatusCode | str | None, message: str, model: str) -> DomainError:
    """The domain error a caller should see for a Triton failure of `model`.

    `status` is the gRPC status of the call when there is one (a `grpc.StatusCode`, or the text
    `InferenceServerException.status()` gives), None for an error that carries only a message.
    Triton's own message is kept only for a rejected input; for a server failure it stays in the
    logs, since it may hold paths and internals.
    """
    code = _status_code(status)
    lowered = message.lower()
    meta = {"model": model}
    if any(h in lowered for h in OVERLOAD_HINTS):
        # The same refusal either way, worded after what happened: a request that waited out the
        # queue timeout may have met a Triton that hung a while, not only one that is behind.
        said = ("is overloaded" if QUEUE_FULL_HINT in lowered
                else "did not start the request within its queue timeout")
        return ResourceExhausted(f"model {model!r} {said}; retry later", reason=Reason.BACKEND_OVERLOADED,
                                 metadata=meta, retry_after_s=RETRY_AFTER_S)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED or "deadline exceeded" in lowered:
        return DeadlineExceeded(f"model {model!r} did not answer in time", reason=Reason.BACKEND_TIMEOUT, metadata=meta)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument(f"model {model!r} rejected the input: {message}", reason=Reason.BACKEND_REJECTED_INPUT,
                               metadata=meta)
    if code in _UNAVAILABLE_CODES or any(h in lowered for h in UNAVAILABLE_HINTS):
        # RetryInfo as for a database that is away (db.unavailable): Triton restarting or a model
        # reloading is back in seconds, and a client told when retries instead of giving up.
        return Unavailable(f"model {model!r} is unavailable", reason=Reason.BACKEND_UNAVAILABLE, metadata=meta,
                           retry_after_s=RETRY_AFTER_S)
    if code is None and any(h in lowered for h in INVALID_HINTS):
        return InvalidArgument(f"model {model!r} rejected the input: {message}", reason=Reason.BACKEND_REJECTED_INPUT,
                               metadata=meta)
    log.warning("triton error", extra={"model": model, "status": str(status), "triton_message": message})
    return Internal(f"model {model!r} failed", reason=Reason.BACKEND_ERROR, metadata=meta)


def _translated(exc: InferenceServerException, model: str) -> DomainError:
    return translate(exc.status(), exc.message() or str(exc), model)


def deadline_s(timeout_s: float | None, cap_s: float | None, default_s: float) -> float:
    """Seconds one call may take: the caller's remaining time `timeout_s` capped by `cap_s`
    (`default_s` when None; `math.inf` leaves the caller's time uncapped). With neither a
    caller's time nor a finite cap, `default_s`: a call never waits forever."""
    cap = default_s if cap_s is None else cap_s
    chosen = cap if timeout_s is None else min(timeout_s, cap)
    if not math.isfinite(chosen):
        chosen = default_s
    return max(_MIN_TIMEOUT_S, chosen)


def tensors(inputs: Mapping[str, np.ndarray]) -> list[InferInput]:
    """Triton input tensors, each typed and shaped after its numpy array."""
    built = []
    for name, array in inputs.items():
        tensor = InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        built.append(tensor)
    return built


def _unsampled_child() -> bool:
    """Whether a span started now would be dropped: its parent (the call being served) is a
    valid, unsampled span and this process's sampler drops the children of such spans."""
    parent = trace.get_current_span().get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled and tracing.drops_unsampled_children()


class TritonAdapter:
    """A thin, typed face over Triton's gRPC endpoint: one channel for every kind of call.

    Each call takes `timeout_s`, the caller's remaining time (None: it has no deadline); inference
    calls also take `cap_s`, the most that call may take (None: `default_timeout_s`), so a caller
    whose calls need a longer or shorter ceiling (a streaming RPC) shares this one channel.
    """

    def __init__(self, url: str, default_timeout_s: float = 10.0) -> None:
        self.url = url
        self.default_timeout_s = default_timeout_s
        self._client = triton_aio.InferenceServerClient(url=url)

    def _deadline(self, timeout_s: float | None, cap_s: float | None = None) -> float:
        return deadline_s(timeout_s, cap_s, self.default_timeout_s)

    async def infer(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        outputs: Sequence[str],
        *,
        timeout_s: float | None = None,
        cap_s: float | None = None,
        request_id: str = "",
        sequence_id: int = 0,
        sequence_start: bool = False,
        sequence_end: bool = False,
    ) -> dict[str, np.ndarray]:
        """Runs one inference; returns the requested outputs as numpy arrays. For a
        sequence-batched model, `sequence_id` names the stream and START/END mark its ends."""
        call = functools.partial(self._client.infer, model_name=model, inputs=tensors(inputs),
                                 outputs=[InferRequestedOutput(name) for name in outputs], request_id=request_id,
                                 client_timeout=self._deadline(timeout_s, cap_s), sequence_id=sequence_id,
                                 sequence_start=sequence_start, sequence_end=sequence_end)
        if _unsampled_child():
            # The sampler would drop this span: a live stream's model calls (ten a second per
            # stream) skip making it.
            try:
                result = await call(headers=None)
            except InferenceServerException as exc:
                raise _translated(exc, model) from exc
            return {name: result.as_numpy(name) for name in outputs}
        with _tracer.start_as_current_span(f"triton.infer {model}", kind=SpanKind.CLIENT,
                                           attributes={"rpc.system": "grpc", "rpc.method": "ModelInfer",
                                                       "ai4vc.model": model}) as span:
            headers: dict[str, str] | None = None
            if span.is_recording():
                headers = {}
                propagate.inject(headers)  # a Triton with tracing on joins the caller's trace
            try:
                result = await call(headers=headers)
            except InferenceServerException as exc:
                raise _translated(exc, model) from exc
            return {name: result.as_numpy(name) for name in outputs}

    async def stream(
        self,
        model: str,
        inputs: Mapping[str, np.ndarray],
        output: str,
        *,
        timeout_s: float | None = None,
        cap_s: float | None = None,
        request_id: str = "",
    ) -> AsyncIterator[np.ndarray]:
        """Runs one request on a decoupled model over ModelStreamInfer; yields `output` of each
        response as Triton sends it (empty ones skipped), until the response flagged final.

        The deadline covers the whole stream. Leaving the iteration early (the caller cancelled)
        cancels the gRPC call, and the model stops working on the request.
        """
        finished = asyncio.Event()
        request = {"model_name": model, "inputs": tensors(inputs), "outputs": [InferRequestedOutput(output)],
                   "request_id": request_id,
                   # Without it a decoupled model's last response carries no "final" flag and
                   # the end of the stream could not be told from a model that hung.
                   "parameters": {"triton_enable_empty_final_response": True}}

        async def requests() -> AsyncIterator[dict[str, Any]]:
            yield request
            await finished.wait()  # half-closing earlier would end the stream before the responses

        span = _tracer.start_span(f"triton.stream_infer {model}", kind=SpanKind.CLIENT,
                                  attributes={"rpc.system": "grpc", "rpc.method": "ModelStreamInfer",
                                              "ai4vc.model": model})
        responses = self._client.stream_infer(requests(), stream_timeout=self._deadline(timeout_s, cap_s))
        try:
            async for result, error in responses:
                if error is not None:
                    # In-band errors carry no status code, only Triton's (or the model's) message.
                    raise translate(None, error.message() or str(error), model)
                array = result.as_numpy(output)
                if array is not None and array.size:
                    yield array
                final = result.get_response().parameters.get("triton_final_response")
                if final is not None and final.bool_param:
                    # Half-close and let Triton end the call with OK: cancelling a call whose
                    # request iterator still waits makes grpc format a traceback (to log at
                    # DEBUG) and costs Triton a cancelled stream, on every stream's end.
                    finished.set()
                    with contextlib.suppress(TimeoutError, grpc.aio.AioRpcError):
                        async with asyncio.timeout(CLOSE_WAIT_S):
                            async for _ in responses:
                                pass
                    return
            raise Unavailable(f"model {model!r} ended the stream early", reason=Reason.BACKEND_UNAVAILABLE,
                              metadata={"model": model}, retry_after_s=RETRY_AFTER_S)
        except grpc.aio.AioRpcError as exc:
            span.set_status(trace.StatusCode.ERROR, exc.code().name)
            raise translate(exc.code(), exc.details() or "", model) from exc
        except DomainError as exc:
            span.set_status(trace.StatusCode.ERROR, exc.reason)
            raise
        finally:
            finished.set()
            responses.cancel()
            span.end()

    async def model_config(self, model: str, timeout_s: float | None = None) -> dict[str, Any]:
        """The model's configuration as a dict (parameters, inputs, batching)."""
        try:
            answer = await self._client.get_model_config(model, as_json=True, client_timeout=self._deadline(timeout_s))
        except InferenceServerException as exc:
            raise _translated(exc, model) from exc
        return dict(answer.get("config", answer))

    async def repository_index(self, timeout_s: float | None = 2.0) -> list[dict[str, Any]]:
        """Triton's model repository index: name, version, state of every model."""
        try:
            answer = await self._client.get_model_repository_index(
                as_json=True, client_timeout=self._deadline(timeout_s))
        except InferenceServerException as exc:
            raise _translated(exc, "<repository>") from exc
        return list(answer.get("models", []))

    async def model_ready(self, model: str, timeout_s: float | None = 2.0) -> bool:
        """Whether Triton serves `model` now; any failure to say so is "no" (a readiness probe)."""
        try:
            return bool(await self._client.is_model_ready(model, client_timeout=self._deadline(timeout_s)))
        except InferenceServerException:
            return False

    async def close(self) -> None:
        """Closes the channel; in-flight calls end with CANCELLED."""
        await self._client.close()


def config_parameter(config: Mapping[str, Any], key: str, default: str = "") -> str:
    """A `parameters { key: ... value: { string_value: ... } }` entry of a model config."""
    entry = config.get("parameters", {}).get(key)
    if not entry:
        return default
    return str(entry.get("string_value", default))
