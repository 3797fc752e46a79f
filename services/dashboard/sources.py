"""Where the overview's figures come from: gRPC (or HTTP) health checks of every replica,
Prometheus's query API, Alertmanager's v2 API, Triton's repository index and the metrics
service's QueryUsage. Each call carries the deadline it is given; none retries (the overview is
recomputed every few seconds anyway)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import grpc
import httpx
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ai4vc.metrics.v1 import metrics_service_pb2 as metrics_pb
from ai4vc.metrics.v1 import metrics_service_pb2_grpc as metrics_grpc
from services.common.backends.triton import TritonAdapter
from services.common.rpc import tls
from services.dashboard.core import NOT_SERVING, SERVING, UNREACHABLE, Alert, KeyUsage, Model
from services.dashboard.settings import Target

# Pages of 1000 keys read at most (the top keys of a day with more are cut there).
MAX_USAGE_PAGES = 10


class Channels:
    """One gRPC channel per address, kept for the service's life."""

    def __init__(self, mesh_tls: tls.MeshTlsSettings | None = None) -> None:
        # Mesh mTLS: the dashboard's own certificate, for services that take no other (rpc/tls.py).
        self.mesh_tls = mesh_tls
        self._channels: dict[str, grpc.aio.Channel] = {}

    def get(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = (tls.aio_channel(address, self.mesh_tls) if self.mesh_tls is not None
                                       else grpc.aio.insecure_channel(address))
        return self._channels[address]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


class HealthChecks:
    def __init__(self, channels: Channels, http: httpx.AsyncClient) -> None:
        self.channels = channels
        self.http = http

    async def check(self, target: Target, timeout_s: float) -> str:
        try:
            if target.kind == "http":
                answer = await self.http.get(f"http://{target.address}{target.check}", timeout=timeout_s)
                return SERVING if answer.status_code == 200 else NOT_SERVING
            stub = health_pb2_grpc.HealthStub(self.channels.get(target.address))
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=target.check), timeout=timeout_s)
        except grpc.aio.AioRpcError as err:
            # NOT_FOUND: the server answers, but does not serve that name.
            return NOT_SERVING if err.code() == grpc.StatusCode.NOT_FOUND else UNREACHABLE
        except (httpx.HTTPError, OSError):
            return UNREACHABLE
        return SERVING if reply.status == health_pb2.HealthCheckResponse.SERVING else NOT_SERVING


class PrometheusApi:
    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url.rstrip("/")
        self.http = http

    async def query(self, expr: str, timeout_s: float) -> list[tuple[dict[str, str], float]]:
        # Prometheus durations take no fractions ("2.0s" is a 400): milliseconds.
        timeout = f"{max(1, round(timeout_s * 1000))}ms"
        answer = await self.http.get(f"{self.url}/api/v1/query", params={"query": expr, "timeout": timeout},
                                     timeout=timeout_s)
        answer.raise_for_status()
        body = answer.json()
        if body.get("status") != "success" or body["data"]["resultType"] != "vector":
            raise RuntimeError(f"query failed: {body.get('error', body.get('status'))}")
        return [(dict(item["metric"]), float(item["value"][1])) for item in body["data"]["result"]]


def _instant(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


class AlertmanagerApi:
    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url.rstrip("/")
        self.http = http

    async def firing(self, timeout_s: float) -> list[Alert]:
        answer = await self.http.get(f"{self.url}/api/v2/alerts",
                                     params={"active": "true", "silenced": "false", "inhibited": "false"},
                                     timeout=timeout_s)
        answer.raise_for_status()
        alerts = []
        for item in answer.json():
            labels: dict[str, str] = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
            annotations: dict[str, Any] = item.get("annotations") or {}
            alerts.append(Alert(labels.get("alertname", ""), labels.get("severity", ""),
                                str(annotations.get("summary", "")), _instant(item.get("startsAt", "")),
                                "alertmanager", labels))
        return alerts


class TritonModels:
    def __init__(self, adapter: TritonAdapter) -> None:
        self.adapter = adapter

    async def models(self, timeout_s: float) -> list[Model]:
        index = await self.adapter.repository_index(timeout_s=timeout_s)
        models = [Model(str(m.get("name", "")), str(m.get("version", "")), m.get("state") == "READY",
                        str(m.get("state", "")), str(m.get("reason", ""))) for m in index]
        return sorted(models, key=lambda m: (m.name, m.version))


def _ts(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


class MetricsUsage:
    def __init__(self, channels: Channels, target: str) -> None:
        self.stub = metrics_grpc.MetricsServiceStub(channels.get(target))

    async def top_keys(self, forward: Sequence[tuple[str, str]], day_start: datetime.datetime,
                       timeout_s: float) -> list[KeyUsage]:
        deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=timeout_s)
        request = metrics_pb.QueryUsageRequest(
            start_time=_ts(day_start), end_time=_ts(day_start + datetime.timedelta(days=1)),
            granularity=metrics_pb.USAGE_GRANULARITY_DAY, group_by=["key_id"], page_size=1000)
        keys: dict[str, KeyUsage] = {}
        for _ in range(MAX_USAGE_PAGES):
            left = (deadline - datetime.datetime.now(datetime.UTC)).total_seconds()
            if left <= 0:
                raise TimeoutError
            answer = await self.stub.QueryUsage(request, timeout=left, metadata=tuple(forward))
            for row in answer.rows:
                t = row.totals
                seen = keys.get(row.key_id)
                keys[row.key_id] = KeyUsage(
                    row.key_id, t.request_count + (seen.request_count if seen else 0),
                    t.error_count + (seen.error_count if seen else 0), t.characters + (seen.characters if seen else 0),
                    t.audio_seconds + (seen.audio_seconds if seen else 0.0))
            if not answer.next_page_token:
                break
            request.page_token = answer.next_page_token
        return list(keys.values())
