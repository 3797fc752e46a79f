"""The rendered TLS parts of the Envoy config: the public listener's DownstreamTlsContext (TLS only,
ALPN h2 + http/1.1, TLS >= 1.2), the gRPC clusters' UpstreamTlsContext for mesh mTLS (client
certificate, CA, the cluster's name as SAN), nothing of either by default, the CLI's flags, and
Envoy's own validation of a TLS config on the real binary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.local import envoy_config
from deploy.local.envoy_config import EdgeTls, Upstream, UpstreamTls, render, write_edge
from deploy.local.tls import LocalCa

ENVOY = Path(sys.executable).parent / "envoy"
UPSTREAMS = [
    Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", 18089)]),
    Upstream("ai4vc.auth.v1.AuthService", "auth", [("127.0.0.1", 18081)]),
    Upstream("ai4vc.tts.v1.TtsService", "tts", [("127.0.0.1", 18088)], mtls=False),
    Upstream("/v1/ws/", "wsbridge", [("127.0.0.1", 18092)], kind="websocket"),
]
EDGE = EdgeTls(Path("/certs/edge.pem"), Path("/certs/edge.key"))
MESH = UpstreamTls(Path("/certs/envoy.pem"), Path("/certs/envoy.key"), Path("/certs/ca.pem"))


def _config(tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    text = render(UPSTREAMS, listen_port=18080, admin_port=19901, access_log_path=tmp_path / "a.log", **kwargs)
    config: dict[str, Any] = yaml.safe_load(text)
    return config


def _chain(config: dict[str, Any]) -> dict[str, Any]:
    [listener] = config["static_resources"]["listeners"]
    [chain] = listener["filter_chains"]
    return dict(chain)


def _clusters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in config["static_resources"]["clusters"]}


def test_no_tls_anywhere_by_default(tmp_path: Path) -> None:
    """Without certificates the listener and every cluster stay plaintext, as `make up` always ran."""
    config = _config(tmp_path)
    assert "transport_socket" not in _chain(config)
    assert all("transport_socket" not in c for c in _clusters(config).values())


def test_listener_speaks_tls_only_with_h2_and_http11(tmp_path: Path) -> None:
    """With edge_tls the one filter chain has the TLS socket (no plaintext chain beside it), ALPN
    h2 + http/1.1, TLS 1.2 at least, and the given certificate files."""
    config = _config(tmp_path, edge_tls=EDGE)
    [listener] = config["static_resources"]["listeners"]
    assert len(listener["filter_chains"]) == 1
    socket = _chain(config)["transport_socket"]
    assert socket["name"] == "envoy.transport_sockets.tls"
    context = socket["typed_config"]
    assert context["@type"].endswith("DownstreamTlsContext")
    common = context["common_tls_context"]
    assert common["alpn_protocols"] == ["h2", "http/1.1"]
    assert common["tls_params"]["tls_minimum_protocol_version"] == "TLSv1_2"
    [sds] = common["tls_certificate_sds_secret_configs"]
    assert sds["name"] == "edge"
    assert sds["sds_config"]["path_config_source"] == {"path": "/etc/envoy/secrets/edge.json",
                                                       "watched_directory": {"path": "/etc/envoy/secrets"}}
    # The same HTTP filters as in the clear: TLS changes the socket, not the policy.
    def filters(chain: dict[str, Any]) -> list[str]:
        return [f["name"] for f in chain["filters"][0]["typed_config"]["http_filters"]]
    assert filters(_chain(config)) == filters(_chain(_config(tmp_path)))


def test_grpc_clusters_use_mtls_and_check_the_services_name(tmp_path: Path) -> None:
    """With upstream_tls each gRPC cluster shows Envoy's certificate, trusts the mesh CA, requires
    the cluster's name as DNS SAN and offers h2; an upstream marked mtls=False and the WebSocket
    bridge stay plaintext; the health check rides the same socket (no socket of its own)."""
    clusters = _clusters(_config(tmp_path, upstream_tls=MESH))
    for name in ("nmt", "auth"):
        socket = clusters[name]["transport_socket"]
        context = socket["typed_config"]
        assert context["@type"].endswith("UpstreamTlsContext")
        assert context["sni"] == name
        common = context["common_tls_context"]
        assert common["alpn_protocols"] == ["h2"]
        assert common["tls_certificates"] == [{"certificate_chain": {"filename": str(MESH.cert)},
                                               "private_key": {"filename": str(MESH.key)}}]
        assert common["validation_context"]["trusted_ca"] == {"filename": str(MESH.ca)}
        assert common["validation_context"]["match_typed_subject_alt_names"] == [
            {"san_type": "DNS", "matcher": {"exact": name}}]
        assert "transport_socket_match_criteria" not in clusters[name]["health_checks"][0]
    assert "transport_socket" not in clusters["tts"]
    assert "transport_socket" not in clusters["wsbridge"]


def test_cli_takes_the_edge_certificate_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AI4VC_EDGE_TLS_CERT / _KEY (compose) turn on TLS in `python -m deploy.local.envoy_config`, and
    AI4VC_ENVOY_MTLS_CERT / _KEY / _CA mTLS to every gRPC upstream."""
    monkeypatch.setenv("AI4VC_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("AI4VC_EDGE_TLS_CERT", "/run/secrets/edge.pem")
    monkeypatch.setenv("AI4VC_EDGE_TLS_KEY", "/run/secrets/edge.key")
    for part in ("CERT", "KEY", "CA"):
        monkeypatch.setenv(f"AI4VC_ENVOY_MTLS_{part}", f"/run/secrets/envoy.{part.lower()}")
    assert envoy_config.main(["--config-dir", str(tmp_path), "--upstream", "ai4vc.nmt.v1.NmtService=nmt:8089"]) == 0
    config = yaml.safe_load((tmp_path / "envoy.yaml").read_text())
    assert "transport_socket" in _chain(config)
    secret = json.loads((tmp_path / "secrets" / "edge.json").read_text())["resources"][0]["tls_certificate"]
    assert secret["certificate_chain"]["filename"] == "/run/secrets/edge.pem"
    assert secret["private_key"]["filename"] == "/run/secrets/edge.key"
    nmt = _clusters(config)["nmt"]["transport_socket"]["typed_config"]["common_tls_context"]
    assert nmt["validation_context"]["trusted_ca"]["filename"] == "/run/secrets/envoy.ca"


def test_cli_keeps_named_upstreams_plaintext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--plaintext-upstream nmt keeps that cluster in the clear while the others use mTLS."""
    monkeypatch.setenv("AI4VC_JWT_SECRET", "s" * 40)
    for part in ("CERT", "KEY", "CA"):
        monkeypatch.setenv(f"AI4VC_ENVOY_MTLS_{part}", f"/run/secrets/envoy.{part.lower()}")
    assert envoy_config.main(["--config-dir", str(tmp_path), "--upstream", "ai4vc.nmt.v1.NmtService=nmt:8089",
                              "--upstream", "ai4vc.auth.v1.AuthService=auth:8081",
                              "--plaintext-upstream", "nmt"]) == 0
    clusters = _clusters(yaml.safe_load((tmp_path / "envoy.yaml").read_text()))
    assert "transport_socket" not in clusters["nmt"]
    assert "transport_socket" in clusters["auth"]


def test_cli_refuses_half_a_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate without its key is an error at render time, not a plaintext edge."""
    monkeypatch.setenv("AI4VC_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("AI4VC_EDGE_TLS_CERT", "/run/secrets/edge.pem")
    monkeypatch.delenv("AI4VC_EDGE_TLS_KEY", raising=False)
    with pytest.raises(SystemExit):
        envoy_config.main(["--config-dir", str(tmp_path), "--upstream", "ai4vc.nmt.v1.NmtService=nmt:8089"])


@pytest.mark.skipif(not ENVOY.exists(), reason="envoy binary not installed in the venv")
def test_real_envoy_accepts_the_tls_config(tmp_path: Path) -> None:
    """`envoy --mode validate` loads the listener's and clusters' TLS with certificates the local CA issued."""
    ca = LocalCa(tmp_path / "tls")
    edge, client = ca.edge(), ca.envoy_client()
    path = write_edge(UPSTREAMS, tmp_path / "envoy", "s" * 40, listen_port=18080, admin_port=19901,
                      access_log_path=tmp_path / "a.log", edge_tls=EdgeTls(edge.cert, edge.key),
                      upstream_tls=UpstreamTls(client.cert, client.key, ca.cert_path))
    result = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_edge_secret_names_the_files_and_watches_their_directory() -> None:
    """The SDS document: one Secret `edge` with the PEM files, their directory watched (renewal by rename)."""
    [secret] = envoy_config.edge_secret(EDGE)["resources"]
    assert secret["@type"].endswith("tls.v3.Secret") and secret["name"] == "edge"
    assert secret["tls_certificate"] == {"certificate_chain": {"filename": "/certs/edge.pem"},
                                         "private_key": {"filename": "/certs/edge.key"},
                                         "watched_directory": {"path": "/certs"}}
