"""What TLS at the edge costs: the same mesh behind two Envoys side by side, one whose listener
speaks TLS (as `make up TLS=1` runs it) and one plaintext, both rendered from envoy/envoy.yaml.j2
for the same upstreams and reading the same published routes (RDS), so the listener is the only
difference.

`python -m bench.edge_tls` starts the mesh with edge TLS on free ports in a temporary directory,
starts the second, plaintext Envoy, and measures in the same run, alternating the two edges:

- warm:    closed-loop async gRPC clients on one kept-open channel calling DetectLanguage (a
           cheap unary RPC with no Triton call, so the edge is what is timed) — calls/s and p50;
- connect: a new channel (TCP, plus the TLS handshake on the TLS edge) for each of N calls — mean
           time per call, the cost a client without connection reuse pays.

Results go to bench/results/edge-tls-<timestamp>.json (git-ignored) and a markdown summary to
stdout. Client, both Envoys and the services share the machine's cores: the figures are ratios
measured side by side (TLS / plaintext), not capacities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from ai4vc.nmt.v1 import nmt_service_pb2 as pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as pb_grpc
from bench.edge import create_key
from bench.models import machine
from deploy.local import envoy_config
from deploy.local.mesh import Mesh, Ports
from deploy.local.parts import ROOT, free_port

RESULTS = ROOT / "bench" / "results"
TEXT = "भारत एक विशाल देश है।"


def _plaintext_envoy(mesh: Mesh, work: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """A second Envoy for the same mesh, plaintext listener, sharing the mesh's routes directory."""
    port, admin = free_port(), free_port()
    config = work / "plain-envoy.yaml"
    config.write_text(envoy_config.render(
        mesh.upstreams(), listen_port=port, admin_port=admin, access_log_path=Path("/dev/null"),
        routes_dir=mesh.envoy.config_dir / "routes", jwks_path=mesh.envoy.config_dir / "jwks.json",
        node_id=f"edge-plain-{port}", upstream_tls=mesh.upstream_tls_files()))
    log = open(work / "plain-envoy.log", "wb")  # noqa: SIM115 - kept open for the process's life
    proc = subprocess.Popen([str(Path(sys.executable).parent / "envoy"), "-c", str(config), "--base-id", str(port),
                             "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/clusters?format=json", timeout=1) as answer:
                clusters = json.loads(answer.read())["cluster_statuses"]
            if all(h.get("health_status", {}).get("eds_health_status") == "HEALTHY" and
                   not h["health_status"].get("failed_active_health_check")
                   for c in clusters for h in c.get("host_statuses", [])):
                return proc, port, admin
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the plaintext Envoy never became healthy: {work / 'plain-envoy.log'}")


def _channel(target: str, ca: bytes | None) -> grpc.aio.Channel:
    # A fresh channel each time: no subchannel sharing between the measured channels.
    options = [("grpc.use_local_subchannel_pool", 1)]
    if ca is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(ca), options=options)


async def warm(target: str, ca: bytes | None, key: str, concurrency: int, seconds: float) -> dict[str, float]:
    """Calls/s and latency of DetectLanguage from `concurrency` loops on one open channel."""
    request = pb.DetectLanguageRequest(content=TEXT)
    metadata = (("x-api-key", key),)
    latencies: list[float] = []
    async with _channel(target, ca) as channel:
        stub = pb_grpc.NmtServiceStub(channel)
        await stub.DetectLanguage(request, metadata=metadata, timeout=30)  # connected, warm
        stop = time.monotonic() + seconds

        async def loop() -> None:
            while time.monotonic() < stop:
                started = time.perf_counter()
                await stub.DetectLanguage(request, metadata=metadata, timeout=30)
                latencies.append(time.perf_counter() - started)

        began = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.monotonic() - began
    return {"calls_per_s": len(latencies) / elapsed, "p50_ms": float(np.percentile(latencies, 50)) * 1000,
            "p99_ms": float(np.percentile(latencies, 99)) * 1000, "calls": len(latencies)}


async def connect(target: str, ca: bytes | None, key: str, count: int) -> dict[str, float]:
    """Mean time of one call on a channel opened for it (connection setup included)."""
    request = pb.DetectLanguageRequest(content=TEXT)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        async with _channel(target, ca) as channel:
            await pb_grpc.NmtServiceStub(channel).DetectLanguage(request, metadata=(("x-api-key", key),), timeout=30)
        times.append(time.perf_counter() - started)
    return {"mean_ms": float(np.mean(times)) * 1000, "p50_ms": float(np.percentile(times, 50)) * 1000}


