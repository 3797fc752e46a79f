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
from deploy.local.mesh import DASHBOARD_PAGE_PREFIX, SERVICES, WEB_UI_PREFIX, Ports

# The compose service names of the two HTTP pages (deploy/compose/core.yaml).
DASHBOARD_HOST = "dashboard"
WEB_UI_HOST = "webui"


def upstreams(ports: Ports | None = None) -> list[envoy_config.Upstream]:
    """The edge's upstreams, as `deploy.local.mesh.Mesh.upstreams` builds them, by compose name."""
    ports = ports or Ports()
    out = [envoy_config.Upstream(spec.grpc_service, name, [(name, ports.services[name])], routed=spec.routed,
                                 kind=spec.kind, idempotent=envoy_config.idempotent(spec.grpc_service),
                                 also_serves=spec.also_serves)
           for name, spec in SERVICES.items() if spec.kind != "worker"]
    out.append(envoy_config.Upstream(DASHBOARD_PAGE_PREFIX, "dashboard-web",
                                     [(DASHBOARD_HOST, ports.dashboard_web)], kind="http"))
    out.append(envoy_config.Upstream(WEB_UI_PREFIX, "webui", [(WEB_UI_HOST, ports.web_ui)], kind="http",
                                     cached=True))
    return out


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
    parser.add_argument("--tls-cert", default=os.environ.get("AI4VC_EDGE_TLS_CERT", ""))
    parser.add_argument("--tls-key", default=os.environ.get("AI4VC_EDGE_TLS_KEY", ""))
    parser.add_argument("--upstream-tls-cert", default=os.environ.get("AI4VC_ENVOY_MTLS_CERT", ""))
    parser.add_argument("--upstream-tls-key", default=os.environ.get("AI4VC_ENVOY_MTLS_KEY", ""))
    parser.add_argument("--upstream-tls-ca", default=os.environ.get("AI4VC_ENVOY_MTLS_CA", ""))
    args = parser.parse_args(argv)
    edge_tls = upstream_tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together (AI4VC_EDGE_TLS_CERT / AI4VC_EDGE_TLS_KEY)")
        edge_tls = envoy_config.EdgeTls(Path(args.tls_cert), Path(args.tls_key))
    mtls = (args.upstream_tls_cert, args.upstream_tls_key, args.upstream_tls_ca)
    if any(mtls):
        if not all(mtls):
            parser.error("AI4VC_ENVOY_MTLS_CERT, _KEY and _CA go together")
        upstream_tls = envoy_config.UpstreamTls(*(Path(p) for p in mtls))
    jwt_secret = os.environ.get("AI4VC_JWT_SECRET", "")
    if len(jwt_secret) < 32:
        parser.error("AI4VC_JWT_SECRET (at least 32 characters) is needed: jwt_authn verifies tokens with it")
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
