"""The rendered Envoy config: clusters, routes, filter order, transcoder, and Envoy's own validation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.local.envoy_config import DESCRIPTOR, Upstream, render
from services.common.rpc.identity import IDENTITY_HEADERS

ENVOY = Path(sys.executable).parent / "envoy"

UPSTREAMS = [
    Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", 18089), ("127.0.0.1", 18090)]),
    Upstream("ai4vc.asr.v1.AsrService", "asr", [("127.0.0.1", 18091)], unary_timeout="120s"),
]


def _render(tmp_path: Path, upstreams: list[Upstream] = UPSTREAMS, **kwargs: Any) -> str:
    return render(upstreams, listen_port=18080, admin_port=19901, access_log_path=tmp_path / "access.log", **kwargs)


def _hcm(config: dict[str, Any]) -> dict[str, Any]:
    [listener] = config["static_resources"]["listeners"]
    [chain] = listener["filter_chains"]
    [hcm] = chain["filters"]
    return hcm["typed_config"]


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    return yaml.safe_load(_render(tmp_path))


def test_one_cluster_per_upstream_with_grpc_health_check(config: dict[str, Any]) -> None:
    """Each upstream becomes one cluster with its endpoints and a gRPC health check on its service name."""
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert set(clusters) == {"nmt", "asr"}
    for upstream in UPSTREAMS:
        cluster = clusters[upstream.cluster]
        [check] = cluster["health_checks"]
        assert check["grpc_health_check"]["service_name"] == upstream.grpc_service
        [group] = cluster["load_assignment"]["endpoints"]
        addresses = [(e["endpoint"]["address"]["socket_address"]["address"],
                      e["endpoint"]["address"]["socket_address"]["port_value"]) for e in group["lb_endpoints"]]
        assert addresses == list(upstream.endpoints)
        http2 = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        assert "http2_protocol_options" in http2["explicit_http_config"]


def test_routes_match_grpc_service_prefixes(config: dict[str, Any]) -> None:
    """Each gRPC service's path prefix routes to its cluster with its timeout; reflection goes to the first."""
    [vhost] = _hcm(config)["route_config"]["virtual_hosts"]
    routes = {r["match"].get("prefix") or r["match"]["path"]: r["route"] for r in vhost["routes"]}
    assert routes["/ai4vc.nmt.v1.NmtService/"]["cluster"] == "nmt"
    assert routes["/ai4vc.asr.v1.AsrService/"]["cluster"] == "asr"
    assert routes["/ai4vc.asr.v1.AsrService/"]["timeout"] == "120s"
    assert routes["/grpc.reflection."]["cluster"] == "nmt"


def test_streaming_methods_have_their_own_routes_without_timeout_or_retries(config: dict[str, Any]) -> None:
    """Streaming methods (read from the descriptor) route with timeout 0s and no retry policy,
    ahead of their service's prefix route, which retries idempotent unary calls."""
    [vhost] = _hcm(config)["route_config"]["virtual_hosts"]
    keys = [r["match"].get("prefix") or r["match"]["path"] for r in vhost["routes"]]
    stream = "/ai4vc.asr.v1.AsrService/StreamingRecognize"
    assert keys.index(stream) < keys.index("/ai4vc.asr.v1.AsrService/")
    route = vhost["routes"][keys.index(stream)]["route"]
    assert route["timeout"] == "0s" and "retry_policy" not in route
    unary = vhost["routes"][keys.index("/ai4vc.nmt.v1.NmtService/")]["route"]
    assert "unavailable" in unary["retry_policy"]["retry_on"]


def test_reflection_cluster_can_be_chosen(tmp_path: Path) -> None:
    """`reflection_cluster` sends server reflection to the named cluster."""
    config = yaml.safe_load(_render(tmp_path, reflection_cluster="asr"))
    [vhost] = _hcm(config)["route_config"]["virtual_hosts"]
    routes = {r["match"].get("prefix") or r["match"]["path"]: r["route"] for r in vhost["routes"]}
    assert routes["/grpc.reflection."]["cluster"] == "asr"


def test_identity_headers_stripped_first(config: dict[str, Any]) -> None:
    """Identity headers a client could forge are removed before any filter that reads or sets
    them (only the body-size check, which reads no header of ours, runs earlier)."""
    filters = _hcm(config)["http_filters"]
    names = [f["name"] for f in filters]
    mutation = names.index("envoy.filters.http.header_mutation")
    assert names[:mutation] == ["envoy.filters.http.lua"]
    if "envoy.filters.http.ext_authz" in names:
        assert mutation < names.index("envoy.filters.http.ext_authz")
    removed = [m["remove"] for m in filters[mutation]["typed_config"]["mutations"]["request_mutations"]]
    assert sorted(removed) == sorted(IDENTITY_HEADERS)
    assert filters[-1]["name"] == "envoy.filters.http.router"


def test_transcoder_lists_services_and_converts_status(config: dict[str, Any]) -> None:
    """The JSON transcoder knows every service, uses the built descriptor and converts gRPC status."""
    [transcoder] = [f for f in _hcm(config)["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"]
    typed = transcoder["typed_config"]
    assert typed["services"] == [u.grpc_service for u in UPSTREAMS]
    assert typed["convert_grpc_status"] is True
    assert typed["proto_descriptor"] == str(DESCRIPTOR)


def test_addresses_and_access_log_come_from_arguments(tmp_path: Path) -> None:
    """Listen/admin addresses and ports and the access-log path are the ones passed in."""
    config = yaml.safe_load(_render(tmp_path, listen_address="0.0.0.0", admin_address="127.0.0.2"))
    [listener] = config["static_resources"]["listeners"]
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 18080}
    assert config["admin"]["address"]["socket_address"] == {"address": "127.0.0.2", "port_value": 19901}
    [log] = _hcm(config)["access_log"]
    assert log["typed_config"]["path"] == str(tmp_path / "access.log")


@pytest.mark.skipif(not ENVOY.exists(), reason="envoy binary not installed in the venv")
@pytest.mark.skipif(not DESCRIPTOR.exists(), reason="descriptor not generated")
def test_real_envoy_accepts_rendered_config(tmp_path: Path) -> None:
    """`envoy --mode validate` accepts the rendered config, descriptor and all."""
    path = tmp_path / "envoy.yaml"
    path.write_text(_render(tmp_path))
    result = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
