"""Cost of the NeMo text-normalization grammars: compile time (empty cache), load time (from the
cache the services use), peak RSS of a process holding one grammar, and the time of one call as
a ratio to a plain `str.split` baseline measured in the same process.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.textnorm            # every grammar the services load
    PYTHONPATH=gen/python:. .venv/bin/python -m bench.textnorm --no-compile itn:en tn:hi

Each (kind, language) runs in a fresh subprocess twice: once against an empty temporary cache
(compile) and once against the mesh's grammar cache (load; compiled there first if missing), so one
grammar's memory never inflates another's figure. Prints a markdown table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from deploy.local.mesh import GRAMMAR_CACHE_DIR

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("itn:en", "itn:hi", "itn:mr", "tn:en", "tn:hi")
SAMPLES = {
    ("itn", "en"): "i paid twenty five dollars on the fifth of march at three thirty p m",
    ("itn", "hi"): "मैंने पच्चीस रुपये दिए",
    ("itn", "mr"): "मी पंचवीस रुपये दिले",
    ("tn", "en"): "I paid $25 on 5 March 2024, Dr. Smith said.",
    ("tn", "hi"): "मैंने ₹500 दिए, 5 मार्च 2024 को।",
}

_CHILD = r"""
import json, resource, sys, time
kind, lang, cache, text = sys.argv[1:5]
from services.common import textnorm
t0 = time.perf_counter()
g = textnorm.Grammars(kind, [lang], cache)
g.load_now()
load_s = time.perf_counter() - t0
state = g.status()[lang]
calls = 20
t1 = time.perf_counter()
for _ in range(calls):
    out = g.convert(lang, text)
call_s = (time.perf_counter() - t1) / calls
t2 = time.perf_counter()
for _ in range(calls * 1000):
    text.split()
base_s = (time.perf_counter() - t2) / (calls * 1000)
print(json.dumps({"load_s": load_s, "status": state["status"], "compiled": state["compiled"],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "call_s": call_s, "ratio": call_s / base_s, "out": out}))
"""


def run(kind: str, lang: str, cache: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, kind, lang, cache, SAMPLES[(kind, lang)]],
                          cwd=ROOT, capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": f"{ROOT / 'gen' / 'python'}:{ROOT}", "PATH": "/usr/bin:/bin"})
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> None:
    compile_too = "--no-compile" not in argv
    names = [a for a in argv if not a.startswith("--")]
    wanted = [tuple(a.split(":", 1)) for a in (names or DEFAULT)]
    shared = str(GRAMMAR_CACHE_DIR)
    print("| grammar | compile (s) | peak RSS compiling (MB) | load from cache (s) | peak RSS loaded (MB) "
          "| one call (ms) | call / str.split | output |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, lang in wanted:
        fresh: dict[str, object] = {"load_s": float("nan"), "rss_mb": float("nan")}
        if compile_too:
            with tempfile.TemporaryDirectory() as empty:
                fresh = run(kind, lang, empty)
        run(kind, lang, shared)  # makes sure the shared cache holds it
        cached = run(kind, lang, shared)
        print(f"| {kind} {lang} | {float(fresh['load_s']):.1f} | {float(fresh['rss_mb']):.0f} | "
              f"{float(cached['load_s']):.2f} | "
              f"{cached['rss_mb']:.0f} | {1000 * float(cached['call_s']):.1f} | {float(cached['ratio']):.0f}× | "
              f"{cached['out']} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
