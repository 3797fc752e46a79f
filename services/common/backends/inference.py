"""What every inference service (ASR, TTS, NMT) stands on, opened once and in one order: the
Triton channel, the model registry read from it, the record sink and the usage meter; and the
app shape they share, with one readiness rule (the gating model is ready in Triton, then the
service's own check of what the registry lists)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from services.common.backends.records import BatchWriter, EventBuilder, RecordSink, database_sink
from services.common.backends.registry import ModelRegistry
from services.common.backends.triton import TritonAdapter
from services.common.backends.usage import UsageMeter
from services.common.errors import DomainError


@dataclasses.dataclass(frozen=True)
class InferenceBackends:
    triton: TritonAdapter
    registry: ModelRegistry
    records: RecordSink
    usage: UsageMeter

    async def ready(self, model_name: str, check: Callable[[], Awaitable[bool]]) -> bool:
        """Ready when Triton serves `model_name` and `check` (what the registry must list) holds,
        and the record sink admits calls (a replica refusing them for a full spool disk leaves
        Envoy's rotation). A Triton that went away and came back is re-read at once."""
        if not self.records.admitting:
            return False
        if not await self.triton.model_ready(model_name):
            self.registry.invalidate()
            return False
        try:
            return await check()
        except DomainError:
            return False


def open_backends(name: str, settings: Any, write_records: BatchWriter, migrations: Path,
                  registry: CollectorRegistry | None, stack: contextlib.AsyncExitStack,
                  overrides: Mapping[str, Mapping[str, str]] | None = None,
                  events: EventBuilder | None = None) -> InferenceBackends:
    """Opens the backends of inference service `name` (`events` builds each record's outbox
    events); `stack` closes them in reverse order."""
    triton = TritonAdapter(settings.triton_url, settings.triton_timeout_s)
    stack.push_async_callback(triton.close)
    records = database_sink(name, settings, write_records, migrations, registry, stack, events)
    usage = UsageMeter(settings.redis_url, registry)
    stack.push_async_callback(usage.close)
    models = ModelRegistry(triton, settings.catalog_refresh_s, dict(overrides or {}))
    return InferenceBackends(triton, models, records, usage)


class InferenceApp:
    """Base of an inference service's app (the `App` that `serve` runs): subclasses build their
    core and servicer in `__init__`, add it in `register`, and say in `listed` what the registry
    must hold for the service to be ready."""

    service_names: tuple[str, ...] = ()

    def __init__(self, settings: Any, backends: InferenceBackends) -> None:
        self.settings = settings
        self.backends = backends
        self.triton = backends.triton
        self.records = backends.records
        self.registry = backends.registry

    async def listed(self) -> bool:
        raise NotImplementedError

    async def ready(self) -> bool:
        return await self.backends.ready(self.settings.model_name, self.listed)

    def bind_health(self, servicer: Any) -> None:
        """Gives the server's health servicer the components this app reports beside its own
        status: the record spool (`records.SPOOL_HEALTH_NAME`); `rpc.server.bind_health` calls it."""
        self.records.bind_health(servicer)
