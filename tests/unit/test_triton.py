"""Triton failures → domain errors (unary, in-band stream, stream transport); per-call deadlines;
the decoupled stream's response handling; model config parameters."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import grpc
import numpy as np
import pytest
from tritonclient.grpc import InferResult, service_pb2
from tritonclient.utils import InferenceServerException

from services.common import errors
from services.common.backends.triton import TritonAdapter, config_parameter, deadline_s, translate


def _exc(msg: str, status: str | None) -> errors.DomainError:
    """What a unary call's InferenceServerException translates to."""
    exc = InferenceServerException(msg=msg, status=status)
    return translate(exc.status(), exc.message(), "nmt")


# -- unary calls (InferenceServerException: a status text and a message) -----------------------

def test_invalid_argument_becomes_invalid_argument() -> None:
    """Triton's INVALID_ARGUMENT (a rejected input) is the caller's fault: InvalidArgument."""
    err = _exc("unexpected shape for input 'INPUT_TEXT'", "StatusCode.INVALID_ARGUMENT")
    assert isinstance(err, errors.InvalidArgument)
    assert err.reason == errors.Reason.BACKEND_REJECTED_INPUT
    assert err.metadata == {"model": "nmt"}
    assert "unexpected shape" in err.message


@pytest.mark.parametrize(
    ("msg", "status"),
    [
        ("connection reset", "StatusCode.UNAVAILABLE"),
        ("Request for unknown model: 'nmt' is not found", "StatusCode.NOT_FOUND"),
        ("failed to connect to all addresses", None),
        ("Connection refused", "StatusCode.UNKNOWN"),
        ("Socket closed", None),
        ("Request for unknown model: 'nmt' has no available versions", "StatusCode.INTERNAL"),
        ("model 'nmt' is not ready", None),
        ("Locally cancelled by application!", "StatusCode.CANCELLED"),
        # what Triton answers while it restarts a Python-backend stub that missed a health check
        ("Stub process 'tts_0_0' is not healthy.", "StatusCode.INTERNAL"),
    ],
)
def test_unreachable_or_unloaded_becomes_unavailable(msg: str, status: str | None) -> None:
    """An unreachable Triton or an unloaded model is Unavailable (retryable), never InvalidArgument."""
    err = _exc(msg, status)
    assert isinstance(err, errors.Unavailable)
    assert err.reason == errors.Reason.BACKEND_UNAVAILABLE
    assert err.retry_after_s == 1.0  # RetryInfo: the client is told when to try again


@pytest.mark.parametrize(
    ("msg", "status"),
    [("Deadline Exceeded", "StatusCode.DEADLINE_EXCEEDED"), ("Deadline Exceeded", None)],
)
def test_deadline_becomes_deadline_exceeded(msg: str, status: str | None) -> None:
    """A Triton timeout, by status or message, is DeadlineExceeded."""
    err = _exc(msg, status)
    assert isinstance(err, errors.DeadlineExceeded)
    assert err.reason == errors.Reason.BACKEND_TIMEOUT


@pytest.mark.parametrize(
    ("msg", "status"),
    [("CUDA out of memory in model execute", "StatusCode.INTERNAL"), ("python backend crashed", None),
     ("boom", "StatusCode.UNKNOWN"), ("expected 3 inputs but the model crashed", "StatusCode.INTERNAL")],
)
def test_server_failure_becomes_internal(msg: str, status: str | None) -> None:
    """Any other Triton failure is Internal, never InvalidArgument, whatever its status's message says."""
    err = _exc(msg, status)
    assert isinstance(err, errors.Internal)
    assert not isinstance(err, errors.InvalidArgument)
    assert err.reason == errors.Reason.BACKEND_ERROR


def test_internal_message_does_not_leak_triton_text() -> None:
    """An Internal error's message names the model but not Triton's internal message."""
    err = _exc("/opt/tritonserver/secret/path.py line 3", "StatusCode.INTERNAL")
    assert "secret" not in err.message
    assert "nmt" in err.message


# -- in-band stream errors (a message, no status) ----------------------------------------------

@pytest.mark.parametrize(
    "msg",
    ["INPUT_TEXT is empty", "voice 'x' is not served", "SPEAKING_RATE 9 is outside 0.5-2.0",
     "INPUT_TEXT is not valid UTF-8", "unexpected shape for input 'INPUT_TEXT'", "input 'SPEAKING_RATE' is missing",
     "text holds more than 2000 characters", "Invalid argument: bad dims"],
)
def test_stream_rejected_input_becomes_invalid_argument(msg: str) -> None:
    """A message-only stream error worded as a rejected input is InvalidArgument, with the model's words."""
    err = translate(None, msg, "tts_streaming")
    assert isinstance(err, errors.InvalidArgument)
    assert err.reason == errors.Reason.BACKEND_REJECTED_INPUT
    assert msg in err.message
    assert err.metadata == {"model": "tts_streaming"}