async def _until_accepted(target: str, ca: bytes | None, key: str) -> None:
    """Waits until this edge has the new key (RDS reaches each Envoy on its own)."""
    for _ in range(100):
        try:
            async with _channel(target, ca) as channel:
                await pb_grpc.NmtServiceStub(channel).DetectLanguage(
                    pb.DetectLanguageRequest(content=TEXT), metadata=(("x-api-key", key),), timeout=10)
            return
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{target} never accepted the new key")


async def measure(mesh: Mesh, plain_port: int, args: argparse.Namespace) -> dict[str, Any]:
    ca = mesh.ca.cert_path.read_bytes()
    edges = {"tls": (f"localhost:{mesh.ports.envoy}", ca), "plaintext": (f"127.0.0.1:{plain_port}", None)}
    # A key of its own with a quota no run reaches (the admin key's would cut the run short), made
    # through the plaintext edge; both edges load it from the same published routes.
    key, _ = await create_key(f"127.0.0.1:{plain_port}", mesh.admin_key())
    for target, root in edges.values():
        await _until_accepted(target, root, key)
    out: dict[str, Any] = {"warm": {}, "connect": {}}
    for concurrency in args.concurrency:
        trials: dict[str, list[dict[str, float]]] = {name: [] for name in edges}
        for _ in range(args.trials):  # alternating, so drift on a shared machine hits both alike
            for name, (target, root) in edges.items():
                trials[name].append(await warm(target, root, key, concurrency, args.seconds))
        out["warm"][concurrency] = {name: {m: float(np.median([t[m] for t in runs])) for m in runs[0]}
                                    for name, runs in trials.items()}
    connects: dict[str, list[dict[str, float]]] = {name: [] for name in edges}
    for _ in range(args.trials):
        for name, (target, root) in edges.items():
            connects[name].append(await connect(target, root, key, args.connects))
    out["connect"] = {name: {m: float(np.median([t[m] for t in runs])) for m in runs[0]}
                      for name, runs in connects.items()}
    return out


def report(results: dict[str, Any]) -> str:
    lines = ["| measure | plaintext | TLS | TLS / plaintext |", "|---|---|---|---|"]
    for concurrency, row in results["warm"].items():
        plain, tls = row["plaintext"], row["tls"]
        lines.append(f"| warm, c={concurrency}: calls/s | {plain['calls_per_s']:.0f} | {tls['calls_per_s']:.0f} | "
                     f"{tls['calls_per_s'] / plain['calls_per_s']:.2f} |")
        lines.append(f"| warm, c={concurrency}: p50 ms | {plain['p50_ms']:.2f} | {tls['p50_ms']:.2f} | "
                     f"{tls['p50_ms'] / plain['p50_ms']:.2f} |")
    plain, tls = results["connect"]["plaintext"], results["connect"]["tls"]
    lines.append(f"| new channel per call: mean ms | {plain['mean_ms']:.2f} | {tls['mean_ms']:.2f} | "
                 f"{tls['mean_ms'] / plain['mean_ms']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.edge_tls")
    parser.add_argument("--concurrency", type=lambda v: [int(c) for c in v.split(",")], default=[1, 8])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--connects", type=int, default=50)
    parser.add_argument("--mtls", action="store_true", help="the mesh with MTLS=1 too (both edges call over mTLS)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ai4vc-bench-edge-tls-"))
    work.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data dir
    run_dir = work / "mesh"
    run_dir.mkdir()
    run_dir.chmod(0o755)
    mesh = Mesh(run_dir, Ports.free(), durable=False, free_metrics_ports=True, edge_tls=True, mesh_mtls=args.mtls)
    proc = None
    try:
        mesh.up()
        proc, plain_port, _ = _plaintext_envoy(mesh, work)
        results = asyncio.run(measure(mesh, plain_port, args))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        mesh.down()
        shutil.rmtree(work, ignore_errors=True)
    document = {"machine": machine(), "args": {k: v for k, v in vars(args).items()}, "results": results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"edge-tls-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(document, indent=2))
    sys.stdout.write(report(results) + f"\n\n{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
