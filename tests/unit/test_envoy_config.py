"""The rendered Envoy config: clusters, the route skeleton, filter order, transcoder, the native
auth chain, and Envoy's own validation (bootstrap and published routes, on the real binary)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.local.envoy_config import (
    DESCRIPTOR,
    INTERNAL_HEADERS,
    REMOVED_HEADERS,
    ClientLimits,
    Upstream,
    render,
    render_routes,
    write_edge,
)
from gateway.edge import render as edge_render
from services.common.rpc.identity import IDENTITY_HEADERS

ENVOY = Path(sys.executable).parent / "envoy"

UPSTREAMS = [
    Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", 18089), ("127.0.0.1", 18090)]),
    Upstream("ai4vc.asr.v1.AsrService", "asr", [("127.0.0.1", 18091)], unary_timeout="120s"),
]
WEB_UI = Upstream("/ui/", "webui", [("127.0.0.1", 13000)], kind="http", cached=True)


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


def _vhost(**kwargs: Any) -> dict[str, Any]:
    [vhost] = render_routes(UPSTREAMS, **kwargs)["virtual_hosts"]  # type: ignore[index]
    return vhost  # type: ignore[no-any-return]


def test_routes_match_grpc_service_prefixes() -> None:
    """Each gRPC service's path prefix routes to its cluster with its timeout; reflection goes to the first."""
    vhost = _vhost()
    routes = {r["match"].get("prefix") or r["match"]["path"]: r["route"] for r in vhost["routes"] if "route" in r}
    assert routes["/ai4vc.nmt.v1.NmtService/"]["cluster"] == "nmt"
    assert routes["/ai4vc.asr.v1.AsrService/"]["cluster"] == "asr"
    assert routes["/ai4vc.asr.v1.AsrService/"]["timeout"] == "120s"
    assert routes["/grpc.reflection."]["cluster"] == "nmt"


def test_unknown_paths_end_in_envoys_own_not_found() -> None:
    """The last two routes answer what no service serves: UNIMPLEMENTED (trailers-only) for gRPC
    content types, a JSON NOT_FOUND 404 for the rest; nothing after them."""
    grpc_route, rest_route = _vhost()["routes"][-2:]
    assert grpc_route["match"]["prefix"] == rest_route["match"]["prefix"] == "/"
    assert grpc_route["match"]["headers"][0]["string_match"] == {"prefix": "application/grpc"}
    assert grpc_route["direct_response"] == {"status": 200}
    added = {h["header"]["key"]: h["header"]["value"] for h in grpc_route["response_headers_to_add"]}
    assert added["grpc-status"] == "12"
    assert rest_route["direct_response"]["status"] == 404
    assert json.loads(rest_route["direct_response"]["body"]["inline_string"])["details"][0]["reason"] == "NOT_FOUND"


def test_streaming_methods_have_their_own_routes_without_timeout_or_retries() -> None:
    """Streaming methods (read from the descriptor) route with timeout 0s and no retry policy,
    ahead of their service's prefix route, which retries idempotent unary calls."""
    vhost = _vhost()
    keys = [r["match"].get("prefix") or r["match"]["path"] for r in vhost["routes"]]
    stream = "/ai4vc.asr.v1.AsrService/StreamingRecognize"
    assert keys.index(stream) < keys.index("/ai4vc.asr.v1.AsrService/")
    route = vhost["routes"][keys.index(stream)]["route"]
    assert route["timeout"] == "0s" and "retry_policy" not in route
    unary = vhost["routes"][keys.index("/ai4vc.nmt.v1.NmtService/")]["route"]
    assert "unavailable" in unary["retry_policy"]["retry_on"]


def test_reflection_cluster_can_be_chosen() -> None:
    """`reflection_cluster` sends server reflection to the named cluster."""
    vhost = _vhost(reflection_cluster="asr")
    routes = {r["match"].get("prefix") or r["match"]["path"]: r["route"] for r in vhost["routes"] if "route" in r}
    assert routes["/grpc.reflection."]["cluster"] == "asr"


def test_identity_headers_stripped_first(config: dict[str, Any]) -> None:
    """Identity and internal headers a client could forge are removed before any filter that reads
    or sets them (only the size/query check, which sets just the gRPC mark, runs earlier)."""
    filters = _hcm(config)["http_filters"]
    names = [f["name"] for f in filters]
    mutation = names.index("envoy.filters.http.header_mutation")
    assert names[:mutation] == ["envoy.filters.http.lua"]
    removed = [m["remove"] for m in filters[mutation]["typed_config"]["mutations"]["request_mutations"]]
    assert sorted(removed) == sorted((*IDENTITY_HEADERS, *INTERNAL_HEADERS))
    assert filters[-1]["name"] == "envoy.filters.http.router"


