"""`python -m deploy.local up|down|status` — the local mesh launcher behind `make up/down`.

Environment: AI4VC_RUN_DIR (default .run), AI4VC_PORT_OFFSET (add to every default port),
REPLICAS (e.g. "nmt=2").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from deploy.local.mesh import ROOT_RUN_DIR, Mesh, Ports
from deploy.local.parts import PartError


def _replicas(spec: str) -> dict[str, int]:
    replicas = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        replicas[name] = int(count)
    return replicas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local")
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    run_dir = Path(os.environ.get("AI4VC_RUN_DIR", ROOT_RUN_DIR)).resolve()

    if args.command == "up":
        ports = Ports.offset(int(os.environ.get("AI4VC_PORT_OFFSET", "0")))
        mesh = Mesh(run_dir, ports, _replicas(os.environ.get("REPLICAS", "")))
        try:
            state = mesh.up()
        except PartError as exc:
            print(f"\nmake up failed: {exc}\nlogs: {run_dir / 'logs'}", file=sys.stderr)
            mesh.down()
            return 1
        p = mesh.ports
        print(f"""
AI4V-C is up (logs in {run_dir / 'logs'}; `make down` stops it all).

  Envoy (gRPC, gRPC-Web, REST)   127.0.0.1:{p.envoy}      admin http://127.0.0.1:{p.envoy_admin}
""" + "".join(f"  {name:<31}127.0.0.1:{info['port']}   metrics http://127.0.0.1:{info['metrics_port']}/metrics\n"
              for name, info in state["services"].items()) + f"""  Triton                         127.0.0.1:{p.triton_grpc} (gRPC)  {p.triton_http} (HTTP)  {p.triton_metrics} (metrics)
  PostgreSQL                     127.0.0.1:{p.postgres}  (credentials: {run_dir / 'mesh.json'})
  Redis                          127.0.0.1:{p.redis}

Try:
  .venv/bin/grpcurl -plaintext 127.0.0.1:{p.envoy} list
  curl -s -X POST 127.0.0.1:{p.envoy}/v1/text:translate -H 'content-type: application/json' \\
       -d '{{"contents": ["भारत एक विशाल देश है।"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}}'
""")
        return 0

    if not (run_dir / "mesh.json").exists():
        if args.command == "status":
            print("not running")
            return 1
        Mesh(run_dir).down()  # stop whatever pid files remain from a failed start
        return 0
    mesh = Mesh.from_state(run_dir)
    if args.command == "down":
        mesh.down()
        (run_dir / "mesh.json").unlink()
        print("AI4V-C stopped.")
        return 0
    parts = {
        "postgres": mesh.postgres.running(),
        "redis": mesh.redis.proc.alive(),
        "triton": mesh.triton.ready(),
        **{s.proc.name: s.proc.alive() for s in mesh.services},
        "envoy": mesh.envoy.proc.alive(),
    }
    print(json.dumps(parts, indent=2))
    return 0 if all(parts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
