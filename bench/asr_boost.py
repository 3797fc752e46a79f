"""Word boosting on the reference ASR model: WER on utterances that contain the boosted
phrases, with and without boosting, in the same run, plus the WER of utterances that do not
contain them while every phrase is boosted (what boosting costs where it should not fire).

`python -m bench.asr_boost` starts its own `tritonserver` (free ports) with `tts` and
`asr_am_ensemble`, synthesizes each sentence with the real espeak-ng voices (en male and
female, through Triton's `tts`), resamples to 16 kHz with 30 dB SNR noise (bench.quality), and
sends every clip to `asr_am_ensemble` unboosted and with BOOST_PHRASES at each boost level.
Results go to bench/results/asr-boost-<timestamp>.json and a markdown summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

from bench import data, quality
from bench.loadgen import to_inputs
from deploy.local.parts import ROOT, Triton, free_port

RESULTS = ROOT / "bench" / "results"
# Sentences with phrases the unboosted en-US model tends to miss on espeak's voice (place
# names, rarer nouns; every word is in PocketSphinx's dictionary).
BOOSTED = [
    ("the patient was treated for pneumonia in chennai", ["pneumonia", "chennai"]),
    ("please book a ticket to hyderabad tomorrow", ["hyderabad"]),
    ("we visited the taj mahal in agra last summer", ["taj mahal", "agra"]),
    ("the monsoon arrived early in kerala", ["monsoon", "kerala"]),
    ("send the invoice to the legal team by friday", ["invoice"]),
    ("the cricket match in calcutta was cancelled", ["cricket match", "calcutta"]),
    ("my uncle lives near the ganges river", ["ganges river"]),
    ("the election results from punjab were announced", ["election results", "punjab"]),
    ("the train to bangalore was delayed by fog", ["bangalore"]),
    ("she bought a silk saree in varanasi", ["silk saree", "varanasi"]),
]


def recognize(client: grpcclient.InferenceServerClient, clip: np.ndarray, phrases: list[str],
              boost: float) -> str:
    row: dict[str, np.ndarray] = {"AUDIO_SIGNAL": clip.reshape(1, -1),
                                  "NUM_SAMPLES": np.array([[clip.size]], dtype=np.int32),
                                  "LANG_ID": np.array([[b"en"]], dtype=np.object_)}
    if phrases:
        row["BOOST_PHRASES"] = np.array([[p.encode() for p in phrases]], dtype=np.object_)
        row["BOOST_SCORES"] = np.full((1, len(phrases)), boost, dtype=np.float32)
    result = client.infer("asr_am_ensemble", to_inputs(row))  # type: ignore[arg-type]
    value = result.as_numpy("TRANSCRIPTS").reshape(-1)[0]
    return value.decode() if isinstance(value, bytes) else str(value)


def phrase_hits(items: list[tuple[str, list[str], str]]) -> tuple[int, int]:
    """(boosted phrases found in the hypothesis, phrases said)."""
    found = sum(f" {p} " in f" {' '.join(quality.normalize(hyp))} " for _, phrases, hyp in items for p in phrases)
    return found, sum(len(phrases) for _, phrases, _ in items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boosts", default="10,15,20", help="boost levels to compare (default: %(default)s)")
    parser.add_argument("--snr-db", type=float, default=30.0)
    args = parser.parse_args(argv)
    levels = [float(b) for b in args.boosts.split(",") if b]
    work = Path(tempfile.mkdtemp(prefix="ai4vc-bench-boost-"))
    repo = work / "models"
    repo.mkdir()
    for name in ("tts", "asr_am_ensemble"):
        (repo / name).symlink_to(ROOT / "models" / name)
    server = Triton(work / "run", free_port(), free_port(), free_port(), model_repository=repo)
    started = time.monotonic()
    server.start(timeout_s=90)
    try:
        with grpcclient.InferenceServerClient(server.url) as client:
            rng = np.random.default_rng(1234)
            clips = [(speaker, text, phrases,
                      quality.to_asr_input(quality.synthesize(client, text, speaker, "en"), args.snr_db, rng))
                     for speaker in ("male", "female") for text, phrases in BOOSTED]
            controls = [(speaker, text, quality.to_asr_input(quality.synthesize(client, text, speaker, "en"),
                                                             args.snr_db, rng))
                        for speaker in ("male", "female") for text in data.ENGLISH]
            every = sorted({p for _, phrases in BOOSTED for p in phrases})
            runs: dict[str, Any] = {}
            for level in [0.0, *levels]:
                name = "unboosted" if level == 0 else f"boost {level:g}"
                hyps = [(text, phrases, recognize(client, clip, phrases if level else [], level))
                        for _, text, phrases, clip in clips]
                control = [(text, recognize(client, clip, every if level else [], level))
                           for _, text, clip in controls]
                found, said = phrase_hits(hyps)
                runs[name] = {"wer_boosted_utterances": quality.wer([(t, h) for t, _, h in hyps]),
                              "phrases_found": found, "phrases_said": said,
                              "wer_control_utterances": quality.wer(control),
                              "hypotheses": [h for _, _, h in hyps], "control_hypotheses": [h for _, h in control]}
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    result = {"utterances": len(clips), "reference_words": sum(len(quality.normalize(t)) for _, t, _, _ in clips),
              "control_utterances": len(controls), "control_phrases_boosted": len(every), "snr_db": args.snr_db,
              "seconds": round(time.monotonic() - started, 1), "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"asr-boost-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    base = runs["unboosted"]
    print(f"| run | WER, utterances with the phrases ({result['utterances']}, {result['reference_words']} words) "
          f"| ratio to unboosted | phrases found | WER, {len(controls)} control utterances ({len(every)} phrases "
          "boosted) |")
    print("|---|---:|---:|---:|---:|")
    for name, run in runs.items():
        ratio = run["wer_boosted_utterances"] / base["wer_boosted_utterances"] if base["wer_boosted_utterances"] else 0
        print(f"| {name} | {run['wer_boosted_utterances']:.1%} | {ratio:.2f} | {run['phrases_found']}/"
              f"{run['phrases_said']} | {run['wer_control_utterances']:.1%} |")
    print(f"\n{out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
