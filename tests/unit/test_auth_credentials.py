"""Credential formats: what services/auth issues, gateway verifies; JWT edge cases; the method
policy table; the fallback token bucket."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from gateway import policy
from services.common import credentials as auth
from services.common import credentials as gw

SECRET = "s" * 40


def test_issued_key_verifies_at_the_gateway():
    """A key and salted hash made for the auth service verify; a wrong secret or pepper does not."""
    key_id, secret = auth.new_key_id(), auth.new_secret()
    salt, digest = auth.new_salted_hash("pepper", secret)
    assert gw.parse_key(auth.format_key(key_id, secret)) == (key_id, secret)
    assert gw.secret_matches("pepper", salt, digest, secret)
    wrong = secret[:-1] + ("1" if secret[-1] == "0" else "0")  # always differs in its last character
    assert not gw.secret_matches("pepper", salt, digest, wrong)
    assert not gw.secret_matches("other-pepper", salt, digest, secret)


def test_malformed_keys_do_not_parse():
    """Wrong prefix, non-hex id or missing parts are not keys."""
    for token in ("", "ai4vc", "ai4vc__x", "ai4vcr_ab_x", "ai4vc_XYZ_x", "ai4vc_ab_"):
        assert gw.parse_key(token) is None, token


def test_jwt_round_trip_and_refusals():
    """An issued token verifies; expired, re-signed, tampered and alg=none tokens do not."""
    token, exp = auth.issue_jwt(SECRET, "asha", ["nmt", "tts"], "sid1", 900, now=1_000_000)
    claims = gw.verify_jwt(SECRET, token, now=1_000_100)
    assert claims == gw.Claims("asha", frozenset({"nmt", "tts"}), "sid1", exp)
    assert gw.verify_jwt(SECRET, token, now=exp) is None
    assert gw.verify_jwt("t" * 40, token, now=1_000_100) is None
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["scope"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    assert gw.verify_jwt(SECRET, f"{header}.{forged}.{signature}", now=1_000_100) is None
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    assert gw.verify_jwt(SECRET, f"{none_header}.{payload}.", now=1_000_100) is None


@pytest.mark.parametrize("audience", [None, "someone-else", ["someone-else"]])
def test_jwt_for_another_audience_is_refused(audience: object) -> None:
    """A correctly signed token whose audience is not the platform's (or that has none) is refused;
    a list holding ours is accepted."""
    token, _ = auth.issue_jwt(SECRET, "asha", ["nmt"], "sid1", 900, now=1_000_000)
    header, payload, _ = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))

    def signed(claims: dict) -> str:
        part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        mac = hmac.new(SECRET.encode(), f"{header}.{part}".encode(), hashlib.sha256).digest()
        return f"{header}.{part}." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    if audience is None:
        body.pop("aud")
    else:
        body["aud"] = audience
    assert gw.verify_jwt(SECRET, signed(body), now=1_000_100) is None
    body["aud"] = ["someone-else", auth.JWT_AUDIENCE]
    assert gw.verify_jwt(SECRET, signed(body), now=1_000_100) is not None


def test_password_hash():
    """scrypt hashes verify the right password only."""
    stored = auth.hash_password("correct horse battery")
    assert auth.password_matches(stored, "correct horse battery")
    assert not auth.password_matches(stored, "correct horse batterY")
    assert not auth.password_matches("garbage", "x")


def test_policy_table():
    """Each service needs its scope, admin passes everything, auth's public methods and health are open."""
    assert policy.rule_for("/ai4vc.nmt.v1.NmtService/TranslateText") == policy.Rule(policy.Access.SCOPE, "nmt")
    assert policy.rule_for("/ai4vc.asr.v1.AsrService/StreamingRecognize").allows(frozenset({"asr"}))
    assert not policy.rule_for("/ai4vc.tts.v1.TtsService/Synthesize").allows(frozenset({"nmt"}))
    assert policy.rule_for("/ai4vc.tts.v1.TtsService/Synthesize").allows(frozenset({"admin"}))
    assert policy.rule_for("/ai4vc.auth.v1.AuthService/Login?x=1").access is policy.Access.PUBLIC
    assert policy.rule_for("/grpc.health.v1.Health/Watch").access is policy.Access.PUBLIC
    assert policy.rule_for("/ai4vc.auth.v1.AuthService/CreateUser").scope == "admin"
    assert policy.rule_for("/ai4vc.auth.v1.AuthService/ListApiKeys").access is policy.Access.AUTHENTICATED
    assert policy.rule_for("/v1/text:translate").access is policy.Access.DENY  # untranscoded paths never match


def test_riva_services_need_the_scope_of_their_kind() -> None:
    """Riva's ASR, TTS and NMT services are allowed by the asr, tts and nmt scopes (or admin), and only by those."""
    for path, scope in (("/nvidia.riva.asr.RivaSpeechRecognition/StreamingRecognize", "asr"),
                        ("/nvidia.riva.tts.RivaSpeechSynthesis/SynthesizeOnline", "tts"),
                        ("/nvidia.riva.nmt.RivaTranslation/TranslateText", "nmt")):
        rule = policy.rule_for(path)
        assert rule == policy.Rule(policy.Access.SCOPE, scope)
        assert rule.allows(frozenset({scope})) and rule.allows(frozenset({"admin"}))
        assert not rule.allows(frozenset({"asr", "tts", "nmt"} - {scope}))
