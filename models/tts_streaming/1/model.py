"""Reference streaming TTS model for Triton's Python backend (decoupled): espeak-ng.

The Indic-TTS inputs plus an optional SPEAKING_RATE; audio goes out as OUTPUT_AUDIO_CHUNK
responses of `chunk_ms` each (the last may be shorter), sent from espeak's synthesis callback
while it is still synthesising, then an empty response flagged COMPLETE_FINAL. A bad request
gets one error response (INVALID_ARG) and the final flag; a cancelled one stops synthesis.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np
import triton_python_backend_utils as pb_utils
from espeak_ng import RATE_DEFAULT_WPM, EspeakError
from espeak_ng import load as load_espeak

_RATE_MIN, _RATE_MAX = 0.5, 2.5


class _Cancelled(Exception):
    """The client cancelled the request; synthesis stops."""


def _parameters(config: dict) -> dict[str, str]:
    return {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}


def _first(request: object, name: str, required: bool = True) -> object:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        if required:
            raise ValueError(f"{name} is missing")
        return None
    values = tensor.as_numpy().reshape(-1)
    if values.size != 1:
        raise ValueError(f"{name} must hold exactly one value, got {values.size}")
    return values[0]


class _ChunkSender:
    """Collects espeak's int16 blocks and sends each full chunk as soon as it exists."""

    def __init__(self, sender: object, chunk_samples: int) -> None:
        self.sender = sender
        self.chunk_samples = chunk_samples
        self.pending: list[np.ndarray] = []
        self.pending_count = 0

    def __call__(self, block: np.ndarray) -> None:
        if self.sender.is_cancelled():
            raise _Cancelled()
        self.pending.append(block)
        self.pending_count += block.size
        if self.pending_count >= self.chunk_samples:
            samples = np.concatenate(self.pending)
            whole = samples.size - samples.size % self.chunk_samples
            for start in range(0, whole, self.chunk_samples):
                self._send(samples[start:start + self.chunk_samples])
            rest = samples[whole:]
            self.pending, self.pending_count = ([rest] if rest.size else []), rest.size

    def flush(self) -> None:
        if self.pending_count:
            self._send(np.concatenate(self.pending))
        self.pending, self.pending_count = [], 0

    def _send(self, samples: np.ndarray) -> None:
        audio = (samples.astype(np.float32) / 32768.0).reshape(-1)
        self.sender.send(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT_AUDIO_CHUNK", audio)]))


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        if not pb_utils.using_decoupled_model_transaction_policy(config):
            raise pb_utils.TritonModelException("tts_streaming must be configured decoupled")
        parameters = _parameters(config)
        try:
            self.espeak, self.table = load_espeak(parameters)
        except EspeakError as exc:
            raise pb_utils.TritonModelException(str(exc)) from exc
        chunk_ms = int(parameters.get("chunk_ms") or 100)
        self.chunk_samples = max(1, self.espeak.sample_rate_hertz * chunk_ms // 1000)

    def execute(self, requests: list) -> None:
        for request in requests:
            sender = request.get_response_sender()
            try:
                self._stream(request, sender)
            except ValueError as exc:
                sender.send(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)))
            except EspeakError as exc:
                sender.send(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INTERNAL)))
            except _Cancelled:
                pass
            except Exception as exc:  # noqa: BLE001 - e.g. a send on a closed stream; never crash the stub
                with contextlib.suppress(Exception):
                    sender.send(pb_utils.InferenceResponse(
                        output_tensors=[], error=pb_utils.TritonError(f"synthesis failed: {exc}")))
            with contextlib.suppress(Exception):
                sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
        return None

    def _stream(self, request: object, sender: object) -> None:
        text, voice = self.table.resolve(_first(request, "INPUT_TEXT"), _first(request, "INPUT_SPEAKER_ID"),
                                         _first(request, "INPUT_LANGUAGE_ID"))
        rate = _first(request, "SPEAKING_RATE", required=False)
        speed = 1.0 if rate is None else float(rate)
        if not _RATE_MIN <= speed <= _RATE_MAX:  # also rejects NaN
            raise ValueError(f"SPEAKING_RATE {speed} is outside {_RATE_MIN}-{_RATE_MAX}")
        chunks = _ChunkSender(sender, self.chunk_samples)
        self.espeak.synthesize(text, voice, chunks, rate_wpm=round(RATE_DEFAULT_WPM * speed))
        chunks.flush()
