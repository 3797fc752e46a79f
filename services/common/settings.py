"""Typed, immutable settings read from the environment with a per-service prefix.

A service declares a frozen dataclass that subclasses `CommonSettings`; `load(cls, prefix)`
reads `<PREFIX>_<FIELD>` for each field (falling back to `AI4VC_<FIELD>` for the shared
ones), converts it to the field's type and fails fast with the variable's name on a bad value.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T", bound="CommonSettings")


class SettingsError(ValueError):
    """A setting in the environment is missing or malformed."""


# Where the grammars are compiled to: minutes and gigabytes to build, the same for every checkout
# of a NeMo version, so they live in the user's cache (like pip's wheels), not in a run directory.
DEFAULT_GRAMMAR_CACHE_DIR = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ai4vc" / "grammars")

@dataclasses.dataclass(frozen=True)
class CommonSettings:
    """What every service has. Ports of 0 mean "pick a free one" (tests)."""

    service_name: str = "ai4vc"
    host: str = "127.0.0.1"
    port: int = 0
    metrics_port: int = -1  # -1: no metrics HTTP server; 0: ephemeral
    log_level: str = "INFO"
    log_json: bool = True
    grace_period_s: float = 5.0
    max_concurrent_rpcs: int = 1000
    # Admission control (rpc/admission.py), per process: unary calls running at once, then a FIFO
    # of at most `admission_queue_size` waiting at most `admission_queue_timeout_s` each; past
    # that, RESOURCE_EXHAUSTED SERVER_OVERLOADED. Open streams are capped at `max_open_streams`.
    # 0: no limit. Services set defaults after what their backend sustains (services/*/settings.py).
    max_in_flight_calls: int = 32
    admission_queue_size: int = 64
    admission_queue_timeout_s: float = 1.0
    max_open_streams: int = 512
    # Streams whose service reports their lag behind real time (ASR's live recognition): new ones
    # are refused (RESOURCE_EXHAUSTED SERVER_OVERLOADED, cause streams_behind) while the worst open
    # stream was more than `stream_shed_lag_s` behind within the last `stream_lag_window_s`.
    # 0: never refused for lag. Open streams are never cut.
    stream_shed_lag_s: float = 1.0
    stream_lag_window_s: float = 2.0
    max_message_bytes: int = 16 * 1024 * 1024
    # A client stream must send its config message within this many seconds of opening, or it is
    # ended with STREAM_CONFIG_MISSING: a stream that sends nothing holds no slot for long.
    stream_config_timeout_s: float = 10.0
    tracing_exporter: str = "none"  # none | console | otlp
    tracing: bool = True  # span per RPC (and trace context propagation)
    # Root traces kept, 0 to 1 (ParentBased(TraceIdRatioBased)): a call continues its caller's choice.
    tracing_sample_ratio: float = 1.0
    log_exporter: str = "none"  # none | otlp: log records to the telemetry service too
    # host:port of the OTLP/gRPC collector (the telemetry service) for `otlp` exporters.
    otlp_endpoint: str = ""
    triton_url: str = "127.0.0.1:8001"
    triton_timeout_s: float = 10.0
    database_url: str = ""  # empty: no PostgreSQL (records are spooled to disk)
    database_schema: str = "public"
    redis_url: str = ""
    spool_dir: str = ".run/spool"
    # Request records a sink keeps in memory: its queue to PostgreSQL, and what it holds while the
    # spool cannot be written (disk full); with that many held, new calls get UNAVAILABLE.
    records_max_queue: int = 10_000
    # Compiled text-normalization grammars (NeMo .far files), shared by the services, their
    # replicas and every checkout; compiled once, loaded at every later start (textnorm.py).
    grammar_cache_dir: str = DEFAULT_GRAMMAR_CACHE_DIR
    # host:port of the config service, whose values override some settings live
    # (`services.common.rpc.live_config`); empty: none, the environment's values stay.
    config_target: str = ""
    # Mesh mTLS (services/common/rpc/tls.py): PEM files of this process's certificate, its key and
    # the CA its peers' certificates come from. All three set: the server accepts TLS only, from
    # clients with a certificate of that CA (Envoy, other services), and this process presents
    # its certificate on its own calls to services. None set: plaintext, as before.
    mesh_tls_cert: str = ""
    mesh_tls_key: str = ""
    mesh_tls_ca: str = ""
    # False: the certificate is used on this process's own calls only and its server stays
    # plaintext (a service whose callers do not all present certificates yet).
    mesh_tls_server: bool = True
    # host:port targets this process dials in the clear all the same: services whose port is not
    # on mTLS yet (comma-separated), so a mesh can move to mTLS one service at a time.
    mesh_tls_plaintext: tuple[str, ...] = ()


class LiveValues(Protocol):
    """Settings that can change while a service runs (`rpc.live_config.LiveConfig` is one); a domain
    core reads them through this, knowing nothing of where they come from."""

    def get_int(self, key: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int: ...


def _convert(raw: str, target: Any, name: str) -> Any:
    origin = typing.get_origin(target)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(target) if a is not type(None)]
        return _convert(raw, args[0], name)
    try:
        if target is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if target is int:
            return int(raw)
        if target is float:
            return float(raw)
        if origin is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a valid {getattr(target, '__name__', target)}") from exc


def load(cls: type[T], prefix: str, environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Builds `cls` from `environ` (default `os.environ`); `overrides` win over both."""
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name in overrides:
            continue
        for name in (f"{prefix}_{field.name.upper()}", f"AI4VC_{field.name.upper()}"):
            if name in env:
                values[field.name] = _convert(env[name], hints[field.name], name)
                break
    values.update(overrides)
    settings = cls(**values)
    if settings.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"{prefix}_LOG_LEVEL={settings.log_level!r} is not a log level")
    if settings.tracing_exporter not in ("none", "console", "otlp"):
        raise SettingsError(f"{prefix}_TRACING_EXPORTER={settings.tracing_exporter!r}: use none, console or otlp")
    if settings.log_exporter not in ("none", "otlp"):
        raise SettingsError(f"{prefix}_LOG_EXPORTER={settings.log_exporter!r}: use none or otlp")
    if not 0.0 <= settings.tracing_sample_ratio <= 1.0:
        raise SettingsError(f"{prefix}_TRACING_SAMPLE_RATIO={settings.tracing_sample_ratio!r}: use 0 to 1")
    for name in ("max_in_flight_calls", "admission_queue_size", "admission_queue_timeout_s", "max_open_streams",
                 "stream_shed_lag_s"):
        if getattr(settings, name) < 0:
            raise SettingsError(f"{prefix}_{name.upper()}={getattr(settings, name)!r}: use 0 (no limit) or more")
    if not settings.stream_lag_window_s > 0:
        raise SettingsError(f"{prefix}_STREAM_LAG_WINDOW_S={settings.stream_lag_window_s!r}: use a positive number")
    tls_files = {f"{prefix}_MESH_TLS_{name.upper()}": getattr(settings, f"mesh_tls_{name}")
                 for name in ("cert", "key", "ca")}
    if any(tls_files.values()):
        missing = [name for name, value in tls_files.items() if not value]
        if missing:
            raise SettingsError(f"{', '.join(missing)} missing: mesh TLS needs a certificate, its key and a CA")
        for name, value in tls_files.items():
            if not os.access(value, os.R_OK):
                raise SettingsError(f"{name}={value!r} is not a readable file")
    return settings
