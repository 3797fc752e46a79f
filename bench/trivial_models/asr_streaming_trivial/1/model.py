"""A stand-in for `asr_streaming` that does no recognition: same tensors, same sequence
contract (START … END per correlation id, one response per request), answered at once.

The transcript of a partial is "chunk <n>" (n = requests of the stream so far), so it changes
on every chunk and the ASR service emits an interim result for every model call — which is
what `bench.streaming` times. END answers the same text with IS_FINAL = true and no words.
PREPARE_FINAL (the config is asr_streaming's, so it declares it) needs no work here: nothing
is decoded, so every final is ready at once.
"""

from __future__ import annotations

import numpy as np
import triton_python_backend_utils as pb_utils


def _scalar(request: object, name: str) -> object:
    return pb_utils.get_input_tensor_by_name(request, name).as_numpy().reshape(-1)[0]


def _response(transcript: str, final: bool) -> object:
    return pb_utils.InferenceResponse(output_tensors=[
        pb_utils.Tensor("TRANSCRIPT", np.array([[transcript.encode()]], dtype=np.object_)),
        pb_utils.Tensor("IS_FINAL", np.array([[final]], dtype=np.bool_)),
        pb_utils.Tensor("WORD_TIMES", np.array([[b"[]"]], dtype=np.object_)),
    ])


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        # Requests per open stream; Triton keeps a stream on one instance, so this is per instance.
        self.counts: dict[int, int] = {}

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            corrid = int(_scalar(request, "CORRID"))
            if bool(_scalar(request, "START")):
                self.counts[corrid] = 0
            n = self.counts.get(corrid, 0) + 1
            if bool(_scalar(request, "END")):
                self.counts.pop(corrid, None)
                responses.append(_response(f"chunk {n}", True))
            else:
                self.counts[corrid] = n
                responses.append(_response(f"chunk {n}", False))
        return responses
