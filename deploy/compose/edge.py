"""Envoy's configuration for the compose deployment, from the same service list the laptop mesh
starts (`deploy.local.mesh.SERVICES`): every service's cluster reached by its compose service
name (STRICT_DNS, so `docker compose up --scale asr=3` puts every replica behind the cluster),
the WebSocket bridge, the dashboard's page and the web console — the kinds that
`python -m deploy.local.envoy_config` (gRPC upstreams only) cannot express.

Run by the envoy container before Envoy starts, into the volume it shares with the gateway
(whose control plane publishes the routes there):

    python -m deploy.compose.edge --config-dir /etc/ai4vc-edge
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.local import envoy_config
from deploy.local.mesh import Ports, edge_upstreams

# The compose service names of the two HTTP pages (deploy/compose/core.yaml).
DASHBOARD_HOST = "dashboard"
WEB_UI_HOST = "webui"


def upstreams(ports: Ports | None = None) -> list[envoy_config.Upstream]:
    """The edge's upstreams, as `deploy.local.mesh.Mesh.upstreams` builds them, by compose name."""
    ports = ports or Ports()
    return edge_upstreams(lambda name: [(name, ports.services[name])],
                          dashboard_pages=[(DASHBOARD_HOST, ports.dashboard_web)],
                          web_ui=[(WEB_UI_HOST, ports.web_ui)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.compose.edge", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-dir", type=Path, default=Path("/etc/ai4vc-edge"))
    parser.add_argument("--listen", default="0.0.0.0:8080")
    # On the compose network (never published to the host): the gateway reads it to confirm a
    # publish is applied, Prometheus scrapes /stats/prometheus.
    parser.add_argument("--admin", default="0.0.0.0:9901")
    parser.add_argument("--access-log", type=Path, default=None,
                        help="default <config-dir>/access.log (the gateway tails it for failed logins)")
    # The variables `python -m deploy.local.envoy_config` and `make up` read (README "TLS"): TLS on
    # the public listener; mTLS from Envoy to the gRPC services (each service then needs its own
    # certificate, which core.yaml does not mount).
    envoy_config.add_tls_arguments(parser)
    args = parser.parse_args(argv)
    edge_tls, upstream_tls = envoy_config.tls_from_arguments(parser, args)
    jwt_secret = envoy_config.jwt_secret_from_env(parser)
    listen_host, listen_port = args.listen.rsplit(":", 1)
    admin_host, admin_port = args.admin.rsplit(":", 1)
    path = envoy_config.write_edge(
        upstreams(), args.config_dir, jwt_secret, listen_port=int(listen_port), admin_port=int(admin_port),
        listen_address=listen_host, admin_address=admin_host,
        access_log_path=args.access_log or args.config_dir / "access.log",
        tracing_sample_ratio=float(os.environ.get("AI4VC_TRACING_SAMPLE_RATIO", "0.1")),
        edge_tls=edge_tls, upstream_tls=upstream_tls)
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
