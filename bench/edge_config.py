"""What the per-key edge config costs at 1k/10k/100k keys: the published routes' size, the control
plane's render + publish time, how long Envoy takes to apply the rename (its RDS version readout
changes), and Envoy's heap afterwards. One Envoy (1 worker) with the real bootstrap, no upstreams.

    PYTHONPATH=gen/python:. .venv/bin/python -m bench.edge_config [--keys 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from deploy.local.envoy_config import Upstream, write_edge
from deploy.local.parts import VENV_BIN, free_port
from gateway.edge import publish, render
from services.common.credentials import edge_hash


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return str(answer.read().decode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", default="1000,10000,100000")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ai4vc-edge-config-"))
    port, admin = free_port(), free_port()
    upstreams = [Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", free_port())])]
    bootstrap = write_edge(upstreams, work, "s" * 40, listen_port=port, admin_port=admin,
                           access_log_path=work / "access.log")
    skeleton = json.loads((work / "routes.base.json").read_text())
    envoy = subprocess.Popen([str(VENV_BIN / "envoy"), "-c", str(bootstrap), "--concurrency", "1",
                              "--log-level", "error", "--base-id", str(port)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    rows = []
    try:
        time.sleep(1.5)
        for count in (int(n) for n in args.keys.split(",")):
            keys = [render.EdgeKey(secrets.token_hex(8), f"user{i % 5000}", frozenset({"nmt", "tts"}),
                                   edge_hash(secrets.token_hex(32)), 600) for i in range(count)]
            started = time.perf_counter()
            document = render.discovery_response(render.routes(skeleton, keys, [], [], 600), f"v{count}")
            rendered = time.perf_counter() - started
            size, write_s = publish.publish(work / "routes", document)
            published = time.perf_counter()
            url = f"http://127.0.0.1:{admin}/stats?filter=rds%5C.ai4vc%5C.version_text%24&text_readouts"
            while f'"v{count}"' not in _get(url):
                if time.perf_counter() - published > 120:
                    raise RuntimeError(f"Envoy did not apply {count} keys")
                time.sleep(0.005)
            applied = time.perf_counter() - published
            memory = json.loads(_get(f"http://127.0.0.1:{admin}/memory"))
            rows.append((count, size, rendered, write_s, applied, int(memory["heap_size"]), int(memory["allocated"])))
    finally:
        envoy.terminate()
        envoy.wait(10)
    print("| keys | routes.json | render | write + rename | Envoy applies | Envoy heap | allocated |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count, size, rendered, write_s, applied, heap, allocated in rows:
        print(f"| {count:,} | {size / 1e6:.1f} MB | {rendered * 1000:.0f} ms | {write_s * 1000:.0f} ms | "
              f"{applied * 1000:.0f} ms | {heap / 2**20:.0f} MiB | {allocated / 2**20:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
