"""Outgoing webhooks: each row of `webhook_deliveries` is POSTed until its receiver answers 2xx,
signed so the receiver can tell the body came from us and is fresh, retried with capped,
fully jittered exponential backoff. Rows stay in PostgreSQL until delivered, so a restart (or a
receiver away for a day) loses nothing; a claim pushes a row's next attempt past the attempt's
own timeout, so replicas never send a row side by side.

Signature: `x-ai4vc-signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>` with
`x-ai4vc-timestamp: <unix seconds>`; receivers should refuse timestamps far from their clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time

import asyncpg
import httpx

from services.alerting import records
from services.alerting.settings import AlertingSettings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "x-ai4vc-signature"
TIMESTAMP_HEADER = "x-ai4vc-timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (used by the tests; a receiver in Python may copy it)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff_s(attempts: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [base, min(cap, base · 2^attempts)]."""
    ceiling = min(cap_s, base_s * (2 ** min(attempts, 30)))
    return (rng or random).uniform(base_s, max(base_s, ceiling))


class Dispatcher:
    def __init__(self, settings: AlertingSettings, pool: asyncpg.Pool, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.pool = pool
        self.http = http
        self.sent = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="alerting-webhooks")

    def wake(self) -> None:
        """New deliveries were committed: look now rather than at the next poll."""
        self._wake.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        while True:
            try:
                busy = await self.once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - database away: keep trying
                log.warning("webhook dispatch failed: %s", type(exc).__name__)
                busy = 0
            if not busy:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.delivery_poll_s)

    async def once(self) -> int:
        """Sends the deliveries due now; how many were tried."""
        lease = self.settings.delivery_timeout_s * 2 + 1
        async with self.pool.acquire() as conn, conn.transaction():
            due = await records.claim_due(conn, self.settings.delivery_batch, lease)
        if due:
            await asyncio.gather(*(self._send(d) for d in due))
        return len(due)

    async def _send(self, delivery: records.Delivery) -> None:
        timestamp = str(int(time.time()))
        headers = {"content-type": "application/json", TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(delivery.secret, timestamp, delivery.body),
                   "user-agent": "ai4vc-alerting"}
        try:
            answer = await self.http.post(delivery.url, content=delivery.body, headers=headers,
                                          timeout=self.settings.delivery_timeout_s)
            if 200 <= answer.status_code < 300:
                await records.delivered(self.pool, delivery.delivery_id)
                self.sent += 1
                return
            error = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        self.failures += 1
        retry = backoff_s(delivery.attempts, self.settings.delivery_backoff_s, self.settings.delivery_max_backoff_s)
        log.info("webhook delivery failed; retrying", extra={"delivery_id": delivery.delivery_id,
                                                             "attempts": delivery.attempts + 1, "error": error,
                                                             "retry_in_s": round(retry, 2)})
        await records.failed(self.pool, delivery.delivery_id, retry, error)
