"""Renders `envoy/envoy.yaml.j2` — the one Envoy config source — for a concrete mesh."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import jinja2

from services.common.identity import IDENTITY_HEADERS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "envoy" / "envoy.yaml.j2"
DESCRIPTOR = ROOT / "gen" / "descriptors" / "ai4vc.binpb"


@dataclasses.dataclass(frozen=True)
class Upstream:
    """One service behind Envoy: its gRPC service name, cluster and replica addresses."""

    grpc_service: str
    cluster: str
    endpoints: Sequence[tuple[str, int]]
    unary_timeout: str = "60s"


def render(
    upstreams: Sequence[Upstream],
    *,
    listen_port: int,
    admin_port: int,
    access_log_path: Path,
    listen_address: str = "127.0.0.1",
    admin_address: str = "127.0.0.1",
    reflection_cluster: str | None = None,
) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    template = env.from_string(TEMPLATE.read_text())
    clusters = [
        {
            "name": u.cluster,
            "health_service": u.grpc_service,
            "endpoints": [{"host": host, "port": port} for host, port in u.endpoints],
        }
        for u in upstreams
    ]
    return template.render(
        listen_address=listen_address,
        listen_port=listen_port,
        admin_address=admin_address,
        admin_port=admin_port,
        access_log_path=str(access_log_path),
        descriptor_path=str(DESCRIPTOR),
        identity_headers=IDENTITY_HEADERS,
        services=[dataclasses.asdict(u) for u in upstreams],
        clusters=clusters,
        reflection_cluster=reflection_cluster or upstreams[0].cluster,
    )
