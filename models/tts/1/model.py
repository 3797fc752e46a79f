"""Reference TTS model for Triton's Python backend: espeak-ng, on the Indic-TTS contract.

INPUT_TEXT, INPUT_SPEAKER_ID ("male" | "female"), INPUT_LANGUAGE_ID (BYTES [1]) ->
OUTPUT_GENERATED_AUDIO (FP32 [-1], samples in [-1, 1] at the `sample_rate_hertz` parameter).
Bad input answers that request alone with INVALID_ARG; the voices served are the `voices`
parameter, each checked against the installed espeak-ng data at load.
"""

from __future__ import annotations

import json

import numpy as np
import triton_python_backend_utils as pb_utils
from espeak_ng import EspeakError
from espeak_ng import load as load_espeak


def _parameters(config: dict) -> dict[str, str]:
    return {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}


def _first(request: object, name: str) -> object:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise ValueError(f"{name} is missing")
    values = tensor.as_numpy().reshape(-1)
    if values.size != 1:
        raise ValueError(f"{name} must hold exactly one value, got {values.size}")
    return values[0]


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        parameters = _parameters(json.loads(args["model_config"]))
        try:
            self.espeak, self.table = load_espeak(parameters)
        except EspeakError as exc:
            raise pb_utils.TritonModelException(str(exc)) from exc

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            try:
                text, voice = self.table.resolve(_first(request, "INPUT_TEXT"), _first(request, "INPUT_SPEAKER_ID"),
                                                 _first(request, "INPUT_LANGUAGE_ID"))
            except ValueError as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)))
                continue
            blocks: list[np.ndarray] = []
            try:
                self.espeak.synthesize(text, voice, blocks.append)
            except EspeakError as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INTERNAL)))
                continue
            samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)
            audio = (samples.astype(np.float32) / 32768.0).reshape(-1)
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("OUTPUT_GENERATED_AUDIO", audio)]))
        return responses
