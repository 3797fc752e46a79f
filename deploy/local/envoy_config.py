"""Renders the one Envoy config source for a concrete mesh: `envoy/envoy.yaml.j2` (the bootstrap:
listener, filter chain, clusters) and `envoy/routes.yaml.j2` (the route skeleton the gateway's
control plane completes with the policy and the per-key data and publishes by RDS), plus the
JWKS file jwt_authn reads (an `oct` key from the shared JWT secret)."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import ipaddress
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

import jinja2
from google.rpc import error_details_pb2, status_pb2

from services.common.credentials import JWT_AUDIENCE, JWT_ISSUER
from services.common.rpc.identity import IDENTITY_HEADERS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "envoy" / "envoy.yaml.j2"
ROUTES_TEMPLATE = ROOT / "envoy" / "routes.yaml.j2"
# Headers only the edge sets on the way in (stripped from client input first) and drops before a
# service: the session id, the rate-limit subject and cost, the gRPC-caller mark.
INTERNAL_HEADERS = ("x-ai4vc-session", "x-ai4vc-limit-id", "x-ai4vc-cost")
# Removed by the router: credentials never reach a service, nor do the internal headers.
REMOVED_HEADERS = ("authorization", "x-api-key", "x-ai4vc-grpc", *INTERNAL_HEADERS)
# local_ratelimit buckets hold this many tokens a minute; a call costs BUCKET_TOKENS / quota.
BUCKET_TOKENS = 1_000_000_000
# Distinct (key or user, method) buckets one Envoy keeps (LRU past this): well above the keys
# active in a minute times the methods each calls (default 20 would evict live buckets).
MAX_DYNAMIC_DESCRIPTORS = 1_000_000
RATE_LIMITED_MESSAGE = "rate limit exceeded for this key and method"
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
    kind: str = "grpc"  # "websocket": `grpc_service` is a path prefix, upgraded over HTTP/1.1;
    # "http": `grpc_service` is a path prefix of plain HTTP/1.1 pages (the dashboard's)


# Services whose unary calls have side effects: retried only when never sent.
NON_IDEMPOTENT_PREFIXES = ("ai4vc.auth.", "ai4vc.config.")


TELEMETRY_SERVICE = "ai4vc.telemetry.v1.TelemetryService"


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
    routes_dir: Path = Path("/etc/envoy/routes"),
    jwks_path: Path = Path("/etc/envoy/jwks.json"),
    node_id: str = "edge",
    tracing_sample_ratio: float = 0.1,
) -> str:
    """The bootstrap (listener, filters, clusters); routes come by RDS from `routes_dir`."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    template = env.from_string(TEMPLATE.read_text())
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
    # Envoy's own spans go to the telemetry service when the mesh runs one.
    tracing = [u.cluster for u in upstreams if u.grpc_service == TELEMETRY_SERVICE]
    nobody = "ai4vc-nobody:{SHA}" + base64.b64encode(hashlib.sha1(secrets.token_bytes(32)).digest()).decode()
    return template.render(
        node_id=node_id,
        listen_address=listen_address,
        listen_port=listen_port,
        admin_address=admin_address,
        admin_port=admin_port,
        access_log_path=str(access_log_path),
        descriptor_path=str(descriptor_path),
        identity_headers=(*IDENTITY_HEADERS, *INTERNAL_HEADERS),
        services=[dataclasses.asdict(u) for u in upstreams if u.routed and u.kind == "grpc"],
        clusters=clusters,
        max_body_bytes=MAX_BODY_BYTES,
        routes_dir=str(routes_dir),
        jwks_path=str(jwks_path),
        jwt_issuer=JWT_ISSUER,
        jwt_audience=JWT_AUDIENCE,
        nobody_user=nobody,
        bucket_tokens=BUCKET_TOKENS,
        max_dynamic_descriptors=MAX_DYNAMIC_DESCRIPTORS,
        rate_limited_message=RATE_LIMITED_MESSAGE,
        rate_limited_details=rate_limited_details(),
        tracing_cluster=tracing[0] if tracing else "",
        tracing_sample_percent=round(100 * tracing_sample_ratio, 3),
    )


def rate_limited_details() -> str:
    """grpc-status-details-bin of a local_ratelimit refusal: RESOURCE_EXHAUSTED with ErrorInfo
    RATE_LIMITED and RetryInfo (a bucket refills within the minute), as the services' errors carry."""
    status = status_pb2.Status(code=8, message=RATE_LIMITED_MESSAGE)
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason="RATE_LIMITED", domain="ai4vc"))
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.seconds = 60
    status.details.add().Pack(retry)
    return base64.b64encode(status.SerializeToString()).decode()


