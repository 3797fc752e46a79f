"""The config service's shipped schemas, its edge policy and its Envoy routes."""

from __future__ import annotations

import pytest

from deploy.local.envoy_config import idempotent, streaming_methods
from gateway.policy import Access, rule_for
from services.common.errors import InvalidArgument
from services.config import schemas


@pytest.mark.parametrize(("namespace", "key", "value", "expected"), [
    ("nmt", "max_contents", 2.0, 2),
    ("asr", "endpointing", {"vad_aggressiveness": 1.0}, {"vad_aggressiveness": 1}),
    ("tts", "default_voice", {"hi": "hi-female"}, {"hi": "hi-female"}),
    ("limits", "default_requests_per_minute", 600.0, 600),
    ("features", "new_ui", True, True),
])
def test_valid_values_are_normalized(namespace, key, value, expected) -> None:
    """A value matching its schema comes back normalized (whole numbers of integer schemas as int)."""
    checked = schemas.schema_for(namespace, key).check(value, "value")
    assert checked == expected and type(checked) is type(expected)


@pytest.mark.parametrize(("namespace", "key", "value", "field"), [
    ("nmt", "max_contents", 1025.0, "value"),
    ("nmt", "max_contents", True, "value"),
    ("asr", "endpointing", {"vad_preroll_ms": -1.0}, "value.vad_preroll_ms"),
    ("asr", "endpointing", [], "value"),
    ("tts", "default_voice", {"not a code": "x"}, "value"),
    ("tts", "default_voice", {f"x{i:02d}": "v" for i in range(65)}, "value"),
])
def test_invalid_values_name_the_path(namespace, key, value, field) -> None:
    """A value breaking its schema is INVALID_VALUE with the path to blame."""
    with pytest.raises(InvalidArgument) as err:
        schemas.schema_for(namespace, key).check(value, "value")
    assert err.value.reason == "INVALID_VALUE" and err.value.field == field


def test_config_writes_need_the_config_scope_reads_any_credential() -> None:
    """At the edge, config writes need "config" (or "admin"); reads need only a valid credential."""
    for method in ("SetConfig", "DeleteConfig", "RollbackConfig"):
        rule = rule_for(f"/ai4vc.config.v1.ConfigService/{method}")
        assert rule.allows(frozenset({"config"})) and rule.allows(frozenset({"admin"}))
        assert not rule.allows(frozenset({"nmt"}))
    for method in ("GetConfig", "ListConfigs", "ListConfigVersions", "WatchConfig"):
        assert rule_for(f"/ai4vc.config.v1.ConfigService/{method}").access is Access.AUTHENTICATED


def test_watch_gets_a_streaming_route_and_writes_are_not_retried() -> None:
    """WatchConfig is the config service's one streaming method (no-timeout route); its unary calls are
    not retried by Envoy once sent."""
    assert streaming_methods("ai4vc.config.v1.ConfigService") == ["/ai4vc.config.v1.ConfigService/WatchConfig"]
    assert not idempotent("ai4vc.config.v1.ConfigService") and idempotent("ai4vc.nmt.v1.NmtService")
