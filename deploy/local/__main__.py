"""`python -m deploy.local up|down|status` — the local mesh launcher behind `make up/down`.

Environment: AI4VC_RUN_DIR (default .run), AI4VC_PORT_OFFSET (add to every default port),
REPLICAS (e.g. "nmt=2"), AI4VC_TRITON_URL (use that Triton, e.g. a GPU server, instead of
starting the embedded CPU one), AI4VC_LISTEN_ADDRESS (Envoy's, default 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from deploy.local.mesh import ROOT_RUN_DIR, Mesh, Ports
from deploy.local.parts import PartError

EXAMPLE_BODY = '{"contents": ["भारत एक विशाल देश है।"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}'


def _replicas(spec: str) -> dict[str, int]:
    replicas = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        replicas[name] = int(count)
    return replicas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local")
    parser.add_argument("command", choices=["up", "down", "status", "create-key"])
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    run_dir = Path(os.environ.get("AI4VC_RUN_DIR", ROOT_RUN_DIR)).resolve()

    if args.command == "up":
        ports = Ports.offset(int(os.environ.get("AI4VC_PORT_OFFSET", "0")))
        mesh = Mesh(run_dir, ports, _replicas(os.environ.get("REPLICAS", "")),
                    external_triton=os.environ.get("AI4VC_TRITON_URL", ""))
        try:
            state = mesh.up()
        except PartError as exc:
            print(f"\nmake up failed: {exc}\nlogs: {run_dir / 'logs'}", file=sys.stderr)
            mesh.down()
            return 1
        p = mesh.ports
        lines = [f"\nAI4V-C is up (logs in {run_dir / 'logs'}; `make down` stops it all).\n",
                 f"  {'Envoy (gRPC, gRPC-Web, REST)':<31}127.0.0.1:{p.envoy}   admin http://127.0.0.1:{p.envoy_admin}"]
        services: dict[str, dict[str, int]] = state["services"]  # type: ignore[assignment]
        for name, info in services.items():
            lines.append(f"  {name:<31}127.0.0.1:{info['port']}   metrics http://127.0.0.1:{info['metrics_port']}/metrics")
        triton = f"{state['triton_grpc']} (gRPC)"
        if not state["external_triton"]:
            triton += f", HTTP :{p.triton_http}, metrics :{p.triton_metrics}"
        lines += [
            f"  {'Triton':<31}{triton}",
            f"  {'PostgreSQL':<31}127.0.0.1:{p.postgres}   (URL with credentials: {run_dir / 'mesh.json'})",
            f"  {'Redis':<31}127.0.0.1:{p.redis}",
            f"  {'Kafka (tansu)':<31}127.0.0.1:{p.kafka}",
            f"  {'Prometheus':<31}http://127.0.0.1:{p.prometheus}   (RED per method, open streams, Triton, Envoy)",
            f"  {'Dashboard':<31}http://127.0.0.1:{p.envoy}/dashboard/   (also :{p.dashboard_web}; a key with "
            "the dashboard or admin scope)",
            f"  {'Web console':<31}http://127.0.0.1:{p.web_ui}/ui/   (also http://127.0.0.1:{p.envoy}/ui/; "
            "the API key goes in Settings)" if state.get("web_ui") else f"  {'Web console':<31}not served "
            "(web/node_modules missing: deploy/local/bootstrap.sh)",
            "",
            f"Admin API key: {state['admin_key_file']} (mode 0600). Try:",
            f"  KEY=$(cat {state['admin_key_file']})",
            f"  .venv/bin/grpcurl -plaintext 127.0.0.1:{p.envoy} list",
            f"  curl -s -X POST 127.0.0.1:{p.envoy}/v1/text:translate -H \"x-api-key: $KEY\" "
            "-H 'content-type: application/json' \\",
            "       -d '" + EXAMPLE_BODY + "'",
        ]
        print("\n".join(lines), flush=True)
        return 0

    if not (run_dir / "mesh.json").exists():
        if args.command == "status":
            print("not running")
            return 1
        Mesh(run_dir).down()  # stop whatever pid files remain from a failed start
        return 0
    mesh = Mesh.from_state(run_dir)
    if args.command == "create-key":
        # The auth CLI with the running mesh's database and secrets: `make key NAME=app SCOPES=nmt`.
        env = {**os.environ, **mesh.service_env(), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        return subprocess.run([sys.executable, "-m", "services.auth.cli", "create-key", *rest], env=env).returncode
    if args.command == "down":
        mesh.down()
        (run_dir / "mesh.json").unlink()
        print("AI4V-C stopped.")
        return 0
    parts = {
        "postgres": mesh.postgres.running(),
        "redis": mesh.redis.proc.alive(),
        "kafka": mesh.kafka.ready(),
        "triton": mesh.triton.ready() if not mesh.external_triton else True,
        **{s.proc.name: s.proc.alive() for s in mesh.services},
        "envoy": mesh.envoy.proc.alive(),
        "prometheus": mesh.prometheus.proc.alive(),
    }
    print(json.dumps(parts, indent=2))
    return 0 if all(parts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
