"""What the per-key edge config costs at 1k/10k/100k keys: the published size (routes.json + the
data files it names), the control plane's render (full: from nothing; incremental: one key
revoked in a table already rendered) and write time, how long Envoy takes to apply a rename (its
RDS version readout changes), Envoy's heap afterwards, and "change live" — render + write +
apply of one revocation, the median of `--changes` — against the 1 s target. One Envoy with the
real bootstrap, no upstreams; the load average is printed with the table.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.edge_config [--keys 1000,10000,100000]
        [--concurrency 1] [--changes 5] [--inline]

`--inline` publishes the texts inside routes.json (the design before bench/README.md's fix) for
a same-run comparison. `--breakdown N` instead publishes, at N keys, one piece of the per-key data
at a time (inline and as data files, each between two empty publishes) and prints what Envoy
takes to apply each: where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from deploy.local.envoy_config import Upstream, write_edge
from deploy.local.parts import VENV_BIN, free_port
from gateway.edge import publish, render
from services.common.credentials import edge_hash

TARGET_S = 1.0
# What ai4vc.identity did at load before it searched the records string in place.
TABLE_PARSE = """local keys = {}
for id, owner, scopes, cost, rpm in string.gmatch(KEYS, "(%S+) (%S+) (%S+) (%d+) (%d+)") do
  keys[id] = {owner, scopes, cost, rpm}