def jwks(jwt_secret: str) -> str:
    """The JWKS jwt_authn verifies access tokens with: one HS256 `oct` key, the shared secret."""
    k = base64.urlsafe_b64encode(jwt_secret.encode()).rstrip(b"=").decode()
    return json.dumps({"keys": [{"kty": "oct", "alg": "HS256", "k": k}]})


def write_private(path: Path, content: str) -> None:
    """Writes `content` readable by its owner only (0600 from the start), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.replace(tmp, path)


def render_routes(
    upstreams: Sequence[Upstream],
    *,
    reflection_cluster: str | None = None,
    descriptor_path: Path = DESCRIPTOR,
) -> dict[str, object]:
    """The route skeleton (a RouteConfiguration, as a dict) for the control plane to complete."""
    import yaml

    gateway = [u.cluster for u in upstreams if not u.routed]
    gateway_cluster = gateway[0] if gateway else ""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    template = env.from_string(ROUTES_TEMPLATE.read_text())
    grpc_upstreams = [u for u in upstreams if u.kind == "grpc"]
    text = template.render(
        services=[dataclasses.asdict(u) | {"streaming_methods": streaming_methods(u.grpc_service, descriptor_path)}
                  for u in upstreams if u.routed and u.kind == "grpc"],
        websockets=[dataclasses.asdict(u) for u in upstreams if u.kind == "websocket"],
        pages=[dataclasses.asdict(u) for u in upstreams if u.kind == "http"],
        removed_headers=REMOVED_HEADERS,
        reflection_cluster=reflection_cluster or gateway_cluster or grpc_upstreams[0].cluster,
    )
    routes: dict[str, object] = yaml.safe_load(text)
    return routes


def write_edge(upstreams: Sequence[Upstream], config_dir: Path, jwt_secret: str, **kwargs: object) -> Path:
    """Writes everything Envoy starts from into `config_dir`: envoy.yaml, jwks.json (0600), the route
    skeleton (routes.base.json, which the control plane completes) and — only when none is
    there yet, so a publish already made is kept — a first routes/routes.json that allows only
    public methods. Returns the bootstrap's path."""
    routes_dir = config_dir / "routes"
    routes_dir.mkdir(parents=True, exist_ok=True)
    write_private(config_dir / "jwks.json", jwks(jwt_secret))
    reflection = kwargs.pop("reflection_cluster", None)
    descriptor = kwargs.get("descriptor_path", DESCRIPTOR)
    skeleton = render_routes(upstreams, reflection_cluster=reflection,  # type: ignore[arg-type]
                             descriptor_path=descriptor)  # type: ignore[arg-type]
    (config_dir / "routes.base.json").write_text(json.dumps(skeleton))
    if not (routes_dir / "routes.json").exists():
        document = {"version_info": "0", "resources": [
            {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", **skeleton}]}
        (routes_dir / ".routes.json.tmp").write_text(json.dumps(document))
        os.replace(routes_dir / ".routes.json.tmp", routes_dir / "routes.json")
    path = config_dir / "envoy.yaml"
    path.write_text(render(upstreams, routes_dir=routes_dir, jwks_path=config_dir / "jwks.json",
                           **kwargs))  # type: ignore[arg-type]
    return path


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
    parser.add_argument("--config-dir", default="/etc/envoy",
                        help="where envoy.yaml, jwks.json and the routes go (the gateway publishes into <dir>/routes)")
    args = parser.parse_args(argv)
    jwt_secret = os.environ.get("AI4VC_JWT_SECRET", "")
    if len(jwt_secret) < 32:
        parser.error("AI4VC_JWT_SECRET (at least 32 characters) is needed: jwt_authn verifies tokens with it")
    upstreams = []
    for spec in args.upstream:
        service, _, hosts = spec.partition("=")
        endpoints = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in hosts.split(",")]
        cluster = service.split(".")[1] if service.count(".") >= 2 else service
        upstreams.append(Upstream(service, cluster, endpoints, routed=not service.startswith("envoy."),
                                  idempotent=idempotent(service)))
    listen_host, listen_port = args.listen.rsplit(":", 1)
    admin_host, admin_port = args.admin.rsplit(":", 1)
    path = write_edge(upstreams, Path(args.config_dir), jwt_secret, listen_port=int(listen_port),
                      admin_port=int(admin_port), access_log_path=Path(args.access_log), listen_address=listen_host,
                      admin_address=admin_host, descriptor_path=Path(args.descriptor))
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
