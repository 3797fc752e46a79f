"""Target settings of service-to-service calls (services/common/rpc/balancing.py): what each form
becomes as a gRPC target, what is refused with the variable's name, and the channel's config."""

from __future__ import annotations

import json

import pytest

from gateway.ws.bridge import WsBridgeSettings
from services.common.rpc.balancing import channel_options, grpc_target, service_config
from services.common.settings import SettingsError, load
from services.pipeline.settings import PipelineSettings
from services.riva.settings import RivaSettings
from services.ulca.settings import UlcaSettings

ENV = "AI4VC_PIPELINE_ASR_TARGET"


@pytest.mark.parametrize(("value", "target"), [
    ("127.0.0.1:8087", "127.0.0.1:8087"),
    ("asr:8087", "asr:8087"),  # compose: DNS gives every container of the service
    ("asr-headless.ai4vc.svc.cluster.local:8087", "asr-headless.ai4vc.svc.cluster.local:8087"),
    ("127.0.0.1:8087,127.0.0.1:8187", "ipv4:127.0.0.1:8087,127.0.0.1:8187"),
    (" 10.0.0.1:1 , 10.0.0.2:65535 ", "ipv4:10.0.0.1:1,10.0.0.2:65535"),
    ("[::1]:8087,[::1]:8187", "ipv6:[::1]:8087,[::1]:8187"),
    ("[::1]:8087", "[::1]:8087"),
    ("dns:///asr:8087", "dns:///asr:8087"),
    ("dns://10.0.0.10:53/asr.example:8087", "dns://10.0.0.10:53/asr.example:8087"),
    ("ipv4:127.0.0.1:1, 127.0.0.1:2", "ipv4:127.0.0.1:1,127.0.0.1:2"),
    ("ipv6:[::1]:8087", "ipv6:[::1]:8087"),
    ("unix:/run/asr.sock", "unix:/run/asr.sock"),
    ("", ""),
    ("  ", ""),
])
def test_target_forms(value, target):
    """host:port stays (DNS), a list of IPs becomes an ipv4:/ipv6: target, URIs pass, empty stays empty."""
    assert grpc_target(value, ENV) == target


@pytest.mark.parametrize(("value", "why"), [
    ("127.0.0.1", "not host:port"),
    ("127.0.0.1:", "not host:port"),
    ("127.0.0.1:0", "not host:port"),
    ("127.0.0.1:65536", "not host:port"),
    ("127.0.0.1:http", "not host:port"),
    (":8087", "not host:port"),
    ("::1:8087", "not host:port"),
    ("as r:8087", "not host:port"),
    ("127.0.0.1:8087,", "empty entry"),
    ("asr:8087,tts:8088", "IP addresses only"),
    ("127.0.0.1:8087,[::1]:8087", "mixes IPv4 and IPv6"),
    ("127.0.0.1:8087,127.0.0.1:8087", "listed twice"),
    ("dns:///asr", "needs host:port"),
    ("dns:", "needs host:port"),
    ("ipv4:asr:8087", "not an ipv4 address"),
    ("ipv4:[::1]:8087", "not an ipv4 address"),
    ("ipv6:127.0.0.1:8087", "not an ipv6 address"),
    ("unix:", "needs a path"),
    ("xds:///asr", "unknown scheme"),
    ("http://asr:8087", "unknown scheme"),
])
def test_bad_targets_name_the_variable(value, why):
    """A malformed target is a SettingsError naming the environment variable, the value and what is wrong."""
    with pytest.raises(SettingsError) as caught:
        grpc_target(value, ENV)
    message = str(caught.value)
    assert message.startswith(f"{ENV}={value.strip()!r}:") and why in message


@pytest.mark.parametrize(("cls", "prefix", "field"), [
    (PipelineSettings, "AI4VC_PIPELINE", "nmt"),
    (RivaSettings, "AI4VC_RIVA", "tts"),
    (UlcaSettings, "AI4VC_ULCA", "asr"),
])
def test_service_settings_refuse_bad_targets_at_load(cls, prefix, field):
    """The pipeline, Riva and ULCA settings fail at load on a bad target, naming its variable."""
    env = {f"{prefix}_{field.upper()}_TARGET": "asr:8087,tts:8088"}
    with pytest.raises(SettingsError, match=f"^{prefix}_{field.upper()}_TARGET="):
        load(cls, prefix, env)
    good = load(cls, prefix, {f"{prefix}_{field.upper()}_TARGET": "127.0.0.1:1,127.0.0.1:2"})
    assert getattr(good, f"{field}_target") == "127.0.0.1:1,127.0.0.1:2"


def test_bridge_settings_refuse_bad_and_empty_targets():
    """The WebSocket bridge refuses a malformed or empty target, naming its variable; a list is fine."""
    with pytest.raises(SettingsError, match="^AI4VC_WSBRIDGE_TTS_TARGET='tts'"):
        WsBridgeSettings(tts_target="tts").check()
    with pytest.raises(SettingsError, match="^AI4VC_WSBRIDGE_PIPELINE_TARGET is empty"):
        WsBridgeSettings(pipeline_target="").check()
    assert WsBridgeSettings(asr_target="127.0.0.1:1,127.0.0.1:2").check().asr_target == "127.0.0.1:1,127.0.0.1:2"


def test_channel_config_balances_over_replicas_without_retry_policy():
    """The service config asks for round_robin, no client-side health checking (see balancing's
    docstring) and no retryPolicy (callers retry); the caller's options are kept and win on a clash."""
    config = json.loads(service_config("ai4vc.asr.v1.AsrService"))
    assert config == {"loadBalancingConfig": [{"round_robin": {}}]}
    options = dict(channel_options("ai4vc.asr.v1.AsrService", [("grpc.max_send_message_length", 7),
                                                              ("grpc.keepalive_time_ms", 30_000)]))
    assert json.loads(options["grpc.service_config"]) == config
    assert options["grpc.max_send_message_length"] == 7 and options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.http2.ping_timeout_ms"] == 10_000
