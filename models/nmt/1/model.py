"""Reference NMT model for Triton's Python backend: Apertium Hindi<->Urdu.

Speaks the IndicTrans2 contract (INPUT_TEXT, INPUT_LANGUAGE_ID, OUTPUT_LANGUAGE_ID ->
OUTPUT_TEXT, BYTES [1] per batch row). All rows of all requests in a batch that share a
language pair are translated by one Apertium call, one line per text line, so a batch costs
one process start per pair rather than one per text.

Apertium runs without `-u`, so it marks the words it did not know (`*` unknown to the
analyser, `@` missing from the bilingual dictionary, `#` not generated). The marks become
OUTPUT_COVERAGE (FP32 [1], the share of source words with no mark) and are taken out of
OUTPUT_TEXT; a text that itself holds one of those characters is translated again with `-u`
for the text shown, so no character of the user's is ever removed.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import triton_python_backend_utils as pb_utils
from marks import coverage, needs_verbatim_pass, unmark

_TIMEOUT_S = 60
# Used when a config declares nothing (the published IndicTrans2 config.pbtxt has no parameters).
_DEFAULT_MODES = "hi-ur:hin-urd,ur-hi:urd-hin"


def _param(config: dict, key: str) -> str:
    return config.get("parameters", {}).get(key, {}).get("string_value", "")


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.apertium = shutil.which("apertium")
        if self.apertium is None:
            raise pb_utils.TritonModelException(
                "apertium is not installed (Debian: apt-get install apertium apertium-urd-hin)")
        self.modes: dict[tuple[str, str], str] = {}
        for item in (_param(config, "apertium_modes") or _DEFAULT_MODES).split(","):
            pair, _, mode = item.strip().partition(":")
            source, _, target = pair.partition("-")
            self.modes[(source, target)] = mode
        available = subprocess.run([self.apertium, "-l"], capture_output=True, text=True, timeout=_TIMEOUT_S)
        installed = set(available.stdout.split())
        missing = [mode for mode in self.modes.values() if mode not in installed]
        if missing:
            raise pb_utils.TritonModelException(f"apertium modes not installed: {missing}")

    def _translate(self, mode: str, texts: list[str]) -> tuple[list[str], list[float]]:
        """Translations and their coverage; see the module docstring for the marks."""
        marked = self._apertium(mode, texts, unknown_marks=True)
        scores = [coverage(text, out) for text, out in zip(texts, marked, strict=True)]
        shown = [unmark(out) for out in marked]
        verbatim = [i for i, text in enumerate(texts) if needs_verbatim_pass(text)]
        if verbatim:
            again = self._apertium(mode, [texts[i] for i in verbatim], unknown_marks=False)
            for i, out in zip(verbatim, again, strict=True):
                shown[i] = out
        return shown, scores

    def _apertium(self, mode: str, texts: list[str], *, unknown_marks: bool) -> list[str]:
        # One line per text line: split texts into lines, translate all lines at once,
        # then put each text back together.
        lines: list[str] = []
        spans: list[tuple[int, int]] = []
        for text in texts:
            parts = text.split("\n")
            spans.append((len(lines), len(lines) + len(parts)))
            lines.extend(parts)
        result = subprocess.run(
            [self.apertium, *([] if unknown_marks else ["-u"]), "-f", "txt", mode],
            input=("\n".join(lines) + "\n").encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S,
        )
        if result.returncode != 0:
            raise RuntimeError(f"apertium {mode} failed: {result.stderr.decode('utf-8', 'replace').strip()[:200]}")
        # The stub's locale may be ASCII: bytes in, bytes out, UTF-8 by hand.
        out = result.stdout.decode("utf-8", "replace").split("\n")
        if out and out[-1] == "":
            out.pop()
        if len(out) != len(lines):
            # Apertium merged or split a line: fall back to one call per line.
            out = [self._apertium(mode, [line], unknown_marks=unknown_marks)[0] if line.strip() else line
                   for line in lines]
        return ["\n".join(out[a:b]) for a, b in spans]

    def execute(self, requests: list) -> list:
        responses: list = [None] * len(requests)
        rows: dict[str, list[tuple[int, int, str]]] = {}  # mode -> (request, row, text)
        shapes: list[int] = []
        for index, request in enumerate(requests):
            try:
                texts = pb_utils.get_input_tensor_by_name(request, "INPUT_TEXT").as_numpy().reshape(-1)
                sources = pb_utils.get_input_tensor_by_name(request, "INPUT_LANGUAGE_ID").as_numpy().reshape(-1)
                targets = pb_utils.get_input_tensor_by_name(request, "OUTPUT_LANGUAGE_ID").as_numpy().reshape(-1)
                if not (len(texts) == len(sources) == len(targets)):
                    raise ValueError("INPUT_TEXT, INPUT_LANGUAGE_ID and OUTPUT_LANGUAGE_ID differ in batch size")
                pending = []
                for row, (text, source, target) in enumerate(zip(texts, sources, targets, strict=True)):
                    pair = (_decode(source).strip().lower(), _decode(target).strip().lower())
                    mode = self.modes.get(pair)
                    if mode is None:
                        served = ",".join(f"{s}-{t}" for s, t in sorted(self.modes))
                        raise ValueError(f"language pair {pair[0]}-{pair[1]} is not served (serves {served})")
                    pending.append((mode, row, _decode(text)))
            except (ValueError, UnicodeDecodeError, AttributeError) as exc:
                responses[index] = pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(str(exc), pb_utils.TritonError.INVALID_ARG))
                shapes.append(0)
                continue
            shapes.append(len(texts))
            for mode, row, text in pending:
                rows.setdefault(mode, []).append((index, row, text))

        outputs: dict[int, list[bytes]] = {i: [b""] * n for i, n in enumerate(shapes) if responses[i] is None}
        coverages: dict[int, list[float]] = {i: [1.0] * n for i, n in enumerate(shapes) if responses[i] is None}
        failed: dict[int, str] = {}
        for mode, items in rows.items():
            try:
                translated, scores = self._translate(mode, [text for _, _, text in items])
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                for index, _, _ in items:
                    failed[index] = str(exc)
                continue
            for (index, row, _), text, score in zip(items, translated, scores, strict=True):
                outputs[index][row] = text.encode("utf-8")
                coverages[index][row] = score
        for index, values in outputs.items():
            if index in failed:
                responses[index] = pb_utils.InferenceResponse(
                    output_tensors=[], error=pb_utils.TritonError(failed[index]))
                continue
            array = np.array(values, dtype=np.object_).reshape(-1, 1)
            cover = np.array(coverages[index], dtype=np.float32).reshape(-1, 1)
            responses[index] = pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT_TEXT", array), pb_utils.Tensor("OUTPUT_COVERAGE", cover)])
        return responses


def _decode(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise ValueError(f"expected UTF-8 bytes, got {type(value).__name__}")