@pytest.mark.parametrize("msg", ["model 'tts_streaming' is not ready", "Request for unknown model: 'tts_streaming'",
                                 "model was unloaded: expected it to serve"])
def test_stream_gone_model_becomes_unavailable(msg: str) -> None:
    """A message-only stream error saying the model is gone is Unavailable, even if it also reads as bad input."""
    err = translate(None, msg, "tts_streaming")
    assert isinstance(err, errors.Unavailable)
    assert err.reason == errors.Reason.BACKEND_UNAVAILABLE


def test_stream_other_error_becomes_internal() -> None:
    """Any other message-only stream error is Internal, and its text does not reach the caller."""
    err = translate(None, "Traceback: /opt/models/secret.py raised KeyError", "tts_streaming")
    assert isinstance(err, errors.Internal)
    assert err.reason == errors.Reason.BACKEND_ERROR
    assert "secret" not in err.message


# -- stream transport (grpc.StatusCode) --------------------------------------------------------

@pytest.mark.parametrize(
    ("code", "kind", "reason"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded, errors.Reason.BACKEND_TIMEOUT),
        (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument, errors.Reason.BACKEND_REJECTED_INPUT),
        (grpc.StatusCode.UNAVAILABLE, errors.Unavailable, errors.Reason.BACKEND_UNAVAILABLE),
        (grpc.StatusCode.NOT_FOUND, errors.Unavailable, errors.Reason.BACKEND_UNAVAILABLE),
        (grpc.StatusCode.CANCELLED, errors.Unavailable, errors.Reason.BACKEND_UNAVAILABLE),
        (grpc.StatusCode.INTERNAL, errors.Internal, errors.Reason.BACKEND_ERROR),
        (grpc.StatusCode.UNKNOWN, errors.Internal, errors.Reason.BACKEND_ERROR),
    ],
)
def test_stream_status_code_classification(code: grpc.StatusCode, kind: type, reason: errors.Reason) -> None:
    """A failed stream is classified by its gRPC status code; wording does not make it InvalidArgument."""
    err = translate(code, "expected something", "tts_streaming")
    assert type(err) is kind
    assert err.reason == reason


# -- deadlines -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("timeout_s", "cap_s", "expected"),
    [
        (None, None, 10.0),  # no caller deadline: the adapter's default
        (3.0, None, 3.0),  # the caller's remaining time
        (60.0, None, 10.0),  # ... capped by the default
        (None, 30.0, 30.0),  # a per-call ceiling longer than the default (ASR stream calls)
        (60.0, 30.0, 30.0),
        (5.0, 30.0, 5.0),
        (600.0, math.inf, 600.0),  # uncapped: the caller's own deadline
        (None, math.inf, 10.0),  # no deadline anywhere: never wait forever
        (0.0, None, 0.001),  # an expired deadline still fails fast rather than meaning "none"
    ],
)
def test_deadline_is_callers_time_capped(timeout_s: float | None, cap_s: float | None, expected: float) -> None:
    """A call's deadline is the caller's remaining time, capped by the call's ceiling (default when none)."""
    assert deadline_s(timeout_s, cap_s, 10.0) == pytest.approx(expected)


# -- the decoupled stream ------------------------------------------------------------------------

def _response(samples: list[float], *, final: bool = False) -> InferResult:
    response = service_pb2.ModelInferResponse(model_name="tts_streaming")
    if samples:
        out = response.outputs.add(name="OUTPUT_AUDIO_CHUNK", datatype="FP32", shape=[len(samples)])
        assert out is not None
        response.raw_output_contents.append(np.asarray(samples, dtype=np.float32).tobytes())
    if final:
        response.parameters["triton_final_response"].bool_param = True
    return InferResult(response)


class _FakeStream:
    """In-process stand-in for `tritonclient.grpc.aio`'s stream_infer response iterator."""

    def __init__(self, items: list[Any]) -> None:
        self.items = list(items)
        self.cancelled = False

    def __aiter__(self) -> _FakeStream:
        return self

    async def __anext__(self) -> tuple[InferResult | None, InferenceServerException | None]:
        if not self.items:
            raise StopAsyncIteration
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class _FakeClient:
    def __init__(self, items: list[Any]) -> None:
        self.stream = _FakeStream(items)
        self.request: dict[str, Any] = {}
        self.stream_timeout: float | None = None

    def stream_infer(self, requests: AsyncIterator[dict[str, Any]], stream_timeout: float | None = None
                     ) -> _FakeStream:
        self.stream_timeout = stream_timeout
        self._requests = requests
        return self.stream

    async def first_request(self) -> dict[str, Any]:
        self.request = await self._requests.__anext__()
        return self.request


async def _adapter(items: list[Any]) -> tuple[TritonAdapter, _FakeClient]:
    adapter = TritonAdapter("127.0.0.1:1", default_timeout_s=10.0)
    await adapter.close()  # the real channel is never used
    fake = _FakeClient(items)
    adapter._client = fake  # type: ignore[assignment]
    return adapter, fake


