"""Benchmarks the reference models of `models/` through Triton itself.

`python -m bench.models` starts its own `tritonserver` on free ports over a temporary
repository (the chosen models, plus `<model>_nobatch` copies without `dynamic_batching`),
then measures throughput and p50/p99 latency per model per concurrency with perf_analyzer
(falling back to bench.loadgen where it cannot run), the batching on/off throughput ratio
measured in the same run, a speech check of every advertised TTS voice, and the ASR word
error rate on synthesized English. Results go to bench/results/models-<timestamp>.json
and a markdown summary to stdout; the exit status is 1 if any voice fails its check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient

from bench import data, loadgen, perf, quality, repo
from deploy.local.parts import ROOT, PartError, Triton, free_port

ALL_MODELS = ["nmt", "transliteration", "tts", "tts_streaming", "asr_am_ensemble"]
# Models in progress elsewhere: benchmarked only if they load.
OPTIONAL = {"asr_am_ensemble"}
STREAMING = {"tts_streaming"}
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        found = re.search(r"Model name:\s*(.+)", lscpu)
        model = found.group(1).strip() if found else ""
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model or platform.processor(), "gpu": False,
            "python": platform.python_version()}


def start_triton(work: Path, models: list[str], nobatch: list[str]) -> tuple[Triton, list[str], dict[str, str]]:
    """A Triton over a fresh repository; optional models that fail to load are dropped and the
    server restarted without them (their reasons returned)."""
    skipped: dict[str, str] = {}
    for attempt in range(2):
        target = work / f"repo{attempt}"
        repo.build(ROOT / "models", target, models, nobatch)
        server = Triton(work / f"run{attempt}", free_port(), free_port(), free_port(), model_repository=target)
        try:
            server.start(timeout_s=90)
            return server, models, skipped
        except PartError as exc:
            names = re.findall(r"failed to load '([^']+)'", str(exc))
            failed = {name.removesuffix(repo.NOBATCH_SUFFIX) for name in names}
            if attempt or not failed or not failed <= OPTIONAL:
                raise
            for name in failed:
                skipped[name] = str(exc)[:300]
            models = [m for m in models if m not in failed]
            nobatch = [m for m in nobatch if m not in failed]
    raise AssertionError("unreachable")


def measure(model: str, url: str, rows: list[dict[str, Any]], np_rows: list[dict[str, np.ndarray]],
            concurrency: list[int], work: Path, window_ms: int, trials: int, stability_pct: float,
            use_perf: bool, slow: bool, notes: list[str]) -> list[dict[str, Any]]:
    """One result per concurrency: perf_analyzer where it runs, else bench.loadgen."""
    input_data = data.write_input_data(work / f"{model}.json", rows)
    results = []
    for level in concurrency:
        if use_perf:
            try:
                # A slow model (ASR, ~0.5 s a request) is measured over request counts: a time
                # window at high concurrency may see no request complete.
                results.append(perf.measure(model, url, input_data, level, work / f"{model}-{level}.csv",
                                            window_ms=window_ms, trials=trials + 2,
                                            # With batching, ASR completions arrive in bursts (a batch's rows
                                            # decode one after another on one instance): windows of a few
                                            # requests never agree, so take the mean of 3 as they come.
                                            stability_pct=max(stability_pct, 1000.0) if slow else stability_pct,
                                            count_window=max(6, level // 2) if slow else None,
                                            streaming=model in STREAMING, timeout_s=180))
                continue
            except perf.PerfError as exc:
                notes.append(f"{model} c={level}: {exc}; measured with {loadgen.TOOL} instead")
        run = loadgen.streaming if model in STREAMING else loadgen.unary
        results.append(asyncio.run(run(url, model, np_rows, level, trials * window_ms / 1000)))
    return results


def _np_row(row: dict[str, Any], batched: bool) -> dict[str, np.ndarray]:
    """A perf_analyzer input-data row as numpy tensors (with the batch dimension if batched)."""
    out = {}
    for name, value in row.items():
        if isinstance(value, dict):
            array = np.asarray(value["content"], dtype=np.float32).reshape(value["shape"])
        elif isinstance(value[0], str):
            array = np.array([v.encode() for v in value], dtype=np.object_)
        elif isinstance(value[0], bool):
            array = np.array(value, dtype=bool)
        elif name == "TOP_K":
            array = np.array(value, dtype=np.uint8)
        else:
            array = np.array(value, dtype=np.int32)
        out[name] = array[np.newaxis, ...] if batched else array
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = ["| model | tool | concurrency | infer/s | p50 ms | p99 ms | avg batch |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for model, runs in result["throughput"].items():
        for run in runs:
            lines.append(f"| {model} | {run['tool']} | {run['concurrency']} | {run['throughput']:.1f} | "
                         f"{run['p50_ms']:.1f} | {run['p99_ms']:.1f} | {run.get('avg_batch', '')} |")
    if result.get("streaming"):
        lines += ["", "| model (decoupled) | tool | concurrency | requests/s | first chunk p50 ms | "
                  "first chunk p99 ms | total p50 ms | total p99 ms | chunks/request |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for model, runs in result["streaming"].items():
            for run in runs:
                lines.append(f"| {model} | {run['tool']} | {run['concurrency']} | {run['throughput']:.1f} | "
                             f"{run['ttfc_p50_ms']:.1f} | {run['ttfc_p99_ms']:.1f} | {run['total_p50_ms']:.1f} | "
                             f"{run['total_p99_ms']:.1f} | {run['chunks_per_request']:.1f} |")
    if result["batching"]:
        lines += ["", "| model | concurrency | infer/s batching on | infer/s off | on / off |",
                  "|---|---:|---:|---:|---:|"]
        for model, levels in result["batching"].items():
            for level, item in levels.items():
                lines.append(f"| {model} | {level} | {item['on']:.1f} | {item['off']:.1f} | {item['ratio']:.2f} |")
    voices = result["voices"]
    failed = [v for v in voices if not v["ok"]]
    lines += ["", f"TTS voices: {len(voices) - len(failed)}/{len(voices)} pass "
              f"(RMS >= {quality.MIN_RMS}, {quality.MIN_CHARS_PER_S}-{quality.MAX_CHARS_PER_S} chars/s)", "",
              "| voice | ok | seconds | RMS | chars/s |", "|---|---|---:|---:|---:|"]
    for v in voices:
        lines.append(f"| {v['voice']} | {'yes' if v['ok'] else 'NO ' + v.get('error', '')} | {v.get('seconds', '')} | "
                     f"{v.get('rms', '')} | {v.get('chars_per_s', '')} |")
    if result.get("asr_wer"):
        w = result["asr_wer"]
        lines += ["", f"ASR WER ({w['model']}, {w['utterances']} utterances, {w['reference_words']} words, "
                  f"espeak-ng en voices, 16 kHz, {w['snr_db']} dB SNR): **{w['wer'] * 100:.1f}%** "
                  + ", ".join(f"{k}: {v * 100:.1f}%" for k, v in w["per_voice"].items())]
    if result.get("transliteration_accuracy"):
        acc = result["transliteration_accuracy"]
        k = next(iter(acc.values()))["k"]
        lines += ["", "Transliteration accuracy (held-out romanized words, `bench/data.py` TRANSLIT_HELD_OUT, "
                  "word level):", "", f"| language | words | top-1 | top-{k} |", "|---|---:|---:|---:|"]
        for lang, a in acc.items():
            lines.append(f"| {lang} | {a['words']} | {a['top1'] * 100:.0f}% | {a['topk'] * 100:.0f}% |")
        words = sum(a["words"] for a in acc.values())
        lines.append(f"| all | {words} | {sum(a['top1'] * a['words'] for a in acc.values()) / words * 100:.0f}% | "
                     f"{sum(a['topk'] * a['words'] for a in acc.values()) / words * 100:.0f}% |")
    if result["skipped"]:
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in result["skipped"].items())]
    if result["notes"]:
        lines += ["", "Notes:"] + [f"- {n}" for n in result["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(ALL_MODELS),
                        help="comma-separated models of models/ (default: %(default)s; "
                             "asr_am_ensemble only if it loads)")
    parser.add_argument("--concurrency", default="1,8,32", help="concurrency levels (default: %(default)s)")
    parser.add_argument("--window", type=float, default=1.0,
                        help="seconds per measurement window (ASR uses 3x); default %(default)s")
    parser.add_argument("--trials", type=int, default=3,
                        help="windows per measurement: perf_analyzer needs 3 stable ones, and gets 2 spare "
                             "(default: %(default)s)")
    parser.add_argument("--stability", type=float, default=100.0,
                        help="perf_analyzer --stability-percentage (default %(default)s: short windows on 2 "
                             "shared cores are noisy; the result is the mean of the last 3 windows either way)")
    parser.add_argument("--no-batching", action="store_true", help="skip the batching on/off comparison")
    parser.add_argument("--tool", choices=["auto", "loadgen"], default="auto",
                        help="auto: perf_analyzer where it runs, else bench.loadgen")
    parser.add_argument("--snr-db", type=float, default=30.0, help="noise added to the ASR test audio")
    args = parser.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if not (ROOT / "models" / m / "config.pbtxt").exists()]
    if unknown:
        parser.error(f"no such model in models/: {', '.join(unknown)}")
    concurrency = [int(c) for c in args.concurrency.split(",")]
    nobatch = [] if args.no_batching else [
        m for m in models if repo.has_dynamic_batching((ROOT / "models" / m / "config.pbtxt").read_text())]

    notes: list[str] = []
    use_perf = args.tool == "auto"
    if use_perf and (why := perf.available()) is not None:
        use_perf = False
        notes.append(f"perf_analyzer does not run here ({why}); every number is from {loadgen.TOOL}")
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="ai4vc-bench-"))
    server: Triton | None = None
    result: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "settings": {"concurrency": concurrency, "window_s": args.window, "trials": args.trials,
                                           "stability_pct": args.stability},
                              "throughput": {}, "streaming": {}, "batching": {}, "voices": [], "skipped": {},
                              "notes": notes}
    try:
        server, models, result["skipped"] = start_triton(work, models, nobatch)
        nobatch = [m for m in nobatch if m in models]
        url = server.url
        client = grpcclient.InferenceServerClient(url)
        window_ms = int(args.window * 1000)

        voices_config = ROOT / "models" / "tts" / "config.pbtxt"
        voices = [v for v in quality.config_parameter(voices_config, "voices").split(",") if v]
        if "tts" in models:
            result["voices"] = quality.check_voices(client, voices)

        rows: dict[str, list[dict[str, Any]]] = {"nmt": data.nmt_rows(), "transliteration": data.transliteration_rows(),
                                                 "tts": data.tts_rows(voices), "tts_streaming": data.tts_rows(voices)}
        clips = []
        if "asr_am_ensemble" in models:
            if "tts" not in models:
                raise SystemExit("asr_am_ensemble needs the tts model for its test audio")
            clips = quality.english_clips(client, ["male", "female"], snr_db=args.snr_db)
            rows["asr_am_ensemble"] = data.asr_rows([clip for _, _, clip in clips[:4]])

        for model in models:
            variants = [model] + ([model + repo.NOBATCH_SUFFIX] if model in nobatch else [])
            model_window = window_ms * (3 if model.startswith("asr") else 1)  # loadgen fallback only
            batched = "max_batch_size: 0" not in (ROOT / "models" / model / "config.pbtxt").read_text()
            np_rows = [_np_row(r, batched) for r in rows[model]]
            for name in variants:
                print(f"measuring {name} …", file=sys.stderr, flush=True)
                runs = measure(name, url, rows[model], np_rows, concurrency, work, model_window, args.trials,
                               args.stability, use_perf, model.startswith("asr"), notes)
                result["throughput"][name] = runs
            if model in STREAMING:
                # perf_analyzer times only the first response; the total per request and the
                # chunks per request come from bench.loadgen.
                result["streaming"][model] = [asyncio.run(loadgen.streaming(url, model, np_rows, level, args.window))
                                              for level in concurrency]
            if model in nobatch:
                on = {r["concurrency"]: r["throughput"] for r in result["throughput"][model]}
                off = {r["concurrency"]: r["throughput"] for r in result["throughput"][model + repo.NOBATCH_SUFFIX]}
                result["batching"][model] = {
                    level: {"on": on[level], "off": off[level], "ratio": on[level] / off[level]}
                    for level in concurrency if level > 1 and off.get(level)}

        if "transliteration" in models:
            result["transliteration_accuracy"] = quality.transliteration_accuracy(client, data.TRANSLIT_HELD_OUT)
        if clips:
            pairs = [(speaker, ref, quality.recognize(client, clip)) for speaker, ref, clip in clips]
            result["asr_wer"] = {
                "model": "asr_am_ensemble", "utterances": len(pairs), "snr_db": args.snr_db,
                "reference_words": sum(len(quality.normalize(ref)) for _, ref, _ in pairs),
                "wer": quality.wer([(ref, hyp) for _, ref, hyp in pairs]),
                "per_voice": {f"en-{s}": quality.wer([(ref, hyp) for sp, ref, hyp in pairs if sp == s])
                              for s in ("male", "female")},
                "transcripts": [{"voice": f"en-{s}", "reference": ref, "hypothesis": hyp} for s, ref, hyp in pairs],
            }
        client.close()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    result["elapsed_s"] = round(time.time() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"models-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(markdown(result))
    print(f"\nresults: {out.relative_to(ROOT)} ({result['elapsed_s']} s)")
    return 1 if any(not v["ok"] for v in result["voices"]) else 0


if __name__ == "__main__":
    sys.exit(main())
