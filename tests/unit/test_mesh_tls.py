"""How the launcher wires TLS into a mesh it has not started: the edge URL its own callers get, the
per-service mesh TLS settings (plaintext set included), the launcher's probe, and the state file
`make down` / `make key` read back. Nothing is started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.local.envoy_config import EdgeTls
from deploy.local.mesh import MTLS_PLAINTEXT, SERVICES, Mesh, Ports


def _mesh(tmp_path: Path, **kwargs: object) -> Mesh:
    # The passwords service_env reads (PostgreSQL and Redis write them when they start).
    for part in ("postgres", "redis"):
        (tmp_path / part).mkdir(parents=True, exist_ok=True)
        (tmp_path / part / "password").write_text("pw\n")
    mesh = Mesh(tmp_path, Ports.offset(0), **kwargs)  # type: ignore[arg-type]
    mesh.services = mesh._build_services()
    return mesh


def _env(mesh: Mesh, name: str) -> dict[str, str]:
    [service] = [s for s in mesh.services if s.name == name]
    return service.env


def test_default_mesh_has_no_tls_settings(tmp_path: Path) -> None:
    """Without TLS=1 / MTLS=1 nothing TLS reaches a service and the edge URL is http, as before."""
    mesh = _mesh(tmp_path)
    assert mesh.edge_url == "http://127.0.0.1:8080"
    assert mesh.edge_tls_files() is None and mesh.upstream_tls_files() is None
    for service in mesh.services:
        assert not any("MESH_TLS" in key for key in service.env if key.startswith("AI4VC_")), service.name
        assert service.tls_files == ()
    assert _env(mesh, "dashboard").get("SSL_CERT_FILE") != str(mesh.ca.cert_path)
    assert not (tmp_path / "tls").exists()


def test_edge_tls_gives_the_mesh_an_https_edge(tmp_path: Path) -> None:
    """With edge TLS the dashboard's relay and ULCA's callbackUrl get https and the dashboard trusts the local CA."""
    mesh = _mesh(tmp_path, edge_tls=True)
    assert mesh.edge_url == "https://127.0.0.1:8080"
    files = mesh.edge_tls_files()
    assert files is not None and files.cert == tmp_path / "tls" / "edge.pem"
    assert _env(mesh, "dashboard")["AI4VC_DASHBOARD_EDGE_URL"] == "https://127.0.0.1:8080"
    assert _env(mesh, "dashboard")["SSL_CERT_FILE"] == str(tmp_path / "tls" / "ca.pem")
    assert _env(mesh, "ulca")["AI4VC_ULCA_PUBLIC_URL"] == "https://127.0.0.1:8080"


def test_an_operators_certificate_is_used_as_given(tmp_path: Path) -> None:
    """AI4VC_EDGE_TLS_CERT/_KEY: Envoy gets those files; no local CA is made and none is claimed."""
    mine = EdgeTls(tmp_path / "mine.pem", tmp_path / "mine.key")
    mesh = _mesh(tmp_path / "run", edge_cert=mine)
    assert mesh.edge_tls and mesh.edge_tls_files() == mine
    assert mesh.edge_ca is None
    assert not (tmp_path / "run" / "tls").exists()


def test_mtls_gives_each_service_its_certificate_and_the_plaintext_list(tmp_path: Path) -> None:
    """MTLS=1: every service gets its own certificate, key and the CA; MTLS_PLAINTEXT's keep a plaintext
    server; every process is told their addresses; the launcher probes the others with a certificate."""
    mesh = _mesh(tmp_path, mesh_mtls=True)
    plaintext = {f"127.0.0.1:{s.port}" for s in mesh.services if s.name in MTLS_PLAINTEXT}
    for service in mesh.services:
        prefix = f"AI4VC_{service.name.upper()}_MESH_TLS"
        assert service.env[f"{prefix}_CERT"] == str(tmp_path / "tls" / "services" / f"{service.name}.pem")
        assert service.env[f"{prefix}_CA"] == str(tmp_path / "tls" / "ca.pem")
        assert service.env[f"{prefix}_SERVER"] == ("false" if service.name in MTLS_PLAINTEXT else "true")
        assert set(filter(None, service.env["AI4VC_MESH_TLS_PLAINTEXT"].split(","))) == plaintext
        probes_with_tls = bool(service.tls_files)
        assert probes_with_tls == (service.name not in MTLS_PLAINTEXT and SERVICES[service.name].kind != "websocket")
    clusters = {u.cluster: u.mtls for u in mesh.upstreams()}
    assert all(clusters[name] is False for name in MTLS_PLAINTEXT)
    assert all(clusters[name] is True for name in set(clusters) - MTLS_PLAINTEXT
               if SERVICES.get(name) and SERVICES[name].kind == "grpc")
    assert clusters["auth"] is True and clusters["asr"] is True


@pytest.mark.parametrize("kwargs", [{"edge_tls": True, "mesh_mtls": True}, {}])
def test_state_file_brings_the_tls_choice_back(tmp_path: Path, kwargs: dict[str, bool]) -> None:
    """`make down` / `make key` rebuild the mesh from mesh.json with the same TLS choice (so the same env)."""
    mesh = _mesh(tmp_path, **kwargs)
    (tmp_path / "mesh.json").write_text(json.dumps(mesh.describe()))
    again = Mesh.from_state(tmp_path)
    assert (again.edge_tls, again.mesh_mtls, again.edge_url) == (mesh.edge_tls, mesh.mesh_mtls, mesh.edge_url)


def test_up_refuses_to_change_tls_on_a_running_mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`make up TLS=1` over a mesh started without TLS says `make down` first and starts nothing
    (a running Envoy would keep its plaintext listener while the printout said TLS)."""
    from deploy.local.__main__ import main

    (tmp_path / "mesh.json").write_text(json.dumps({"edge_tls": False, "mesh_mtls": False}))
    monkeypatch.setenv("AI4VC_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("AI4VC_EDGE_TLS", "1")
    assert main(["up"]) == 1
    assert "make down` first" in capsys.readouterr().err
    assert not (tmp_path / "tls").exists() and not (tmp_path / "logs").exists()