def test_native_auth_chain_in_order_after_the_transcoder(config: dict[str, Any]) -> None:
    """No ext_authz or global rate limit: after the transcoder (gRPC paths for REST too) come guard,
    jwt_authn, basic_auth (skipped for bearer tokens), identity, rbac, local_ratelimit, router."""
    names = [f["name"] for f in _hcm(config)["http_filters"]]
    after = names[names.index("envoy.filters.http.grpc_json_transcoder") + 1:]
    assert after == ["ai4vc.guard", "envoy.filters.http.jwt_authn", "ai4vc.basic_auth", "ai4vc.identity",
                     "envoy.filters.http.rbac", "envoy.filters.http.local_ratelimit", "envoy.filters.http.cache",
                     "envoy.filters.http.router"]
    [basic] = [f for f in _hcm(config)["http_filters"] if f["name"] == "ai4vc.basic_auth"]
    [matcher] = basic["typed_config"]["xds_matcher"]["matcher_list"]["matchers"]
    assert matcher["predicate"]["single_predicate"]["value_match"] == {"prefix": "Bearer "}
    [jwt] = [f for f in _hcm(config)["http_filters"] if f["name"] == "envoy.filters.http.jwt_authn"]
    provider = jwt["typed_config"]["providers"]["ai4vc"]
    assert provider["audiences"] == ["ai4vc"] and provider["issuer"] == "ai4vc-auth"
    [limit] = [f for f in _hcm(config)["http_filters"] if f["name"] == "envoy.filters.http.local_ratelimit"]
    assert limit["typed_config"]["rate_limited_as_resource_exhausted"] is True
    assert limit["typed_config"]["max_dynamic_descriptors"] >= 100_000


def test_routes_come_by_rds_from_a_watched_directory(config: dict[str, Any], tmp_path: Path) -> None:
    """The listener holds no routes and no keys: RDS from <routes_dir>/routes.json, watched for renames."""
    hcm = _hcm(config)
    assert "route_config" not in hcm
    source = hcm["rds"]["config_source"]["path_config_source"]
    assert source["path"].endswith("/routes.json")
    assert source["watched_directory"]["path"] == str(Path(source["path"]).parent)


