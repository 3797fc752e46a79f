"""`python -m deploy.local up|down|status` — the local mesh launcher behind `make up/down`.

Environment: AI4VC_RUN_DIR (default .run), AI4VC_PORT_OFFSET (add to every default port),
REPLICAS (e.g. "nmt=2"), AI4VC_TRITON_URL (use that Triton, e.g. a GPU server, instead of
starting the embedded CPU one), AI4VC_LISTEN_ADDRESS (Envoy's, default 127.0.0.1).

TLS (`make up TLS=1`): AI4VC_EDGE_TLS=1 makes Envoy's public listener speak TLS only, with a
certificate for localhost / 127.0.0.1 / ::1 (and the names in AI4VC_EDGE_TLS_NAMES, comma-separated)
from a local CA made once in <run dir>/tls/; AI4VC_EDGE_TLS_CERT + AI4VC_EDGE_TLS_KEY bring your
own instead. AI4VC_MESH_MTLS=1 (`make up MTLS=1`): mTLS from Envoy to the services with
certificates of the same CA (README, "TLS").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from deploy.local.envoy_config import EdgeTls
from deploy.local.mesh import MTLS_PLAINTEXT, ROOT_RUN_DIR, Mesh, Ports
from deploy.local.parts import PartError

EXAMPLE_BODY = '{"contents": ["भारत एक विशाल देश है।"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}'


def _replicas(spec: str) -> dict[str, int]:
    replicas = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        replicas[name] = int(count)
    return replicas


def _on(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
        raise SystemExit(f"{name}={value!r}: use 1 or 0")
    return value in ("1", "true", "yes", "on")


def _edge_cert() -> EdgeTls | None:
    """The operator's certificate for the edge, when AI4VC_EDGE_TLS_CERT / _KEY name one."""
    cert, key = os.environ.get("AI4VC_EDGE_TLS_CERT", ""), os.environ.get("AI4VC_EDGE_TLS_KEY", "")
    if not cert and not key:
        return None
    if not (cert and key):
        raise SystemExit("AI4VC_EDGE_TLS_CERT and AI4VC_EDGE_TLS_KEY go together")
    for path in (cert, key):
        if not Path(path).is_file():
            raise SystemExit(f"{path}: no such file (AI4VC_EDGE_TLS_CERT / AI4VC_EDGE_TLS_KEY)")
    return EdgeTls(Path(cert).resolve(), Path(key).resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local")
    parser.add_argument("command", choices=["up", "down", "status", "create-key"])
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    run_dir = Path(os.environ.get("AI4VC_RUN_DIR", ROOT_RUN_DIR)).resolve()

    if args.command == "up":
        ports = Ports.offset(int(os.environ.get("AI4VC_PORT_OFFSET", "0")))
        names = tuple(n.strip() for n in os.environ.get("AI4VC_EDGE_TLS_NAMES", "").split(",") if n.strip())
        mesh = Mesh(run_dir, ports, _replicas(os.environ.get("REPLICAS", "")),
                    external_triton=os.environ.get("AI4VC_TRITON_URL", ""), edge_tls=_on("AI4VC_EDGE_TLS"),
                    edge_cert=_edge_cert(), edge_tls_names=names, mesh_mtls=_on("AI4VC_MESH_MTLS"))
        if (run_dir / "mesh.json").exists():
            # Running parts are left as they are by `up`: Envoy would keep its old listener and the
            # services their old ports' security, whatever this run printed.
            before = json.loads((run_dir / "mesh.json").read_text())
            if (bool(before.get("edge_tls")), bool(before.get("mesh_mtls"))) != (mesh.edge_tls, mesh.mesh_mtls):
                print(f"the mesh in {run_dir} runs with TLS={int(bool(before.get('edge_tls')))} "
                      f"MTLS={int(bool(before.get('mesh_mtls')))}: `make down` first to change that", file=sys.stderr)
                return 1
        try:
            state = mesh.up()
        except PartError as exc:
            print(f"\nmake up failed: {exc}\nlogs: {run_dir / 'logs'}", file=sys.stderr)
            mesh.down()
            return 1
        p = mesh.ports
        tls = " (TLS only)" if mesh.edge_tls else ""
        lines = [f"\nAI4V-C is up (logs in {run_dir / 'logs'}; `make down` stops it all).\n",
                 f"  {'Envoy (gRPC, gRPC-Web, REST)':<31}127.0.0.1:{p.envoy}{tls}   admin http://127.0.0.1:{p.envoy_admin}"]
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
        ]
        if mesh.edge_tls:
            ca = mesh.edge_ca
            grpcurl_tls = f"-cacert {ca} " if ca else ""
            curl_tls = f"--cacert {ca} " if ca else ""
            lines += [
                f"  .venv/bin/grpcurl {grpcurl_tls}localhost:{p.envoy} list",
                f"  curl -s {curl_tls}-X POST https://localhost:{p.envoy}/v1/text:translate -H \"x-api-key: $KEY\" "
                "-H 'content-type: application/json' \\",
                "       -d '" + EXAMPLE_BODY + "'",
            ]
            if ca:
                lines.append(f"TLS: the edge's certificate comes from the local CA {ca} (trust it in the client: "
                             "grpcurl -cacert, curl --cacert, the SDK's AI4VC_CA_CERT).")
        else:
            lines += [
                f"  .venv/bin/grpcurl -plaintext 127.0.0.1:{p.envoy} list",
                f"  curl -s -X POST 127.0.0.1:{p.envoy}/v1/text:translate -H \"x-api-key: $KEY\" "
                "-H 'content-type: application/json' \\",
                "       -d '" + EXAMPLE_BODY + "'",
            ]
        if mesh.mesh_mtls:
            lines.append(f"mTLS: Envoy → services with certificates of {mesh.ca.cert_path} (plaintext still: "
                         f"{', '.join(sorted(MTLS_PLAINTEXT))}, whose internal callers present none yet).")
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
