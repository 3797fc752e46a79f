"""Reference transliteration model for Triton's Python backend (PyPI indic-transliteration).

Rows are independent; each gets up to TOP_K candidates, best first. Bad rows (unknown
language, empty or over-long text, TOP_K out of range) fail their request with INVALID_ARG.
"""

from __future__ import annotations

import json

import numpy as np
import triton_python_backend_utils as pb_utils
import xlit
from indic_transliteration import sanscript
from xlit import SCRIPT

# Latin output: readable first.
LATIN_OUT = ("optitrans", "iso", "iast", "itrans", "hk")
MAX_CHARS = 5_000


def _param(config: dict, key: str) -> str:
    return config.get("parameters", {}).get(key, {}).get("string_value", "")


def _decode(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise ValueError(f"expected UTF-8 bytes, got {type(value).__name__}")


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.languages = set(_param(config, "languages").split(","))
        self.max_top_k = int(_param(config, "max_top_k") or 5)
        unknown = [lang for lang in self.languages if lang != "en" and lang not in SCRIPT]
        if unknown:
            raise pb_utils.TritonModelException(f"no script known for {unknown}")

    def candidates(self, text: str, source: str, target: str, top_k: int, word_level: bool) -> list[str]:
        if source == "en":
            # Romanized input: several schemes and chat spellings, ranked by the word list.
            return xlit.candidates(text, target, top_k, word_level=word_level)
        if target == "en":
            options = [sanscript.transliterate(text, SCRIPT[source], scheme) for scheme in LATIN_OUT]
        else:
            options = [sanscript.transliterate(text, SCRIPT[source], SCRIPT[target])]
        ranked: list[str] = []
        for option in options:
            if option and option not in ranked:
                ranked.append(option)
        return ranked[:top_k]

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            try:
                texts = pb_utils.get_input_tensor_by_name(request, "INPUT_TEXT").as_numpy().reshape(-1)
                sources = pb_utils.get_input_tensor_by_name(request, "INPUT_LANGUAGE_ID").as_numpy().reshape(-1)
                targets = pb_utils.get_input_tensor_by_name(request, "OUTPUT_LANGUAGE_ID").as_numpy().reshape(-1)
                word_level = pb_utils.get_input_tensor_by_name(request, "IS_WORD_LEVEL").as_numpy().reshape(-1)
                top_ks = pb_utils.get_input_tensor_by_name(request, "TOP_K").as_numpy().reshape(-1)
                rows = []
                for text, source, target, is_word, top_k in zip(texts, sources, targets, word_level, top_ks,
                                                                strict=True):
                    text, source, target = _decode(text), _decode(source).strip(), _decode(target).strip()
                    for lang in (source, target):
                        if lang not in self.languages:
                            raise ValueError(f"language {lang!r} is not served")
                    if source == target:
                        raise ValueError("source and target language are the same")
                    if not text.strip() or len(text) > MAX_CHARS:
                        raise ValueError(f"text must be 1 to {MAX_CHARS} characters")
                    k = int(top_k)
                    if not 1 <= k <= self.max_top_k:
                        raise ValueError(f"TOP_K must be 1 to {self.max_top_k}")
                    if bool(is_word) and len(text.split()) != 1:
                        raise ValueError("IS_WORD_LEVEL needs a single word")
                    rows.append(self.candidates(text, source, target, k, bool(is_word)))
                width = max(len(row) for row in rows)
                array = np.array([[c.encode("utf-8") for c in row] + [b""] * (width - len(row)) for row in rows],
                                 dtype=np.object_)
                responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("OUTPUT_TEXT", array)]))
            except (ValueError, UnicodeDecodeError, KeyError) as exc:
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG)))
        return responses