def test_skeleton_drops_credentials_before_services() -> None:
    """The router removes credentials and the edge's internal headers: services see identity only."""
    assert set(_vhost()["request_headers_to_remove"]) == set(REMOVED_HEADERS)
    assert {"authorization", "x-api-key"} <= set(REMOVED_HEADERS)


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
    """`envoy --mode validate` accepts the bootstrap write_edge writes, descriptor and JWKS and all."""
    path = write_edge(UPSTREAMS, tmp_path / "envoy", "s" * 40, listen_port=18080, admin_port=19901,
                      access_log_path=tmp_path / "access.log")
    assert (tmp_path / "envoy" / "jwks.json").stat().st_mode & 0o077 == 0
    result = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_cache_filter_only_on_the_web_consoles_route() -> None:
    """Envoy's cache filter runs on the web console's route alone: on every other route (API calls,
    docs, catch-alls) it is disabled, so no API answer can be stored and served to another caller."""
    [vhost] = render_routes([*UPSTREAMS, WEB_UI])["virtual_hosts"]
    disabled = {"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}
    for route in vhost["routes"]:
        per_filter = route.get("typed_per_filter_config", {})
        if route.get("route", {}).get("cluster") == "webui":
            assert "envoy.filters.http.cache" not in per_filter, route
        else:
            assert per_filter.get("envoy.filters.http.cache") == disabled, route
    assert any(r["match"].get("prefix") == "/ui/" for r in vhost["routes"])


@pytest.mark.skipif(not ENVOY.exists(), reason="envoy binary not installed in the venv")
@pytest.mark.skipif(not DESCRIPTOR.exists(), reason="descriptor not generated")
def test_real_envoy_accepts_published_routes(tmp_path: Path) -> None:
    """The control plane's routes (keys, blocks, sessions, policy) validate as Envoy's static routes."""
    skeleton = render_routes([*UPSTREAMS, WEB_UI])
    keys = [edge_render.EdgeKey("0123456789abcdef", "devi", frozenset({"nmt"}), "{SHA}" + "A" * 27 + "=", 3)]
    blocks = [edge_render.Block("a", "192.0.2.1", 2_000_000_000, "FAILED_ATTEMPTS")]
    routes = edge_render.routes(skeleton, keys, blocks, ["s1"], 600)
    bootstrap = yaml.safe_load(_render(tmp_path, [*UPSTREAMS, WEB_UI]))
    hcm = _hcm(bootstrap)
    del hcm["rds"]
    hcm["route_config"] = routes
    path = tmp_path / "static.yaml"
    path.write_text(yaml.safe_dump(bootstrap))
    (tmp_path / "jwks.json").write_text('{"keys":[{"kty":"oct","alg":"HS256","k":"c2VjcmV0"}]}')
    text = path.read_text().replace("/etc/envoy/jwks.json", str(tmp_path / "jwks.json"))
    path.write_text(text)
    result = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


RIVA = Upstream("nvidia.riva.asr.RivaSpeechRecognition", "riva", [("127.0.0.1", 18098)],
                also_serves=("nvidia.riva.tts.RivaSpeechSynthesis", "nvidia.riva.nmt.RivaTranslation"))


def test_a_cluster_serving_several_services_routes_each_with_its_streams() -> None:
    """Riva's three services route to the one riva cluster; their streaming methods (from Riva's descriptors,
    SynthesizeOnline included) get stream routes ahead of each service's prefix."""
    [vhost] = render_routes([*UPSTREAMS, RIVA])["virtual_hosts"]  # type: ignore[index]
    keys = [r["match"].get("prefix") or r["match"]["path"] for r in vhost["routes"]]
    routes = {k: r.get("route", {}) for k, r in zip(keys, vhost["routes"], strict=True)}
    for service in (RIVA.grpc_service, *RIVA.also_serves):
        assert routes[f"/{service}/"]["cluster"] == "riva"
    for stream in ("/nvidia.riva.asr.RivaSpeechRecognition/StreamingRecognize",
                   "/nvidia.riva.tts.RivaSpeechSynthesis/SynthesizeOnline"):
        assert routes[stream]["timeout"] == "0s" and "retry_policy" not in routes[stream]
        assert keys.index(stream) < keys.index(stream.rsplit("/", 1)[0] + "/")
    assert "/nvidia.riva.tts.RivaSpeechSynthesis/Synthesize" not in keys  # unary: the prefix route


def test_only_our_services_reach_the_transcoder_and_riva_is_health_checked(tmp_path: Path) -> None:
    """Riva's services (not in our descriptor, no HTTP bindings) stay out of the REST transcoder; the riva
    cluster is health-checked on its first service."""
    config = yaml.safe_load(_render(tmp_path, [*UPSTREAMS, RIVA]))
    [transcoder] = [f for f in _hcm(config)["http_filters"] if f["name"] == "envoy.filters.http.grpc_json_transcoder"]
    assert transcoder["typed_config"]["services"] == [u.grpc_service for u in UPSTREAMS]
    [riva] = [c for c in config["static_resources"]["clusters"] if c["name"] == "riva"]
    assert riva["health_checks"][0]["grpc_health_check"]["service_name"] == RIVA.grpc_service


@pytest.mark.skipif(not ENVOY.exists(), reason="envoy binary not installed in the venv")
@pytest.mark.skipif(not DESCRIPTOR.exists(), reason="descriptor not generated")
def test_real_envoy_accepts_a_config_with_the_riva_cluster(tmp_path: Path) -> None:
    """`envoy --mode validate` accepts the bootstrap with the riva cluster next to ours."""
    path = write_edge([*UPSTREAMS, RIVA], tmp_path / "envoy", "s" * 40, listen_port=18080, admin_port=19901,
                      access_log_path=tmp_path / "access.log")
    result = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_cli_upstream_joins_the_services_one_process_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--upstream a+b+c=host:port` (compose's riva line) is one cluster health-checked on a, routing a, b and c."""
    from deploy.local import envoy_config

    monkeypatch.setenv("AI4VC_JWT_SECRET", "s" * 40)
    names = "+".join((RIVA.grpc_service, *RIVA.also_serves))
    assert envoy_config.main(["--config-dir", str(tmp_path), "--upstream", "ai4vc.gateway.ControlPlane=gateway:8086",
                              "--upstream", f"{names}=riva:8098"]) == 0
    config = yaml.safe_load((tmp_path / "envoy.yaml").read_text())
    [riva] = [c for c in config["static_resources"]["clusters"] if c["name"] == "riva"]
    assert riva["health_checks"][0]["grpc_health_check"]["service_name"] == RIVA.grpc_service
    routes = json.loads((tmp_path / "routes.base.json").read_text())["virtual_hosts"][0]["routes"]
    prefixes = {r["match"].get("prefix"): r["route"]["cluster"] for r in routes if "route" in r}
    assert all(prefixes[f"/{s}/"] == "riva" for s in (RIVA.grpc_service, *RIVA.also_serves))


def test_client_limits_defaults_are_rendered(config: dict[str, Any]) -> None:
    """Slow and silent clients are bounded by default: headers within 10 s, idle streams cut at
    300 s, idle connections at an hour, 16 MiB buffered per connection, 1 MiB in flight per
    upstream stream, 50k connections in all."""
    hcm = _hcm(config)
    assert hcm["request_headers_timeout"] == "10s"
    assert hcm["stream_idle_timeout"] == "300s"
    assert hcm["common_http_protocol_options"]["idle_timeout"] == "3600s"
    [listener] = config["static_resources"]["listeners"]
    assert listener["per_connection_buffer_limit_bytes"] == 16 * 1024 * 1024
    [monitor] = config["overload_manager"]["resource_monitors"]
    assert monitor["name"] == "envoy.resource_monitors.global_downstream_max_connections"
    assert monitor["typed_config"]["max_active_downstream_connections"] == 50_000
    for cluster in config["static_resources"]["clusters"]:
        http2 = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        assert http2["explicit_http_config"]["http2_protocol_options"]["initial_stream_window_size"] == 1024 * 1024


def test_client_limits_come_from_the_environment(tmp_path: Path) -> None:
    """AI4VC_ENVOY_<LIMIT> variables set each limit; the rendered config carries them."""
    limits = ClientLimits.from_env({"AI4VC_ENVOY_REQUEST_HEADERS_TIMEOUT_S": "1.5",
                                    "AI4VC_ENVOY_STREAM_IDLE_TIMEOUT_S": "2",
                                    "AI4VC_ENVOY_MAX_DOWNSTREAM_CONNECTIONS": "100"})
    assert limits == ClientLimits(request_headers_timeout_s=1.5, stream_idle_timeout_s=2.0,
                                  max_downstream_connections=100)
    hcm = _hcm(yaml.safe_load(_render(tmp_path, limits=limits)))
    assert (hcm["request_headers_timeout"], hcm["stream_idle_timeout"]) == ("1.5s", "2s")


@pytest.mark.parametrize(("variable", "value"), [
    ("AI4VC_ENVOY_REQUEST_HEADERS_TIMEOUT_S", "ten"),
    ("AI4VC_ENVOY_STREAM_IDLE_TIMEOUT_S", "0"),
    ("AI4VC_ENVOY_MAX_DOWNSTREAM_CONNECTIONS", "-1"),
    ("AI4VC_ENVOY_PER_CONNECTION_BUFFER_LIMIT_BYTES", "1e6"),
    ("AI4VC_ENVOY_UPSTREAM_STREAM_WINDOW_BYTES", "1024"),
])
def test_bad_client_limits_fail_fast_naming_the_variable(variable: str, value: str) -> None:
    """A malformed, non-positive or out-of-range limit fails at render time, naming its variable."""
    with pytest.raises(ValueError, match=variable):
        ClientLimits.from_env({variable: value})


def test_access_log_paths_carry_no_query(config: dict[str, Any]) -> None:
    """The access log writes paths without their query string, where a credential may travel."""
    [log] = _hcm(config)["access_log"]
    fields = log["typed_config"]["log_format"]["json_format"]
    assert fields["path"] == "%PATH(NQ:ORIG_OR_PATH)%" and fields["grpc_path"] == "%PATH(NQ:PATH)%"
    assert not [v for v in fields.values() if "PATH" in str(v).upper() and "NQ" not in str(v)]


TELEMETRY = Upstream("ai4vc.telemetry.v1.TelemetryService", "telemetry", [("127.0.0.1", 18095)])


def test_envoy_samples_new_traces_at_the_mesh_ratio(tmp_path: Path) -> None:
    """Envoy's spans follow the OpenTelemetry parent-based sampler at the mesh's ratio. Without it,
    use_request_id_for_trace_sampling off makes Envoy count every request as sampled whatever
    random_sampling says: each call exported a span and passed a sampled traceparent on."""
    config = yaml.safe_load(render([*UPSTREAMS, TELEMETRY], listen_port=18080, admin_port=19901,
                                   access_log_path=tmp_path / "access.log", tracing_sample_ratio=0.1))
    tracer = _hcm(config)["tracing"]["provider"]["typed_config"]
    assert tracer["grpc_service"]["envoy_grpc"]["cluster_name"] == "telemetry"
    parent = tracer["sampler"]
    assert parent["name"] == "envoy.tracers.opentelemetry.samplers.parent_based"
    ratio = parent["typed_config"]["wrapped_sampler"]
    assert ratio["name"] == "envoy.tracers.opentelemetry.samplers.trace_id_ratio_based"
    assert ratio["typed_config"]["sampling_percentage"] == {"numerator": 100_000, "denominator": "MILLION"}


@pytest.mark.skipif(not ENVOY.exists(), reason="envoy binary not installed in the venv")
@pytest.mark.skipif(not DESCRIPTOR.exists(), reason="descriptor not generated")
def test_real_envoy_accepts_the_tracing_sampler(tmp_path: Path) -> None:
    """`envoy --mode validate` accepts the bootstrap with tracing (and its sampler extensions) on."""
    path = write_edge([*UPSTREAMS, TELEMETRY], tmp_path / "envoy", "s" * 40, listen_port=18080,
                      admin_port=19901, access_log_path=tmp_path / "access.log", tracing_sample_ratio=0.0)
    result = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
