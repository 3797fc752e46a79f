"""Renders `envoy/envoy.yaml.j2` — the one Envoy config source — for a concrete mesh."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

import jinja2

from services.common.rpc.identity import IDENTITY_HEADERS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "envoy" / "envoy.yaml.j2"
DESCRIPTOR = ROOT / "gen" / "descriptors" / "ai4vc.binpb"
# Largest request body the edge accepts: 10 MiB of audio (Recognize's limit) as base64 JSON,
# below the services' 16 MiB gRPC message limit.
MAX_BODY_BYTES = 14 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Upstream:
    """One service behind Envoy: its gRPC service name, cluster and replica addresses."""

    grpc_service: str
    cluster: str
    endpoints: Sequence[tuple[str, int]]
    unary_timeout: str = "60s"
    routed: bool = True  # False: called by Envoy itself (the gateway), not routed to
    # Inference is idempotent: a unary call that hits a dying replica is retried elsewhere.
    # Calls with side effects (key management) are retried only when never sent.
    idempotent: bool = True
    kind: str = "grpc"  # "websocket": `grpc_service` is a path prefix, upgraded over HTTP/1.1


# Services whose unary calls have side effects: retried only when never sent.
NON_IDEMPOTENT_PREFIXES = ("ai4vc.auth.", "ai4vc.config.")


def idempotent(grpc_service: str) -> bool:
    """Whether Envoy may retry a unary call of `grpc_service` that may have reached a replica."""
    return not grpc_service.startswith(NON_IDEMPOTENT_PREFIXES)


def render(
    upstreams: Sequence[Upstream],
    *,
    listen_port: int,
    admin_port: int,
    access_log_path: Path,
    listen_address: str = "127.0.0.1",
    admin_address: str = "127.0.0.1",
    reflection_cluster: str | None = None,
    descriptor_path: Path = DESCRIPTOR,
) -> str:
    gateway = [u.cluster for u in upstreams if not u.routed]
    gateway_cluster = gateway[0] if gateway else ""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    template = env.from_string(TEMPLATE.read_text())
    grpc_upstreams = [u for u in upstreams if u.kind == "grpc"]
    clusters = [
        {
            "name": u.cluster,
            # Names (compose, Kubernetes services) are resolved by DNS; addresses are static.
            "discovery": "STATIC" if all(_is_ip(host) for host, _ in u.endpoints) else "STRICT_DNS",
            "health_service": u.grpc_service,
            "endpoints": [{"host": host, "port": port} for host, port in u.endpoints],
            "kind": u.kind,
        }
        for u in upstreams
    ]
    return template.render(
        listen_address=listen_address,
        listen_port=listen_port,
        admin_address=admin_address,
        admin_port=admin_port,
        access_log_path=str(access_log_path),
        descriptor_path=str(descriptor_path),
        identity_headers=IDENTITY_HEADERS,
        services=[dataclasses.asdict(u) | {"streaming_methods": streaming_methods(u.grpc_service, descriptor_path)}
                  for u in upstreams if u.routed and u.kind == "grpc"],
        websockets=[dataclasses.asdict(u) for u in upstreams if u.kind == "websocket"],
        clusters=clusters,
        gateway_cluster=gateway_cluster,
        max_body_bytes=MAX_BODY_BYTES,
        reflection_cluster=reflection_cluster or gateway_cluster or grpc_upstreams[0].cluster,
    )


def streaming_methods(service: str, descriptor_path: Path = DESCRIPTOR) -> list[str]:
    """Full paths of `service`'s streaming methods, read from the built descriptor set: they get
    routes of their own with no timeout and no retries."""
    from google.protobuf import descriptor_pb2

    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_path.read_bytes()).file
    package, _, name = service.rpartition(".")
    for file in files:
        if file.package != package:
            continue
        for svc in file.service:
            if svc.name == name:
                return [f"/{service}/{m.name}" for m in svc.method if m.client_streaming or m.server_streaming]
    return []


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Renders the config for a deployment whose services are reached by name (compose, k8s):
    `--upstream ai4vc.nmt.v1.NmtService=nmt:8089` per service, and the gateway as
    `--upstream envoy.service.auth.v3.Authorization=gateway:8086`."""
    parser = argparse.ArgumentParser(prog="python -m deploy.local.envoy_config")
    parser.add_argument("--upstream", action="append", required=True, help="GRPC_SERVICE=HOST:PORT[,HOST:PORT]")
    parser.add_argument("--listen", default="0.0.0.0:8080")
    parser.add_argument("--admin", default="127.0.0.1:9901")
    parser.add_argument("--access-log", default="/dev/stdout")
    parser.add_argument("--descriptor", default=str(DESCRIPTOR))
    parser.add_argument("-o", "--output", default="-")
    args = parser.parse_args(argv)
    upstreams = []
    for spec in args.upstream:
        service, _, hosts = spec.partition("=")
        endpoints = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in hosts.split(",")]
        cluster = service.split(".")[1] if service.count(".") >= 2 else service
        upstreams.append(Upstream(service, cluster, endpoints, routed=not service.startswith("envoy."),
                                  idempotent=idempotent(service)))
    listen_host, listen_port = args.listen.rsplit(":", 1)
    admin_host, admin_port = args.admin.rsplit(":", 1)
    config = render(upstreams, listen_port=int(listen_port), admin_port=int(admin_port),
                    access_log_path=Path(args.access_log), listen_address=listen_host, admin_address=admin_host,
                    descriptor_path=Path(args.descriptor))
    if args.output == "-":
        sys.stdout.write(config)
    else:
        Path(args.output).write_text(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
