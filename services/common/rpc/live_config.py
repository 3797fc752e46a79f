"""Live settings: a service follows one namespace of the config service and reads its latest
values, so an operator's change applies without a restart.

`LiveConfig` runs one background task that calls `ConfigService/WatchConfig` for the namespace
on `settings.config_target` (empty: off, every `get` answers its default). The first message of
each watch is a snapshot that replaces what it held; each later one applies a change (a deletion
drops the key, so its default applies again). When the config service is away or the stream
breaks, it keeps the last values it had and reconnects with capped, jittered backoff; `get`
never waits and never fails, so a request is never held up by the config service. The service's
environment settings are the defaults the caller passes to `get`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

import grpc
from google.protobuf import json_format

from ai4vc.config.v1 import config_service_pb2 as pb
from ai4vc.config.v1 import config_service_pb2_grpc as pb_grpc
from services.common.rpc import balancing, tls
from services.common.rpc.identity import PRINCIPAL_HEADER

log = logging.getLogger(__name__)
# The chassis' keepalive (rpc/balancing.py: with `ping_timeout_ms`, without which gRPC waits 60 s
# for a ping's answer), sent while the watch is idle too: a config service that hangs (frozen,
# its host gone) ends the watch within ~30 s, and the reconnect loop takes over.
_CHANNEL_OPTIONS = [*balancing.CONNECTION_OPTIONS, ("grpc.keepalive_permit_without_calls", 1)]


def _plain(value: Any) -> Any:
    """JSON numbers arrive as floats; whole ones are handed out as int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class LiveConfig:
    """The latest values of one config namespace, kept by a background watch."""

    def __init__(self, target: str, namespace: str, *, service: str, backoff_initial_s: float = 0.2,
                 backoff_max_s: float = 10.0, credentials: grpc.ChannelCredentials | None = None) -> None:
        self.target = target
        # Mesh mTLS: the config service takes only clients with a mesh certificate (rpc/tls.py).
        self.credentials = credentials
        self.namespace = namespace
        self.service = service
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._values: dict[str, Any] = {}
        self._versions: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._channel: grpc.aio.Channel | None = None
        self._synced = asyncio.Event()
        self.connected = False

    def get(self, key: str, default: Any = None) -> Any:
        """The key's latest value, or `default` when the config service holds none (or is off)."""
        return self._values.get(key, default)

    def get_int(self, key: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        """An integer setting; `default` when unset or not an integer in [minimum, maximum]."""
        value = self._values.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            return default
        return value

    def values(self) -> dict[str, Any]:
        return dict(self._values)

    async def wait_synced(self, timeout_s: float) -> bool:
        """True once a snapshot has arrived (tests, start-up logs); never needed to serve."""
        try:
            await asyncio.wait_for(self._synced.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        if not self.target or self._task is not None:
            return
        self._channel = tls.secure_or_insecure(self.target, self.credentials, _CHANNEL_OPTIONS)
        self._task = asyncio.create_task(self._run(), name=f"live-config-{self.namespace}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def apply(self, message: pb.WatchConfigResponse) -> None:
        """One message of the watch stream: a snapshot replaces, a change updates."""
        if message.snapshot:
            self._values, self._versions = {}, {}
        for change in message.changes:
            if not message.snapshot and change.version <= self._versions.get(change.key, 0):
                continue
            self._versions[change.key] = change.version
            if change.action == pb.CONFIG_ACTION_DELETED or not change.HasField("value"):
                self._values.pop(change.key, None)
            else:
                self._values[change.key] = _plain(json_format.MessageToDict(change.value))
        if message.snapshot:
            self._synced.set()

    async def _run(self) -> None:
        assert self._channel is not None
        stub = pb_grpc.ConfigServiceStub(self._channel)
        delay = self.backoff_initial_s
        metadata = ((PRINCIPAL_HEADER, f"service:{self.service}"),)
        while True:
            try:
                call = stub.WatchConfig(pb.WatchConfigRequest(namespace=self.namespace), metadata=metadata)
                async for message in call:
                    self.apply(message)
                    if message.snapshot:
                        self.connected = True
                        delay = self.backoff_initial_s
                        log.info("live config synced", extra={"namespace": self.namespace,
                                                               "keys": ",".join(sorted(self._values))})
                    else:
                        log.info("live config changed", extra={"namespace": self.namespace,
                                                                "keys": ",".join(c.key for c in message.changes)})
                log.info("live config watch ended; watching again", extra={"namespace": self.namespace})
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                log.warning("live config watch failed: %s; keeping the last values, retrying",
                            exc.code().name, extra={"namespace": self.namespace, "target": self.target})
            except Exception:  # noqa: BLE001 - a bug here must not stop the service, only this watch
                log.exception("live config watch broke; retrying", extra={"namespace": self.namespace})
            self.connected = False
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self.backoff_max_s)
