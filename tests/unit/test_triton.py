"""Triton client errors → domain errors; model config parameters."""

from __future__ import annotations

import pytest
from tritonclient.utils import InferenceServerException

from services.common import errors
from services.common.backends.triton import config_parameter, translate_error


def _exc(msg: str, status: str | None) -> InferenceServerException:
    return InferenceServerException(msg=msg, status=status)


def test_invalid_argument_becomes_invalid_argument() -> None:
    """Triton's INVALID_ARGUMENT (a rejected input) is the caller's fault: InvalidArgument."""
    err = translate_error(_exc("unexpected shape for input 'INPUT_TEXT'", "StatusCode.INVALID_ARGUMENT"), "nmt")
    assert isinstance(err, errors.InvalidArgument)
    assert err.reason == "BACKEND_REJECTED_INPUT"
    assert err.metadata == {"model": "nmt"}


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
    ],
)
def test_unreachable_or_unloaded_becomes_unavailable(msg: str, status: str | None) -> None:
    """An unreachable Triton or an unloaded model is Unavailable (retryable), never InvalidArgument."""
    err = translate_error(_exc(msg, status), "nmt")
    assert isinstance(err, errors.Unavailable)
    assert err.reason == "BACKEND_UNAVAILABLE"


@pytest.mark.parametrize(
    ("msg", "status"),
    [("Deadline Exceeded", "StatusCode.DEADLINE_EXCEEDED"), ("Deadline Exceeded", None)],
)
def test_deadline_becomes_deadline_exceeded(msg: str, status: str | None) -> None:
    """A Triton timeout, by status or message, is DeadlineExceeded."""
    err = translate_error(_exc(msg, status), "nmt")
    assert isinstance(err, errors.DeadlineExceeded)
    assert err.reason == "BACKEND_TIMEOUT"


@pytest.mark.parametrize(
    ("msg", "status"),
    [("CUDA out of memory in model execute", "StatusCode.INTERNAL"), ("python backend crashed", None),
     ("boom", "StatusCode.UNKNOWN")],
)
def test_server_failure_becomes_internal(msg: str, status: str | None) -> None:
    """Any other Triton failure is Internal, never InvalidArgument."""
    err = translate_error(_exc(msg, status), "nmt")
    assert isinstance(err, errors.Internal)
    assert not isinstance(err, errors.InvalidArgument)
    assert err.reason == "BACKEND_ERROR"


def test_internal_message_does_not_leak_triton_text() -> None:
    """An Internal error's message names the model but not Triton's internal message."""
    err = translate_error(_exc("/opt/tritonserver/secret/path.py line 3", "StatusCode.INTERNAL"), "nmt")
    assert "secret" not in err.message
    assert "nmt" in err.message


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