async def _collect(stream: AsyncIterator[np.ndarray]) -> list[list[float]]:
    return [chunk.tolist() async for chunk in stream]


async def test_stream_yields_each_response_until_final() -> None:
    """Each non-empty response is yielded; the final-flagged response ends the stream, and the call is ended."""
    adapter, fake = await _adapter([(_response([0.5, 0.25]), None), (_response([]), None),
                                    (_response([1.0]), None), (_response([], final=True), None),
                                    (_response([9.0]), None)])
    stream = adapter.stream("tts_streaming", {"INPUT_TEXT": np.array([[b"hi"]], dtype=np.object_)},
                            "OUTPUT_AUDIO_CHUNK", timeout_s=None, cap_s=30.0, request_id="r1")
    assert await _collect(stream) == [[0.5, 0.25], [1.0]]
    request = await fake.first_request()
    assert request["model_name"] == "tts_streaming" and request["request_id"] == "r1"
    assert request["parameters"] == {"triton_enable_empty_final_response": True}
    assert [t.name() for t in request["inputs"]] == ["INPUT_TEXT"]
    assert fake.stream_timeout == pytest.approx(30.0)
    assert fake.stream.cancelled


async def test_stream_early_exit_cancels_the_call() -> None:
    """A caller that stops reading (it was cancelled) cancels the gRPC call."""
    adapter, fake = await _adapter([(_response([0.5]), None), (_response([0.25]), None),
                                    (_response([], final=True), None)])
    stream = adapter.stream("tts_streaming", {}, "OUTPUT_AUDIO_CHUNK", timeout_s=5.0)
    assert (await stream.__anext__()).tolist() == [0.5]
    await stream.aclose()  # type: ignore[attr-defined]
    assert fake.stream.cancelled
    assert fake.stream_timeout == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ((None, InferenceServerException(msg="INPUT_TEXT is empty")), errors.InvalidArgument),
        ((None, InferenceServerException(msg="model crashed")), errors.Internal),
        (grpc.aio.AioRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                              details="Deadline Exceeded"), errors.DeadlineExceeded),
        (grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
                              details="Socket closed"), errors.Unavailable),
    ],
)
async def test_stream_errors_are_translated(item: Any, kind: type) -> None:
    """In-band errors and a failed stream become domain errors, and the call is ended."""
    adapter, fake = await _adapter([(_response([0.5]), None), item])
    with pytest.raises(kind) as raised:
        await _collect(adapter.stream("tts_streaming", {}, "OUTPUT_AUDIO_CHUNK"))
    assert raised.value.metadata == {"model": "tts_streaming"}
    assert fake.stream.cancelled


async def test_stream_ending_without_final_is_unavailable() -> None:
    """A stream that ends before the final-flagged response is Unavailable (Triton went away)."""
    adapter, _fake = await _adapter([(_response([0.5]), None)])
    with pytest.raises(errors.Unavailable):
        await _collect(adapter.stream("tts_streaming", {}, "OUTPUT_AUDIO_CHUNK"))


# -- model config ------------------------------------------------------------------------------

def test_config_parameter_reads_string_value() -> None:
    """A `parameters` entry is read from its `string_value`."""
    config = {"parameters": {"language_pairs": {"string_value": "hi-ur,ur-hi"}}}
    assert config_parameter(config, "language_pairs") == "hi-ur,ur-hi"


@pytest.mark.parametrize(
    "config",
    [{}, {"parameters": {}}, {"parameters": {"other": {"string_value": "x"}}}, {"parameters": {"key": {}}}],
)
def test_config_parameter_default_when_missing(config: dict) -> None:
    """A missing parameter (or one without a value) yields the default."""
    assert config_parameter(config, "key", "fallback") == "fallback"


# -- Triton's queue policy (models/*/config.pbtxt default_queue_policy) --------------------------

@pytest.mark.parametrize(
    ("msg", "status", "said"),
    [  # Triton 2.51's own words, as seen from a model with a full queue and one past its timeout
        ("[request id: <id_unknown>] Exceeds maximum queue size", "StatusCode.UNAVAILABLE", "is overloaded"),
        ("Request timeout expired", "StatusCode.UNAVAILABLE", "did not start the request within its queue timeout"),
        ("[request id: 42] Exceeds maximum queue size", None, "is overloaded"),  # in-band, on a stream
    ],
)
def test_queue_policy_refusal_becomes_resource_exhausted(msg: str, status: str | None, said: str) -> None:
    """A request Triton's queue refused is overload (RESOURCE_EXHAUSTED BACKEND_OVERLOADED with a
    retry delay), not a model that is gone (UNAVAILABLE), though Triton sends it as UNAVAILABLE;
    a queue timeout is not called overload (Triton may have hung a while instead)."""
    err = _exc(msg, status)
    assert said in err.message
    assert isinstance(err, errors.ResourceExhausted)
    assert err.reason == errors.Reason.BACKEND_OVERLOADED
    assert err.retry_after_s is not None and err.retry_after_s > 0
    assert err.metadata == {"model": "nmt"}
