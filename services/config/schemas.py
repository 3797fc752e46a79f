"""The namespaces the deployment ships and the schema of each key's value, defined in code.

A schema checks a JSON value (what a `google.protobuf.Value` holds: None, bool, float, str,
list, dict) and returns it normalized (whole numbers of an integer schema as `int`), or raises
INVALID_VALUE naming the path ("value", "value.vad_aggressiveness", "value['hi']"). Unknown
namespaces and keys are UNKNOWN_NAMESPACE / UNKNOWN_CONFIG_KEY. Knows nothing of grpc.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol

from services.common.errors import InvalidArgument, Reason


def _short(text: str, limit: int = 64) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _invalid(path: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{path} {message}", reason=Reason.INVALID_VALUE, field=path)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class Schema(Protocol):
    def check(self, value: Any, path: str) -> Any: ...

    def describe(self) -> str: ...


@dataclasses.dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _invalid(path, f"must be an integer {self.minimum} to {self.maximum}, not {_kind(value)}")
        if not math.isfinite(value) or value != int(value):
            raise _invalid(path, f"must be a whole number, not {value}")
        if not self.minimum <= value <= self.maximum:
            raise _invalid(path, f"is {int(value)}; it must be {self.minimum} to {self.maximum}")
        return int(value)

    def describe(self) -> str:
        return f"integer {self.minimum} to {self.maximum}"


@dataclasses.dataclass(frozen=True)
class Number:
    minimum: float
    maximum: float

    def check(self, value: Any, path: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _invalid(path, f"must be a number {self.minimum} to {self.maximum}, not {_kind(value)}")
        if not math.isfinite(value) or not self.minimum <= value <= self.maximum:
            raise _invalid(path, f"is {value}; it must be {self.minimum} to {self.maximum}")
        return float(value)

    def describe(self) -> str:
        return f"number {self.minimum} to {self.maximum}"


@dataclasses.dataclass(frozen=True)
class Boolean:
    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise _invalid(path, f"must be a boolean, not {_kind(value)}")
        return value

    def describe(self) -> str:
        return "boolean"


@dataclasses.dataclass(frozen=True)
class String:
    min_length: int = 1
    max_length: int = 128

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _invalid(path, f"must be a string, not {_kind(value)}")
        if not self.min_length <= len(value) <= self.max_length or not value.strip():
            raise _invalid(path, f"must be {self.min_length} to {self.max_length} characters, not blank")
        return value

    def describe(self) -> str:
        return f"string of {self.min_length} to {self.max_length} characters"


@dataclasses.dataclass(frozen=True)
class Object:
    """An object with these properties only, each optional."""

    properties: Mapping[str, Schema]

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _invalid(path, f"must be an object with {', '.join(sorted(self.properties))}, not {_kind(value)}")
        out = {}
        for name, item in sorted(value.items()):
            schema = self.properties.get(name)
            if schema is None:
                raise _invalid(f"{path}.{name}" if _IDENT.match(name) else path,
                               f"has no property {_short(name)}; it takes {', '.join(sorted(self.properties))}")
            out[name] = schema.check(item, f"{path}.{name}")
        return out

    def describe(self) -> str:
        return "object: " + ", ".join(f"{k} ({v.describe()})" for k, v in sorted(self.properties.items()))


@dataclasses.dataclass(frozen=True)
class MapOf:
    """An object whose property names match `key_pattern`, each value of `values`."""

    key_pattern: str
    key_description: str
    values: Schema
    max_entries: int

    def check(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _invalid(path, f"must be an object of {self.key_description} → {self.values.describe()}, "
                                 f"not {_kind(value)}")
        if len(value) > self.max_entries:
            raise _invalid(path, f"has {len(value)} entries; at most {self.max_entries}")
        out = {}
        for name, item in sorted(value.items()):
            if not re.fullmatch(self.key_pattern, name):
                raise _invalid(path, f"key {_short(name)} is not a {self.key_description}")
            out[name] = self.values.check(item, f"{path}.{name}")
        return out

    def describe(self) -> str:
        return f"object of {self.key_description} → {self.values.describe()}, at most {self.max_entries}"


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LANGUAGE_CODE = r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}"
FEATURE_KEY = r"[a-z][a-z0-9_]{0,63}"


@dataclasses.dataclass(frozen=True)
class Namespace:
    name: str
    keys: Mapping[str, Schema]
    # Keys not listed in `keys` that match this pattern take `pattern_schema`.
    key_pattern: str = ""
    pattern_schema: Schema | None = None

    def schema_for(self, key: str) -> Schema:
        if key in self.keys:
            return self.keys[key]
        if self.key_pattern and self.pattern_schema is not None and re.fullmatch(self.key_pattern, key):
            return self.pattern_schema
        known = ", ".join(sorted(self.keys)) or f"keys matching {self.key_pattern}"
        raise InvalidArgument(f"namespace {self.name!r} has no key {_short(key)}; it has {known}",
                              reason=Reason.UNKNOWN_CONFIG_KEY, field="key")


NAMESPACES: dict[str, Namespace] = {
    ns.name: ns
    for ns in (
        # Read live by the NMT service (services/nmt): texts per TranslateText/Transliterate call.
        Namespace("nmt", {"max_contents": Integer(1, 1024)}),
        # Streaming recognition's endpointing defaults.
        Namespace("asr", {"endpointing": Object({
            "vad_aggressiveness": Integer(0, 3),
            "vad_preroll_ms": Integer(0, 2000),
            "stream_idle_timeout_s": Number(1, 600),
        })}),
        # The voice used per language when a request names none.
        Namespace("tts", {"default_voice": MapOf(LANGUAGE_CODE, "BCP-47 language code", String(1, 128), 64)}),
        # The edge's per-minute default for keys without a quota of their own.
        Namespace("limits", {"default_requests_per_minute": Integer(1, 1_000_000)}),
        # Feature flags: any lower_snake key, boolean values.
        Namespace("features", {}, FEATURE_KEY, Boolean()),
    )
}


def namespace(name: str) -> Namespace:
    if not name:
        raise InvalidArgument("namespace is required", reason=Reason.FIELD_REQUIRED, field="namespace")
    found = NAMESPACES.get(name)
    if found is None:
        raise InvalidArgument(f"no namespace {_short(name)}; use {', '.join(sorted(NAMESPACES))}",
                              reason=Reason.UNKNOWN_NAMESPACE, field="namespace")
    return found


def schema_for(namespace_name: str, key: str) -> Schema:
    """The schema of (namespace, key); UNKNOWN_NAMESPACE / UNKNOWN_CONFIG_KEY / FIELD_REQUIRED."""
    ns = namespace(namespace_name)
    if not key:
        raise InvalidArgument("key is required", reason=Reason.FIELD_REQUIRED, field="key")
    return ns.schema_for(key)