end
"""


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


class Edge:
    """One Envoy on the rendered bootstrap, publishing into its watched directory."""

    def __init__(self, work: Path, concurrency: int) -> None:
        port, self.admin = free_port(), free_port()
        upstreams = [Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", free_port())])]
        bootstrap = write_edge(upstreams, work, "s" * 40, listen_port=port, admin_port=self.admin,
                               access_log_path=work / "access.log")
        self.skeleton = json.loads((work / "routes.base.json").read_text())
        self.routes_dir = work / "routes"
        self.proc = subprocess.Popen([str(VENV_BIN / "envoy"), "-c", str(bootstrap), "--concurrency",
                                      str(concurrency), "--log-level", "error", "--base-id", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.version = 0

    def wait_applied(self, version: str) -> float:
        started = time.perf_counter()
        url = f"http://127.0.0.1:{self.admin}/stats?filter=rds%5C.ai4vc%5C.version_text%24&text_readouts"
        while f'"{version}"' not in _get(url):
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"Envoy did not apply {version}")
            time.sleep(0.002)
        return time.perf_counter() - started

    def heap(self) -> tuple[int, int]:
        memory = json.loads(_get(f"http://127.0.0.1:{self.admin}/memory"))
        return int(memory["heap_size"]), int(memory["allocated"])

    def change(self, table: render.KeyTable, files: publish.DataFiles | None,
               blocks: list[render.Block]) -> dict[str, float]:
        """Render (from `table` as it is), write, apply: the seconds of each and the bytes."""
        self.version += 1
        version = f"v{self.version}"
        started = time.perf_counter()
        config = render.routes(self.skeleton, table.texts(), blocks, [], 600,
                               files.source if files is not None else render.inline)
        document = render.discovery_response(config, version)
        rendered = time.perf_counter() - started
        size, write_s = publish.publish(self.routes_dir, document, files)
        return {"render": rendered, "write": write_s, "apply": self.wait_applied(version), "bytes": size}

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.routes_dir.parent, ignore_errors=True)


def _keys(count: int) -> list[render.EdgeKey]:
    return [render.EdgeKey(secrets.token_hex(8), f"user{i % 5000}", frozenset({"nmt", "tts"}),
                           edge_hash(secrets.token_hex(32)), 600) for i in range(count)]


def measure(edge: Edge, count: int, changes: int, inline: bool) -> dict[str, Any]:
    keys = _keys(count)
    files = None if inline else publish.DataFiles(edge.routes_dir)
    started = time.perf_counter()
    table = render.KeyTable(600, keys)
    built = time.perf_counter() - started
    full = edge.change(table, files, [])
    full["render"] += built
    heap, allocated = edge.heap()
    # Data files written in full (a first publish): the figure is the whole size.
    size = full["bytes"]
    runs = []
    for i in range(changes):
        started = time.perf_counter()
        table.discard(keys[i].key_id)  # a revocation
        discarded = time.perf_counter() - started
        run = edge.change(table, files, [])
        run["render"] += discarded
        runs.append(run)
    block = edge.change(table, files, [render.Block("k", keys[-1].key_id, int(time.time()) + 60, "FAILED_ATTEMPTS")])
    median = {k: statistics.median(r[k] for r in runs) for k in ("render", "write", "apply")}
    live = statistics.median(r["render"] + r["write"] + r["apply"] for r in runs)
    return {"keys": count, "bytes": size, "full": full, "change": median, "live": live,
            "live_max": max(r["render"] + r["write"] + r["apply"] for r in runs),
            "block_live": block["render"] + block["write"] + block["apply"], "heap": heap, "allocated": allocated}


def breakdown(edge: Edge, count: int, rounds: int) -> list[tuple[str, float, int]]:
    """(variant, median apply seconds, bytes of routes.json) per piece of the per-key data."""
    table = render.KeyTable(600, _keys(count))
    files = publish.DataFiles(edge.routes_dir)
    full = render.routes(edge.skeleton, table.texts(), [], [], 600)
    empty = render.routes(edge.skeleton, [], [], [], 600)

    def per_filter(config: dict[str, Any]) -> dict[str, Any]:
        return dict(config["virtual_hosts"][0]["typed_per_filter_config"])

    def variant(**pieces: Any) -> dict[str, Any]:
        config = json.loads(json.dumps(empty))
        config["virtual_hosts"][0]["typed_per_filter_config"].update(pieces)
        return config

    users, identity = per_filter(full)["ai4vc.basic_auth"], per_filter(full)["ai4vc.identity"]
    # The design before: the same code, but first the records parsed into a table, as it did.
    code = identity["source_code"]["inline_string"]
    at = code.index("DEFAULT_COST, DEFAULT_RPM")
    at = code.index("\n", at) + 1
    table_code = code[:at] + TABLE_PARSE + code[at:]
    old_identity = {**identity, "source_code": {"inline_string": table_code}}
    text = users["users"]["inline_string"] + identity["source_code"]["inline_string"]
    padded = variant()
    # The same bytes in a place no filter reads (a route's metadata): the JSON parse alone.
    padded["virtual_hosts"][0]["routes"][-1]["metadata"] = {"filter_metadata": {"pad": {"text": text}}}
    on_file = render.routes(edge.skeleton, table.texts(), [], [], 600, files.source)
    files.write()
    variants = {
        "inline: users + identity parsed into a table (the design before)": variant(
            **{"ai4vc.basic_auth": users, "ai4vc.identity": old_identity}),
        "inline: basic_auth users only": variant(**{"ai4vc.basic_auth": users}),
        "inline: identity, parsed into a table (before)": variant(**{"ai4vc.identity": old_identity}),
        "inline: identity, searched in place (now)": variant(**{"ai4vc.identity": identity}),
        "inline: the same bytes as an unused string": padded,
        "data files: users + identity (now)": on_file,
        "data files: basic_auth users only": variant(**{"ai4vc.basic_auth": per_filter(on_file)["ai4vc.basic_auth"]}),
        "data files: identity code only": variant(**{"ai4vc.identity": per_filter(on_file)["ai4vc.identity"]}),
    }
    out = []
    for name, config in variants.items():
        seconds, size = [], 0
        for _ in range(rounds):
            for each in (empty, config):
                edge.version += 1
                document = render.discovery_response(each, f"v{edge.version}")
                size, _ = publish.publish(edge.routes_dir, document)
                applied = edge.wait_applied(f"v{edge.version}")
            seconds.append(applied)
        out.append((name, statistics.median(seconds), size))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", default="1000,10000,100000")
    parser.add_argument("--concurrency", type=int, default=1, help="Envoy worker threads")
    parser.add_argument("--changes", type=int, default=5, help="revocations timed per size")
    parser.add_argument("--inline", action="store_true", help="texts inside routes.json (the old design)")
    parser.add_argument("--breakdown", type=int, default=0, metavar="N", help="apply time per piece at N keys")
    parser.add_argument("--rounds", type=int, default=3, help="publishes per piece (--breakdown)")
    args = parser.parse_args(argv)
    if args.breakdown:
        edge = Edge(Path(tempfile.mkdtemp(prefix="ai4vc-edge-config-")), args.concurrency)
        try:
            time.sleep(1.5)
            pieces = breakdown(edge, args.breakdown, args.rounds)
        finally:
            edge.close()
        load = os.getloadavg()
        print(f"{args.breakdown:,} keys, Envoy --concurrency {args.concurrency}; load average {load[0]:.1f} / "
              f"{load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs")
        print("| published | routes.json | Envoy applies (median) |")
        print("|---|---:|---:|")
        for name, seconds, size in pieces:
            print(f"| {name} | {size / 1e6:.1f} MB | {seconds * 1000:.0f} ms |")
        return 0
    rows = []
    for count in (int(n) for n in args.keys.split(",")):
        # A fresh Envoy per size: its heap is that size's, not the largest one's so far.
        edge = Edge(Path(tempfile.mkdtemp(prefix="ai4vc-edge-config-")), args.concurrency)
        try:
            time.sleep(1.5)
            rows.append(measure(edge, count, args.changes, args.inline))
        finally:
            edge.close()
    load = os.getloadavg()
    print(f"Envoy --concurrency {args.concurrency}, {'inline routes.json' if args.inline else 'data files'}; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs")
    print("| keys | published | render full | render 1 change | write (full / 1 change) | Envoy applies "
          "(full / 1 change) | Envoy heap | change live (median / max) | a block live |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        full, change = r["full"], r["change"]
        verdict = "≤ 1 s" if r["live"] <= TARGET_S else "OVER 1 s"
        print(f"| {r['keys']:,} | {r['bytes'] / 1e6:.1f} MB | {full['render'] * 1000:.0f} ms | "
              f"{change['render'] * 1000:.0f} ms | {full['write'] * 1000:.0f} / {change['write'] * 1000:.0f} ms | "
              f"{full['apply'] * 1000:.0f} / {change['apply'] * 1000:.0f} ms | {r['heap'] / 2**20:.0f} MiB | "
              f"{r['live'] * 1000:.0f} / {r['live_max'] * 1000:.0f} ms ({verdict}) | {r['block_live'] * 1000:.0f} ms |")
    return 0 if all(r["live"] <= TARGET_S for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
