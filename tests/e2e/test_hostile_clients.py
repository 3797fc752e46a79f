"""Hostile clients with valid credentials of their own, through the real Envoy: a key trying to do
more than its scopes allow (every admin RPC of the auth service, every scope-gated method of every
service, both enumerated from the generated descriptors so a new RPC is covered the day it lands),
identity headers forged by the client, and brute force from one address next to honest callers
behind the same address (NAT). Broken and forged credentials themselves are
test_edge_bad_credentials.py's; the ordinary 401/403/429 paths are test_edge_auth.py's."""

from __future__ import annotations

import http.client
import json
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.message import Message

from ai4vc.auth.v1 import auth_service_pb2 as auth_pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ai4vc.nmt.v1 import nmt_service_pb2 as nmt_pb
from ai4vc.nmt.v1 import nmt_service_pb2_grpc as nmt_grpc
from deploy.local.envoy_config import DESCRIPTOR, INTERNAL_HEADERS, RIVA_DESCRIPTOR
from gateway import policy
from services.common.rpc.identity import IDENTITY_HEADERS
from tests.errors_util import error_info

pytestmark = pytest.mark.e2e
AUTH_SERVICE = "ai4vc.auth.v1.AuthService"
TRANSLATE = nmt_pb.TranslateTextRequest(contents=["भारत"], source_language_code="hi", target_language_code="ur")
BODY = json.dumps({"contents": ["भारत"], "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}).encode()
# Source addresses of their own (127.77.0.0/16): the blocks these tests provoke must not touch
# 127.0.0.1, which every other test calls from, nor test_edge_bad_credentials' 127.0.N.7.
_ADDRESSES = iter(f"127.77.{n // 250}.{n % 250 + 1}" for n in range(10_000))


def methods_of_descriptors() -> dict[str, list[str]]:
    """gRPC service → its method names, from the descriptor sets the edge itself loads (ours and
    Riva's)."""
    found: dict[str, list[str]] = {}
    for path in (DESCRIPTOR, RIVA_DESCRIPTOR):
        for file in descriptor_pb2.FileDescriptorSet.FromString(Path(path).read_bytes()).file:
            for service in file.service:
                found[f"{file.package}.{service.name}"] = [m.name for m in service.method]
    return found


METHODS = methods_of_descriptors()


class Keys:
    """The module's callers: an honest user's key (the victim) and an attacker's, both "nmt" only
    and owned by users of their own, so nothing either does touches the bootstrap admin's keys."""

    def __init__(self, mesh: Any) -> None:
        self.mesh = mesh
        self.users: set[str] = set()
        self.victim_owner = f"victim-{uuid.uuid4().hex[:8]}"
        self.mallory_owner = f"mallory-{uuid.uuid4().hex[:8]}"
        self.victim_id, self.victim = self.create(self.victim_owner, ["nmt"])
        self.mallory_id, self.mallory = self.create(self.mallory_owner, ["nmt"])

    def create(self, owner: str, scopes: list[str], per_minute: int = 0) -> tuple[str, str]:
        """A key of `owner` (a user made for it on first use), created by the bootstrap admin."""
        with grpc.insecure_channel(f"127.0.0.1:{self.mesh.ports.envoy}") as channel:
            stub = auth_grpc.AuthServiceStub(channel)
            if owner not in self.users:
                stub.CreateUser(auth_pb.CreateUserRequest(username=owner, password=secrets.token_urlsafe(16),
                                                          scopes=scopes),
                                timeout=15, metadata=(("x-api-key", self.mesh.admin_key()),))
                self.users.add(owner)
            answer = stub.CreateApiKey(
                auth_pb.CreateApiKeyRequest(display_name="hostile e2e", scopes=scopes, owner=owner,
                                            quota=auth_pb.Quota(requests_per_minute=per_minute)),
                timeout=15, metadata=(("x-api-key", self.mesh.admin_key()),))
        return answer.api_key.key_id, answer.key


@pytest.fixture(scope="module")
def keys(mesh) -> Keys:
    return Keys(mesh)


def call(mesh, path: str, request: Message | bytes, metadata: tuple[tuple[str, str], ...],
         response: Callable[[bytes], Any] = lambda b: b) -> tuple[grpc.StatusCode, Any]:
    """One unary call through the edge: (status code, answer or the error)."""
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        method = channel.unary_unary(path, request_serializer=lambda m: m if isinstance(m, bytes)
                                     else m.SerializeToString(), response_deserializer=response)
        try:
            return grpc.StatusCode.OK, method(request, timeout=15, metadata=metadata)
        except grpc.RpcError as err:
            return err.code(), err  # type: ignore[attr-defined]


def translate_code(mesh, key: str) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        try:
            nmt_grpc.NmtServiceStub(channel).TranslateText(TRANSLATE, timeout=15, metadata=(("x-api-key", key),))
        except grpc.RpcError as err:
            return err.code()  # type: ignore[no-any-return,attr-defined]
    return grpc.StatusCode.OK


def rest(mesh, source: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None
         ) -> tuple[int, dict[str, Any]]:
    """One REST call from `source` (a loopback address of its own): (status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", mesh.ports.envoy, timeout=15, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers={"content-type": "application/json", **headers})
        answer = conn.getresponse()
        data = answer.read()
        return answer.status, json.loads(data) if data else {}
    finally:
        conn.close()


# -- scope escalation -------------------------------------------------------------------------

# One attack (or more) per auth method that is not public: (request, expected code, expected
# ErrorInfo reason or None where the edge answers, with no details). Another owner's key is "not
# found" to a non-admin (the service does not tell who owns what), never a success.
Attack = tuple[Message, grpc.StatusCode, str | None]
ESCALATIONS: dict[str, Callable[[Keys], list[Attack]]] = {
    "CreateUser": lambda k: [
        (auth_pb.CreateUserRequest(username=f"evil-{uuid.uuid4().hex[:8]}", password="p" * 16, scopes=["admin"]),
         grpc.StatusCode.PERMISSION_DENIED, None)],
    "CreateApiKey": lambda k: [
        (auth_pb.CreateApiKeyRequest(display_name="mine", scopes=["admin"]),
         grpc.StatusCode.PERMISSION_DENIED, "SCOPE_NOT_HELD"),
        (auth_pb.CreateApiKeyRequest(display_name="mine", scopes=["nmt", "telemetry"]),
         grpc.StatusCode.PERMISSION_DENIED, "SCOPE_NOT_HELD"),
        (auth_pb.CreateApiKeyRequest(display_name="theirs", scopes=["nmt"], owner=k.victim_owner),
         grpc.StatusCode.PERMISSION_DENIED, "ADMIN_REQUIRED")],
    "ListApiKeys": lambda k: [
        (auth_pb.ListApiKeysRequest(owner=k.victim_owner), grpc.StatusCode.PERMISSION_DENIED, "ADMIN_REQUIRED"),
        (auth_pb.ListApiKeysRequest(owner=k.victim_owner, show_revoked=True),
         grpc.StatusCode.PERMISSION_DENIED, "ADMIN_REQUIRED")],
    "RevokeApiKey": lambda k: [
        (auth_pb.RevokeApiKeyRequest(key_id=k.victim_id), grpc.StatusCode.NOT_FOUND, "KEY_NOT_FOUND")],
    "RotateApiKey": lambda k: [
        (auth_pb.RotateApiKeyRequest(key_id=k.victim_id), grpc.StatusCode.NOT_FOUND, "KEY_NOT_FOUND")],
}
NON_PUBLIC_AUTH = [m for m in METHODS[AUTH_SERVICE]
                   if policy.rule_for(f"/{AUTH_SERVICE}/{m}").access is not policy.Access.PUBLIC]


@pytest.mark.parametrize("method", NON_PUBLIC_AUTH)
def test_a_non_admin_key_cannot_escalate_through_any_auth_rpc(mesh, keys: Keys, method: str) -> None:
    """Each non-public auth RPC (from the descriptor: a new one fails here until it has an attack)
    refuses a non-admin key acting beyond itself — admin scopes, scopes it lacks, another owner's
    keys — and the victim's key keeps working."""
    assert method in ESCALATIONS, f"{AUTH_SERVICE}/{method} is new: add its escalation attempts to ESCALATIONS"
    for request, code, reason in ESCALATIONS[method](keys):
        got, error = call(mesh, f"/{AUTH_SERVICE}/{method}", request, (("x-api-key", keys.mallory),))
        assert got == code, (method, request, got)
        if reason is not None:
            assert error_info(error)[0].reason == reason  # type: ignore[arg-type,union-attr]
    assert translate_code(mesh, keys.victim) == grpc.StatusCode.OK


def test_every_scope_gated_method_refuses_a_key_without_its_scope(mesh, keys: Keys) -> None:
    """Every method of every service the edge serves whose policy needs a scope the key lacks
    ("nmt" only here) is PERMISSION_DENIED at the edge — unary and streaming, ours and Riva's,
    enumerated from the descriptors — and what DENY rules cover stays refused too."""
    refused, checked = [], 0
    for service, names in METHODS.items():
        for name in names:
            path = f"/{service}/{name}"
            rule = policy.rule_for(path)
            if rule.access is policy.Access.DENY or (rule.access is policy.Access.SCOPE and rule.scope != "nmt"):
                checked += 1
                code, _ = call(mesh, path, b"", (("x-api-key", keys.mallory),))
                if code != grpc.StatusCode.PERMISSION_DENIED:
                    refused.append((path, code))
    assert checked > 30 and not refused, refused


# -- forged identity ----------------------------------------------------------------------------


def forged(keys: Keys) -> tuple[tuple[str, str], ...]:
    """Every identity and internal header the edge sets, as a client would forge them: the
    victim's identity, admin scopes, a free rate limit."""
    values = {"x-ai4vc-principal": keys.victim_owner, "x-ai4vc-key-id": keys.victim_id,
              "x-ai4vc-scopes": "admin,telemetry,nmt", "x-ai4vc-session": uuid.uuid4().hex,
              "x-ai4vc-limit-id": "kfree", "x-ai4vc-cost": "0"}
    assert set(values) == {*IDENTITY_HEADERS, *INTERNAL_HEADERS}  # a new edge header gets a forgery here
    return tuple(values.items())


def test_forged_identity_headers_are_stripped(mesh, keys: Keys) -> None:
    """A client's own x-ai4vc-* identity headers never reach a service: with the attacker's key the
    auth service lists the attacker's keys (not the forged owner's) and refuses what the forged
    admin scope would allow; without a key the forgery alone is UNAUTHENTICATED (gRPC and REST)."""
    headers = (("x-api-key", keys.mallory), *forged(keys))
    code, answer = call(mesh, f"/{AUTH_SERVICE}/ListApiKeys", auth_pb.ListApiKeysRequest(), headers,
                        auth_pb.ListApiKeysResponse.FromString)
    assert code == grpc.StatusCode.OK
    assert answer.api_keys and {k.owner for k in answer.api_keys} == {keys.mallory_owner}
    code, _ = call(mesh, f"/{AUTH_SERVICE}/CreateApiKey",
                   auth_pb.CreateApiKeyRequest(display_name="x", scopes=["admin"]), headers)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = call(mesh, "/ai4vc.telemetry.v1.TelemetryService/SearchLogs", b"", headers)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert call(mesh, f"/{AUTH_SERVICE}/ListApiKeys", b"", forged(keys))[0] == grpc.StatusCode.UNAUTHENTICATED
    # REST, header names in another case (HTTP/1.1 names are case-insensitive).
    source = next(_ADDRESSES)
    shouted = {name.upper(): value for name, value in forged(keys)}
    status, body = rest(mesh, source, "GET", "/v1/apiKeys", {"x-api-key": keys.mallory, **shouted})
    assert status == 200 and {k["owner"] for k in body["apiKeys"]} == {keys.mallory_owner}
    assert rest(mesh, source, "GET", "/v1/apiKeys", shouted)[0] == 401


def test_a_forged_cost_header_does_not_lift_the_rate_limit(mesh, keys: Keys) -> None:
    """x-ai4vc-cost: 0 (and a forged rate-limit subject) from the client does not make calls free:
    a key of 2 requests a minute is still refused on its third."""
    _, key = keys.create(keys.mallory_owner, ["nmt"], per_minute=2)
    headers = (("x-api-key", key), ("x-ai4vc-cost", "0"), ("x-ai4vc-limit-id", "kfree"))
    codes = [call(mesh, "/ai4vc.nmt.v1.NmtService/TranslateText", TRANSLATE, headers)[0] for _ in range(3)]
    assert codes == [grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED]


# -- brute force ----------------------------------------------------------------------------------


def _until_blocked(mesh, source: str, headers: Callable[[], dict[str, str]]) -> list[int]:
    """Failed authentications from `source` until the edge blocks it (429); the statuses seen."""
    statuses: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = rest(mesh, source, "POST", "/v1/text:translate", headers(), BODY)
        statuses.append(status)
        if status == 429:
            assert body["details"][0]["reason"] == "FAILED_ATTEMPTS"
            return statuses
        assert status == 401, (status, body)
        time.sleep(0.02 if len(statuses) > 20 else 0)  # past the limit: let the block be published
    raise AssertionError(f"no block after {len(statuses)} failures")


def test_brute_force_on_one_key_does_not_lock_out_another_key_behind_the_same_address(mesh, keys: Keys) -> None:
    """Wrong secrets for one existing key from one address block that (address, key) pair only:
    from the same address (an office behind NAT) another valid key keeps working, and the
    attacked key keeps working from other addresses; its right secret is refused from there
    while the block lasts."""
    target_id, target = keys.create(f"target-{uuid.uuid4().hex[:8]}", ["nmt"])
    attacker = next(_ADDRESSES)
    statuses = _until_blocked(mesh, attacker, lambda: {"x-api-key": f"ai4vc_{target_id}_{secrets.token_hex(32)}"})
    assert len(statuses) > 5  # a block from the limit, not from the first failure
    assert rest(mesh, attacker, "POST", "/v1/text:translate", {"x-api-key": target}, BODY)[0] == 429
    assert rest(mesh, attacker, "POST", "/v1/text:translate", {"x-api-key": keys.victim}, BODY)[0] == 200
    assert rest(mesh, next(_ADDRESSES), "POST", "/v1/text:translate", {"x-api-key": target}, BODY)[0] == 200


def test_guessing_unknown_keys_blocks_the_address(mesh, keys: Keys) -> None:
    """Guessed key ids that do not exist count against the address: once blocked, every key from
    it is refused (429), and the same key from another address is served."""
    guesser = next(_ADDRESSES)
    _until_blocked(mesh, guesser, lambda: {"x-api-key": f"ai4vc_{secrets.token_hex(8)}_{secrets.token_hex(32)}"})
    assert rest(mesh, guesser, "POST", "/v1/text:translate", {"x-api-key": keys.victim}, BODY)[0] == 429
    assert rest(mesh, next(_ADDRESSES), "POST", "/v1/text:translate", {"x-api-key": keys.victim}, BODY)[0] == 200
