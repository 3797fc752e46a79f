"""Alertmanager's configuration for the mesh: one route to the alerting service's webhook
receiver (which records alerts and fans them out to the users' signed webhooks), grouping by
rule and component, and the inhibitions — a component that is down silences its own
error-rate and latency alerts (they say nothing new while it is away).

Timings are data: `make up` uses Alertmanager's usual ones, the test mesh short ones
(`AI4VC_ALERTMANAGER_GROUP_WAIT` etc., read by `deploy.local.mesh`).
"""

from __future__ import annotations

import dataclasses

import yaml

RECEIVER = "ai4vc-alerting"


@dataclasses.dataclass(frozen=True)
class Timing:
    group_wait: str = "10s"
    group_interval: str = "1m"
    repeat_interval: str = "4h"
    resolve_timeout: str = "5m"


def render(webhook_url: str, timing: Timing = Timing()) -> str:
    config = {
        "global": {"resolve_timeout": timing.resolve_timeout},
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "component"],
            "group_wait": timing.group_wait,
            "group_interval": timing.group_interval,
            "repeat_interval": timing.repeat_interval,
        },
        "receivers": [{"name": RECEIVER, "webhook_configs": [
            {"url": webhook_url, "send_resolved": True, "max_alerts": 0}]}],
        "inhibit_rules": [{
            "source_matchers": ['ai4vc_kind="service_down"'],
            "target_matchers": ['ai4vc_kind=~"error_rate|latency_p99"'],
            "equal": ["component"],
        }],
    }
    return yaml.safe_dump(config, sort_keys=False, width=1000)
