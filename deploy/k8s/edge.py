"""Writes the edge's Envoy config in a Kubernetes pod (the edge Deployment's init container):
the same source as `make up` and compose (`deploy.local.envoy_config.write_edge`), with every
upstream on its headless Service, so Envoy's STRICT_DNS clusters see each ready pod and balance
and health-check them one by one (a ClusterIP would be one address, and kube-proxy does not
balance the requests of a long-lived HTTP/2 connection). The gateway, Envoy's control plane,
is a container of the same pod: 127.0.0.1.

    python -m deploy.k8s.edge --config-dir /etc/ai4vc-edge --namespace ai4vc

Unlike `python -m deploy.local.envoy_config` (gRPC upstreams only), this routes every upstream
`make up` routes: the WebSocket bridge and the dashboard's page too. Needs AI4VC_JWT_SECRET.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deploy.local import envoy_config
from deploy.local.mesh import SERVICES, Ports, edge_upstreams

EDGE_PORT = 8080
ADMIN_PORT = 9901
# The pages' ports are the mesh's (compose's edge reads the same defaults).
DASHBOARD_WEB_PORT = Ports().dashboard_web
WEB_UI_PORT = Ports().web_ui


def upstreams(namespace: str) -> list[envoy_config.Upstream]:
    """Every process Envoy routes to (or, for the gateway, calls), by headless DNS name."""
    def host(name: str) -> str:
        return "127.0.0.1" if name == "gateway" else f"{name}-headless.{namespace}.svc.cluster.local"

    return edge_upstreams(lambda name: [(host(name), SERVICES[name].port)],
                          dashboard_pages=[(host("dashboard"), DASHBOARD_WEB_PORT)],
                          web_ui=[(host("webui"), WEB_UI_PORT)])


def write(config_dir: Path, namespace: str, jwt_secret: str, node_id: str = "edge") -> Path:
    """Writes envoy.yaml, jwks.json and the routes into `config_dir`; returns envoy.yaml's path."""
    return envoy_config.write_edge(
        upstreams(namespace), config_dir, jwt_secret, listen_port=EDGE_PORT, admin_port=ADMIN_PORT,
        access_log_path=config_dir / "access.log", listen_address="0.0.0.0", admin_address="127.0.0.1",
        node_id=node_id, tracing_sample_ratio=float(os.environ.get("AI4VC_TRACING_SAMPLE_RATIO", "0.1")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.k8s.edge")
    parser.add_argument("--config-dir", default="/etc/ai4vc-edge")
    parser.add_argument("--namespace", default="ai4vc")
    args = parser.parse_args(argv)
    secret = envoy_config.jwt_secret_from_env(parser)
    # HOSTNAME is the pod's name: Envoy's node id in its logs and admin.
    path = write(Path(args.config_dir), args.namespace, secret, node_id=os.environ.get("HOSTNAME", "edge"))
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
