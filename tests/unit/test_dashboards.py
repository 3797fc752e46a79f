"""Grafana dashboards as code (deploy/compose/grafana) are valid dashboard JSON, provisioned in
compose, and every panel's PromQL names only metrics that exist: what our processes define
(prometheus_client constructors in services/ and gateway/), our recording rules, Triton's nv_*
names, Envoy's own stats and Prometheus's own `up`; compose's rules file is the one the launcher renders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from deploy.local import prometheus_config

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "compose" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
REQUIRED = {"overview", "service-red", "streams", "triton", "usage-by-language"}
# Triton 2.x metric names (measured on the CPU tritonserver 2.51; nv_gpu_* and nv_energy_* are
# exported by GPU servers only, per Triton's metrics documentation).
TRITON = {
    "nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count", "nv_inference_exec_count",
    "nv_inference_request_duration_us", "nv_inference_queue_duration_us", "nv_inference_compute_input_duration_us",
    "nv_inference_compute_infer_duration_us", "nv_inference_compute_output_duration_us",
    "nv_inference_pending_request_count", "nv_cpu_utilization", "nv_cpu_memory_total_bytes",
    "nv_cpu_memory_used_bytes", "nv_pinned_memory_pool_total_bytes", "nv_pinned_memory_pool_used_bytes",
    "nv_gpu_utilization", "nv_gpu_memory_total_bytes", "nv_gpu_memory_used_bytes", "nv_gpu_power_usage",
    "nv_gpu_power_limit", "nv_energy_consumption",
}
# Envoy's own stats on /stats/prometheus, read off Envoy 1.40 running the edge (`make up`, one
# refused key, one wrong scope, one rate-limited call).
ENVOY = {
    "envoy_http_basic_auth_allowed", "envoy_http_basic_auth_denied", "envoy_http_jwt_authn_allowed",
    "envoy_http_jwt_authn_denied", "envoy_http_rbac_allowed", "envoy_http_rbac_denied",
    "envoy_http_local_rate_limit_ok", "envoy_http_local_rate_limit_rate_limited", "envoy_http_downstream_rq_xx",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "inf", "nan"}
_CONSTRUCTOR = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")


def exposed_metrics() -> set[str]:
    """The sample names our processes can expose, from the prometheus_client constructors."""
    names = {"up"}
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "gateway").rglob("*.py")]:
        for kind, name in _CONSTRUCTOR.findall(path.read_text()):
            if kind == "Counter":
                names.add(name if name.endswith("_total") else f"{name}_total")
            elif kind in ("Histogram", "Summary"):
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            else:
                names.add(name)
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (strings, label matchers, ranges, groupings removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if not call and name.lower() not in PROMQL_WORDS:
            found.add(name)
    return found


def test_metric_name_extraction():
    """The extractor finds selected metrics and skips functions, labels, ranges and keywords."""
    expr = ('histogram_quantile(0.95, sum by (route, le) (rate(ws_bridge_session_seconds_bucket{route="/v1/ws"}[5m])))'
            " / ignoring(x) ai4vc:grpc_requests:rate1m > bool 0")
    assert metric_names(expr) == {"ws_bridge_session_seconds_bucket", "ai4vc:grpc_requests:rate1m"}


def test_every_required_dashboard_is_there():
    """Overview, per-service RED, streams, Triton and usage by language exist, with unique uids."""
    assert {p.stem for p in DASHBOARDS} >= REQUIRED
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_is_valid_and_names_existing_metrics(path: Path):
    """Grafana dashboard JSON (uid, title, schemaVersion, panels with ids, grid positions, Prometheus targets), and
    every PromQL expression names only metrics that exist."""
    board = json.loads(path.read_text())
    assert isinstance(board["uid"], str) and 0 < len(board["uid"]) <= 40
    assert board["title"] and isinstance(board["schemaVersion"], int) and board["panels"]
    known = exposed_metrics() | prometheus_config.recorded_names() | TRITON | ENVOY
    ids = [panel["id"] for panel in board["panels"]]
    assert len(set(ids)) == len(ids)
    variables = {v["name"] for v in board.get("templating", {}).get("list", [])}
    for panel in board["panels"]:
        assert panel["type"] in {"timeseries", "stat", "gauge", "bargauge", "table", "heatmap"}, panel["title"]
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h")) and grid["x"] + grid["w"] <= 24
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.strip() and target["refId"]
            assert set(re.findall(r"\$(\w+)", expr)) <= variables, (panel["title"], expr)
            unknown = metric_names(expr) - known
            assert not unknown, f"{path.name} / {panel['title']}: {sorted(unknown)} not exposed by anything"


def test_grafana_is_provisioned_in_compose():
    """The compose file mounts the dashboards and the provisioning, whose datasource uid the panels use."""
    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "observability.yaml").read_text())
    volumes = compose["services"]["grafana"]["volumes"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in volumes
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert [s["uid"] for s in sources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "ai4vc.yaml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_compose_rules_are_the_rendered_rules():
    """deploy/compose/prometheus/rules.yml is what prometheus_config renders (regenerate it with
    `python -m deploy.local.prometheus_config`)."""
    assert prometheus_config.COMPOSE_RULES.read_text() == prometheus_config.render_rules()


def test_rules_name_existing_metrics():
    """Every recording rule selects metrics our processes (or Triton, or earlier rules) expose."""
    known = exposed_metrics() | prometheus_config.recorded_names() | TRITON | ENVOY
    for group in prometheus_config.RECORDING_RULES:
        for rule in group["rules"]:
            assert not metric_names(rule["expr"]) - known, rule
