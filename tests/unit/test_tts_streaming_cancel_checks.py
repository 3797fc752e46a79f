"""models/tts_streaming asks Triton whether a stream was cancelled at most every CANCEL_CHECK_S
while espeak calls back with samples: each `is_cancelled()` is a round trip to the Triton
process, and asked at every 50 ms block it was a third of the stub's time under 32 streams.

The model module is loaded with a stand-in for `triton_python_backend_utils` (only Triton's
Python backend provides it); the stream and its sender are the model's own `_Stream` with a
sender that counts the questions."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "tts_streaming" / "1"


@pytest.fixture(scope="module")
def model(monkeypatch_module: pytest.MonkeyPatch) -> types.ModuleType:
    monkeypatch_module.setitem(sys.modules, "triton_python_backend_utils", types.ModuleType("fake_pb_utils"))
    monkeypatch_module.syspath_prepend(str(MODEL_DIR))
    spec = importlib.util.spec_from_file_location("tts_streaming_model_under_test", MODEL_DIR / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


class CountingSender:
    def __init__(self, cancelled: bool = False) -> None:
        self.asked = 0
        self.cancelled = cancelled

    def is_cancelled(self) -> bool:
        self.asked += 1
        return self.cancelled


def test_samples_ask_at_most_every_interval(model, monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(model.time, "monotonic", lambda: clock[0])
    sender = CountingSender()
    stream = model._Stream(sender, "text", "en", 175)
    for _ in range(10):  # ten espeak blocks within one interval: one question
        assert not stream.cancelled(model.CANCEL_CHECK_S)
        clock[0] += model.CANCEL_CHECK_S / 20
    assert sender.asked == 1
    clock[0] += model.CANCEL_CHECK_S
    assert not stream.cancelled(model.CANCEL_CHECK_S)
    assert sender.asked == 2


def test_a_turn_always_asks_and_a_cancel_is_seen(model) -> None:
    sender = CountingSender(cancelled=True)
    stream = model._Stream(sender, "text", "en", 175)
    assert stream.cancelled() and stream.cancelled()
    assert sender.asked == 2
    fresh = model._Stream(CountingSender(cancelled=True), "text", "en", 175)
    assert fresh.cancelled(model.CANCEL_CHECK_S)  # the first block of a stream asks
