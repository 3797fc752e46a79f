"""Prometheus's configuration for the mesh: the scrape targets (every service replica's metrics
port, Triton's metrics, Envoy's admin `/stats/prometheus`) and the recording rules — RED per
gRPC method, open streams — in one place.

The rules are data here, rendered for the local Prometheus (`deploy.local.parts.Prometheus`) and
written once to `deploy/compose/prometheus/rules.yml` for compose (`python -m
deploy.local.prometheus_config --rules deploy/compose/prometheus/rules.yml`; a unit test fails
when that file drifts). Grafana's dashboards use the recorded names.

Target labels are `component` (our process: "nmt", "gateway", ...) and `replica`, not
`service`: our RED metrics carry a `service` label of their own, which a target label of the
same name would rename to `exported_service`.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

COMPOSE_RULES = Path(__file__).resolve().parents[1] / "compose" / "prometheus" / "rules.yml"

_BY = "service, grpc_method, grpc_type"
RECORDING_RULES: list[dict[str, Any]] = [
    {"name": "ai4vc-red", "rules": [
        # Rate: completed RPCs per second, per method.
        {"record": "ai4vc:grpc_requests:rate1m",
         "expr": f"sum by ({_BY}) (rate(grpc_server_handled_total[1m]))"},
        # Errors: RPCs that ended with any code but OK, per method and code.
        {"record": "ai4vc:grpc_errors:rate1m",
         "expr": f"sum by ({_BY}, grpc_code) (rate(grpc_server_handled_total{{grpc_code!=\"OK\"}}[1m]))"},
        # Error ratio per method: 0 (not absent) for a method with traffic and no errors.
        {"record": "ai4vc:grpc_error_ratio:rate1m",
         "expr": f"(sum by ({_BY}) (rate(grpc_server_handled_total{{grpc_code!=\"OK\"}}[1m]))"
                 f" or sum by ({_BY}) (rate(grpc_server_handled_total[1m])) * 0)"
                 f" / sum by ({_BY}) (rate(grpc_server_handled_total[1m]))"},
        # Duration: latency quantiles per method.
        *({"record": f"ai4vc:grpc_latency_seconds:p{q}_1m",
           "expr": f"histogram_quantile(0.{q}, sum by ({_BY}, le) (rate(grpc_server_handling_seconds_bucket[1m])))"}
          for q in ("50", "95", "99")),
        {"record": "ai4vc:grpc_in_flight",
         "expr": f"sum by ({_BY}) (grpc_server_in_flight)"},
    ]},
    {"name": "ai4vc-streams", "rules": [
        # Streams open now (server, client and bidi streaming RPCs), per method.
        {"record": "ai4vc:grpc_open_streams",
         "expr": f"sum by ({_BY}) (grpc_server_in_flight{{grpc_type!=\"unary\"}})"},
        {"record": "ai4vc:grpc_streams_started:rate1m",
         "expr": f"sum by ({_BY}) (rate(grpc_server_started_total{{grpc_type!=\"unary\"}}[1m]))"},
        # Browser sessions on the WebSocket bridge, per route.
        {"record": "ai4vc:ws_open_sessions",
         "expr": "sum by (route) (ws_bridge_sessions_in_flight)"},
    ]},
    {"name": "ai4vc-usage", "rules": [
        # Counted by the metrics service from the events (its rollups in PostgreSQL are the record).
        {"record": "ai4vc:usage_requests:rate5m",
         "expr": "sum by (service, language_code) (rate(metrics_usage_requests_total[5m]))"},
        {"record": "ai4vc:usage_characters:rate5m",
         "expr": "sum by (service, language_code) (rate(metrics_usage_characters_total[5m]))"},
        {"record": "ai4vc:usage_audio_seconds:rate5m",
         "expr": "sum by (service, language_code) (rate(metrics_usage_audio_seconds_total[5m]))"},
    ]},
    {"name": "ai4vc-triton", "rules": [
        {"record": "ai4vc:triton_inference_requests:rate1m",
         "expr": "sum by (model, version) (rate(nv_inference_request_success[1m]))"},
        {"record": "ai4vc:triton_inference_failures:rate1m",
         "expr": "sum by (model, version) (rate(nv_inference_request_failure[1m]))"},
    ]},
]


def recorded_names() -> set[str]:
    return {rule["record"] for group in RECORDING_RULES for rule in group["rules"]}


@dataclasses.dataclass(frozen=True)
class Target:
    """One scrape target: a job, host:port, the path, and the target's own labels."""

    job: str
    address: str
    metrics_path: str = "/metrics"
    labels: tuple[tuple[str, str], ...] = ()


def render_rules() -> str:
    return yaml.safe_dump({"groups": RECORDING_RULES}, sort_keys=False, width=1000)


def render(targets: Sequence[Target], rules_path: Path, scrape_interval_s: int = 5,
           alert_rules_dir: Path | None = None, alertmanager: str = "") -> str:
    """prometheus.yml: one scrape job per (job, path), one static config per target; the alerting
    service's rule files (`alert_rules_dir/*.yml`) and the Alertmanager (host:port) alerts go to."""
    jobs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for target in targets:
        jobs.setdefault((target.job, target.metrics_path), []).append(
            {"targets": [target.address], "labels": dict(target.labels)})
    config: dict[str, Any] = {
        "global": {"scrape_interval": f"{scrape_interval_s}s", "evaluation_interval": f"{scrape_interval_s}s",
                   "scrape_timeout": f"{max(scrape_interval_s - 1, 1)}s"},
        "rule_files": [str(rules_path), *([str(alert_rules_dir / "*.yml")] if alert_rules_dir else [])],
        "scrape_configs": [{"job_name": job, "metrics_path": path, "static_configs": statics}
                           for (job, path), statics in jobs.items()],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return yaml.safe_dump(config, sort_keys=False, width=1000)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the recording rules (for compose).")
    parser.add_argument("--rules", type=Path, default=COMPOSE_RULES)
    args = parser.parse_args(argv)
    args.rules.parent.mkdir(parents=True, exist_ok=True)
    args.rules.write_text(render_rules())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
