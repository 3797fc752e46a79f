"""Settings: environment lookup with a per-service prefix, typed parsing, fail-fast errors."""

from __future__ import annotations

import dataclasses

import pytest

from services.common.settings import CommonSettings, SettingsError, load
from services.nmt.settings import NmtSettings


@dataclasses.dataclass(frozen=True)
class _Typed(CommonSettings):
    ratio: float = 1.0
    enabled: bool = False
    names: tuple[str, ...] = ()
    limit: int | None = None


def test_prefixed_variable_wins_over_shared_fallback() -> None:
    """`<PREFIX>_<FIELD>` is read before `AI4VC_<FIELD>`."""
    env = {"AI4VC_NMT_TRITON_URL": "triton-nmt:8001", "AI4VC_TRITON_URL": "triton:8001"}
    assert load(NmtSettings, "AI4VC_NMT", env).triton_url == "triton-nmt:8001"


def test_shared_fallback_used_when_prefixed_absent() -> None:
    """A field without a prefixed variable falls back to `AI4VC_<FIELD>`."""
    assert load(NmtSettings, "AI4VC_NMT", {"AI4VC_REDIS_URL": "redis://x:6379"}).redis_url == "redis://x:6379"


def test_defaults_when_environment_is_empty() -> None:
    """With nothing set, the dataclass defaults of the service class apply."""
    settings = load(NmtSettings, "AI4VC_NMT", {})
    assert settings == NmtSettings()
    assert settings.service_name == "nmt"


def test_other_services_prefix_is_ignored() -> None:
    """A variable for another service's prefix does not leak into this one."""
    assert load(NmtSettings, "AI4VC_NMT", {"AI4VC_ASR_PORT": "1234"}).port == NmtSettings().port


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("False", False), ("no", False),
     ("off", False)],
)
def test_bool_spellings(raw: str, expected: bool) -> None:
    """Booleans accept 1/true/yes/on and 0/false/no/off, case- and space-insensitively."""
    assert load(_Typed, "X", {"X_ENABLED": raw}).enabled is expected


def test_int_float_tuple_and_optional_parsing() -> None:
    """int, float, comma-separated tuple and `int | None` fields are converted to their types."""
    env = {"X_PORT": "9000", "X_RATIO": "0.25", "X_NAMES": " a, b ,,c ", "X_LIMIT": "7"}
    settings = load(_Typed, "X", env)
    assert settings.port == 9000
    assert settings.ratio == 0.25
    assert settings.names == ("a", "b", "c")
    assert settings.limit == 7


@pytest.mark.parametrize(
    ("name", "raw"),
    [("X_PORT", "eighty"), ("X_RATIO", "half"), ("X_ENABLED", "maybe"), ("AI4VC_GRACE_PERIOD_S", "soon")],
)
def test_bad_value_names_the_variable(name: str, raw: str) -> None:
    """A malformed value raises SettingsError naming the exact variable that held it."""
    with pytest.raises(SettingsError) as info:
        load(_Typed, "X", {name: raw})
    assert name in str(info.value)


def test_overrides_win_and_skip_parsing() -> None:
    """Keyword overrides beat the environment, whose bad value for that field is then not read."""
    settings = load(NmtSettings, "AI4VC_NMT", {"AI4VC_NMT_PORT": "not-a-port", "AI4VC_NMT_MODEL_NAME": "env"},
                    port=5, model_name="override")
    assert (settings.port, settings.model_name) == (5, "override")


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "ERROR"])
def test_known_log_levels_accepted(level: str) -> None:
    """Log levels are accepted case-insensitively."""
    assert load(NmtSettings, "AI4VC_NMT", {"AI4VC_NMT_LOG_LEVEL": level}).log_level == level


def test_unknown_log_level_rejected() -> None:
    """An unknown log level fails fast, naming the prefixed variable."""
    with pytest.raises(SettingsError, match="AI4VC_NMT_LOG_LEVEL"):
        load(NmtSettings, "AI4VC_NMT", {"AI4VC_NMT_LOG_LEVEL": "CHATTY"})


def test_unknown_tracing_exporter_rejected() -> None:
    """Only none, console and otlp are tracing exporters."""
    with pytest.raises(SettingsError, match="AI4VC_NMT_TRACING_EXPORTER"):
        load(NmtSettings, "AI4VC_NMT", {"AI4VC_NMT_TRACING_EXPORTER": "zipkin"})
    assert load(NmtSettings, "AI4VC_NMT", {"AI4VC_TRACING_EXPORTER": "otlp"}).tracing_exporter == "otlp"


def test_settings_are_frozen() -> None:
    """A loaded settings object cannot be mutated after construction."""
    settings = load(NmtSettings, "AI4VC_NMT", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_settings_error_is_a_value_error() -> None:
    """SettingsError subclasses ValueError so generic startup handling catches it."""
    assert issubclass(SettingsError, ValueError)
