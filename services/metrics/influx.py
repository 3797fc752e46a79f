"""Optional InfluxDB 1.x sink: every rollup row a batch changed is written as one line-protocol
point (measurement `ai4vc_usage_minute` or `ai4vc_usage_day`, tags = the row's dimensions,
fields = its totals, timestamp = the bucket start, in seconds).

A point carries the row's running totals, not the batch's increment, and InfluxDB replaces a
point with the same measurement, tags and time — so writing a row again (a retried write, a
replayed batch) is idempotent. The sink is best effort and after the commit: PostgreSQL holds
the rollups; a write InfluxDB did not take is logged and counted, never retried into the ingest
loop's way. Off unless `AI4VC_METRICS_INFLUX_URL` is set.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import httpx
from prometheus_client import CollectorRegistry, Counter

from services.metrics.records import Rollup

log = logging.getLogger(__name__)
MEASUREMENTS = {"minute": "ai4vc_usage_minute", "day": "ai4vc_usage_day"}


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ").replace(
        "\n", "\\n")


def line(rollup: Rollup) -> str:
    """The line-protocol point of one rollup row. Empty tag values are left out (InfluxDB
    refuses them), the same way for every write of the row."""
    tags = "".join(f",{name}={_escape_tag(value)}"
                   for name, value in sorted(dataclasses.asdict(rollup.key).items()) if value)
    counts = rollup.counts
    fields = [f"request_count={counts.request_count}i", f"characters={counts.characters}i",
              f"audio_seconds={float(counts.audio_seconds)!r}", f"metered_characters={counts.metered_characters}i",
              f"metered_audio_seconds={float(counts.metered_audio_seconds)!r}",
              f"latency_seconds={float(counts.latency_seconds)!r}"]
    fields += [f"latency_bucket_{i}={n}i" for i, n in enumerate(counts.latency_buckets)]
    return f"{MEASUREMENTS[rollup.granularity]}{tags} {','.join(fields)} {int(rollup.bucket_start.timestamp())}"


class InfluxSink:
    def __init__(self, url: str, database: str, timeout_s: float = 2.0,
                 registry: CollectorRegistry | None = None) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self.written = Counter("metrics_influx_points_written_total", "Rollup points InfluxDB took.",
                               registry=registry)
        self.failures = Counter("metrics_influx_write_failures_total", "Writes InfluxDB did not take.",
                                registry=registry)

    async def ensure_database(self) -> None:
        """Creates the database if missing (`CREATE DATABASE` is a no-op when it exists)."""
        answer = await self._client.post(f"{self.url}/query", data={"q": f'CREATE DATABASE "{self.database}"'})
        answer.raise_for_status()

    async def write(self, rollups: Sequence[Rollup]) -> bool:
        """Writes the rows; False (logged, counted) when InfluxDB did not take them."""
        if not rollups:
            return True
        body = "\n".join(line(r) for r in rollups).encode()
        try:
            answer = await self._client.post(f"{self.url}/write", params={"db": self.database, "precision": "s"},
                                             content=body)
            if answer.status_code == 404:  # database missing (InfluxDB restarted empty): make it, once more
                await self.ensure_database()
                answer = await self._client.post(f"{self.url}/write",
                                                 params={"db": self.database, "precision": "s"}, content=body)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            self.failures.inc()
            log.warning("InfluxDB write failed", extra={"error": repr(exc)[:300], "points": len(rollups)})
            return False
        self.written.inc(len(rollups))
        return True

    async def close(self) -> None:
        await self._client.aclose()
