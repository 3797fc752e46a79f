"""The gateway in-process with the production factory, next to the auth service, sharing a real
PostgreSQL schema and a real Redis: the edge's control plane (what it publishes for Envoy), and the
ext_authz + rate-limit servicers it still serves for a deployment that points Envoy at them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import uuid
from pathlib import Path

import pytest
from envoy.service.auth.v3 import external_auth_pb2 as authz_pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as authz_grpc
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.rpc import code_pb2

from ai4vc.auth.v1 import auth_service_pb2 as pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as pb_grpc
from deploy.local.envoy_config import Upstream, render_routes
from deploy.local.parts import free_port
from gateway import app as gateway_app
from gateway.settings import GatewaySettings
from services.auth import app as auth_app
from services.auth.settings import AuthSettings
from services.common.backends import redis_client
from services.common.backends.usage import record_usage
from services.common.credentials import issue_jwt
from tests.service.harness import health_status, running

JWT_SECRET = "j" * 40
PEPPER = "pepper-for-tests-0123"
ADMIN = (("x-ai4vc-principal", "admin"), ("x-ai4vc-scopes", "admin"))
NMT = "/ai4vc.nmt.v1.NmtService/TranslateText"


@pytest.fixture
def auth_settings(pg_schema, redis_server, tmp_path) -> AuthSettings:
    url, schema = pg_schema
    return AuthSettings(port=0, metrics_port=-1, database_url=url, database_schema=schema,
                        redis_url=redis_server.url, jwt_secret=JWT_SECRET, key_pepper=PEPPER, log_json=False,
                        bootstrap_key_file=str(tmp_path / "admin.key"))


@pytest.fixture
def gw_settings(auth_settings) -> GatewaySettings:
    return GatewaySettings(port=0, metrics_port=-1, database_url=auth_settings.database_url,
                           database_schema=auth_settings.database_schema, redis_url=auth_settings.redis_url,
                           jwt_secret=JWT_SECRET, key_pepper=PEPPER, log_json=False, failed_attempts_per_minute=5)


@contextlib.asynccontextmanager
async def mesh(auth_settings, *gateways):
    """The auth service and one gateway per settings object; yields (auth stub, [(app, authz, rls)])."""
    async with contextlib.AsyncExitStack() as stack:
        _app, _h, auth_channel = await stack.enter_async_context(running(auth_settings, auth_app.create))
        out = []
        for settings in gateways:
            app, _h, channel = await stack.enter_async_context(running(settings, gateway_app.create))
            out.append((app, authz_grpc.AuthorizationStub(channel), rls_pb2_grpc.RateLimitServiceStub(channel)))
        yield pb_grpc.AuthServiceStub(auth_channel), out


def check_request(path: str, headers: dict[str, str], address: str | None = None) -> authz_pb.CheckRequest:
    request = authz_pb.CheckRequest()
    request.attributes.request.http.path = path
    request.attributes.request.http.method = "POST"
    request.attributes.request.http.headers.update(headers)
    request.attributes.source.address.socket_address.address = address or f"10.{uuid.uuid4().int % 250}.0.1"
    return request


def headers_of(response: authz_pb.CheckResponse) -> dict[str, str]:
    section = response.ok_response if response.HasField("ok_response") else response.denied_response
    return {h.header.key: h.header.value for h in section.headers}


async def new_key(stub, scopes: list[str], **quota) -> str:
    made = await stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="t", scopes=scopes, quota=pb.Quota(**quota)),
                                   metadata=ADMIN, timeout=10)
    return made.key


async def test_api_key_ok_sets_identity_and_strips_credentials(auth_settings, gw_settings):
    """A valid key with the method's scope is OK: identity headers set, x-api-key/authorization removed."""
    async with mesh(auth_settings, gw_settings) as (auth, [(_app, authz, _rls)]):
        key = await new_key(auth, ["nmt"])
        answer = await authz.Check(check_request(NMT, {"x-api-key": key}), timeout=5)
        assert answer.status.code == code_pb2.OK
        headers = headers_of(answer)
        assert headers["x-ai4vc-principal"] == "admin"
        assert headers["x-ai4vc-key-id"] == key.split("_")[1]
        assert headers["x-ai4vc-scopes"] == "nmt"
        assert {"x-api-key", "authorization"} <= set(answer.ok_response.headers_to_remove)


async def test_denials_are_401_or_403(auth_settings, gw_settings):
    """No credentials, unknown or malformed keys and bad JWTs are 401 (grpc-status 16); a missing scope is 403."""
    async with mesh(auth_settings, gw_settings) as (auth, [(_app, authz, _rls)]):
        key = await new_key(auth, ["tts"])
        key_id = key.split("_")[1]
        expired, _ = issue_jwt(JWT_SECRET, "admin", ["nmt"], "s1", 900, now=time.time() - 2000)
        forged, _ = issue_jwt("x" * 40, "admin", ["nmt"], "s1", 900)
        cases = {
            "none": ({}, 16, 401),
            "unknown key": ({"x-api-key": f"ai4vc_{'0' * 16}_{'a' * 64}"}, 16, 401),
            "wrong secret": ({"x-api-key": f"ai4vc_{key_id}_{'b' * 64}"}, 16, 401),
            "malformed key": ({"x-api-key": "hello"}, 16, 401),
            "expired jwt": ({"authorization": f"Bearer {expired}"}, 16, 401),
            "forged jwt": ({"authorization": f"Bearer {forged}"}, 16, 401),
            "garbage jwt": ({"authorization": "Bearer a.b.c"}, 16, 401),
            "wrong scope": ({"x-api-key": key}, 7, 403),
        }
        for name, (headers, grpc_status, http_status) in cases.items():
            answer = await authz.Check(check_request(NMT, headers), timeout=5)
            assert answer.status.code == grpc_status, name
            assert answer.denied_response.status.code == http_status, name
            assert headers_of(answer)["grpc-status"] == str(grpc_status), name
        # An authenticated caller on a path no rule names is refused too (deny by default).
        answer = await authz.Check(check_request("/ai4vc.secret.v1.Hidden/Do", {"x-api-key": key}), timeout=5)
        assert answer.status.code == code_pb2.PERMISSION_DENIED


async def test_jwt_and_public_methods(auth_settings, gw_settings):
    """A Login JWT authorizes by its scopes (no key id); Login and health need no credentials; logout ends it."""
    async with mesh(auth_settings, gw_settings) as (auth, [(_app, authz, _rls)]):
        await auth.CreateUser(pb.CreateUserRequest(username="devi", password="correct horse battery",
                                                   scopes=["nmt"]), metadata=ADMIN, timeout=10)
        for path in ("/ai4vc.auth.v1.AuthService/Login", "/grpc.health.v1.Health/Check"):
            answer = await authz.Check(check_request(path, {}), timeout=5)
            assert answer.status.code == code_pb2.OK, path
        login = await auth.Login(pb.LoginRequest(username="devi", password="correct horse battery"), timeout=10)
        bearer = {"authorization": f"Bearer {login.access_token}"}
        answer = await authz.Check(check_request(NMT, bearer), timeout=5)
        assert answer.status.code == code_pb2.OK
        assert headers_of(answer)["x-ai4vc-principal"] == "devi"
        assert "x-ai4vc-key-id" in answer.ok_response.headers_to_remove
        create_user = "/ai4vc.auth.v1.AuthService/CreateUser"
        assert (await authz.Check(check_request(create_user, bearer), timeout=5)).status.code == 7
        await auth.Logout(pb.LogoutRequest(refresh_token=login.refresh_token), timeout=10)
        assert (await authz.Check(check_request(NMT, bearer), timeout=5)).status.code == code_pb2.UNAUTHENTICATED


async def test_revoked_key_refused_by_other_instance_through_pubsub(auth_settings, gw_settings):
    """Revoking through the auth service reaches a second gateway instance's caches by pub/sub, long before
    its in-process cache would expire (how soon is a figure: `python -m bench.revocation`)."""
    slow_expiry = dataclasses.replace(gw_settings, local_cache_ttl_s=600.0)
    async with mesh(auth_settings, gw_settings, slow_expiry) as (auth, [(app_a, authz_a, _), (app_b, authz_b, _)]):
        await asyncio.wait_for(app_b.keys.subscribed.wait(), 5)
        key = await new_key(auth, ["nmt"])
        for authz in (authz_a, authz_b):  # both instances now hold the key in their caches
            assert (await authz.Check(check_request(NMT, {"x-api-key": key}), timeout=5)).status.code == 0
        assert app_b.keys._local, "instance B should have cached the key"
        await auth.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=key.split("_")[1]), metadata=ADMIN, timeout=10)
        for _ in range(500):
            answer = await authz_b.Check(check_request(NMT, {"x-api-key": key}), timeout=5)
            if answer.status.code == code_pb2.UNAUTHENTICATED:
                break
            await asyncio.sleep(0.02)
        assert answer.status.code == code_pb2.UNAUTHENTICATED, "revoked key still accepted by instance B"


async def test_failed_attempts_limited_per_address(auth_settings, gw_settings):
    """After the allowed failures from one address, even a valid key from it gets 429; other addresses don't."""
    async with mesh(auth_settings, gw_settings) as (auth, [(_app, authz, _rls)]):
        key = await new_key(auth, ["nmt"])
        address = f"192.0.2.{uuid.uuid4().int % 250}"
        for _ in range(gw_settings.failed_attempts_per_minute):
            answer = await authz.Check(check_request(NMT, {"x-api-key": "ai4vc_00_bad"}, address), timeout=5)
            assert answer.status.code == code_pb2.UNAUTHENTICATED
        answer = await authz.Check(check_request(NMT, {"x-api-key": key}, address), timeout=5)
        assert answer.status.code == code_pb2.RESOURCE_EXHAUSTED
        assert answer.denied_response.status.code == 429 and headers_of(answer)["retry-after"] == "60"
        assert (await authz.Check(check_request(NMT, {"x-api-key": key}), timeout=5)).status.code == code_pb2.OK


def rl_request(key_id: str, method: str = NMT) -> rls_pb2.RateLimitRequest:
    request = rls_pb2.RateLimitRequest(domain="ai4vc")
    descriptor = request.descriptors.add()
    for k, v in (("key_id", key_id), ("method", method)):
        entry = descriptor.entries.add()
        entry.key, entry.value = k, v
    return request


async def test_ratelimit_over_limit_after_quota(auth_settings, gw_settings):
    """A key with requests_per_minute N gets OK N times, then OVER_LIMIT with a retry-after header."""
    async with mesh(auth_settings, gw_settings) as (auth, [(_app, _authz, rls)]):
        key_id = (await new_key(auth, ["nmt"], requests_per_minute=3)).split("_")[1]
        codes = [(await rls.ShouldRateLimit(rl_request(key_id), timeout=5)).overall_code for _ in range(3)]
        assert codes == [rls_pb2.RateLimitResponse.OK] * 3
        answer = await rls.ShouldRateLimit(rl_request(key_id), timeout=5)
    # The window might just have rolled over between calls; then the 4th call is OK and that's not a bug.
    if answer.overall_code == rls_pb2.RateLimitResponse.OVER_LIMIT:
        retry = {h.key: h.value for h in answer.response_headers_to_add}["retry-after"]
        assert 1 <= int(retry) <= 60
        assert answer.statuses[0].current_limit.requests_per_unit == 3
    else:
        assert answer.statuses[0].limit_remaining == 2


async def test_daily_character_quota(auth_settings, gw_settings, redis_server):
    """Usage recorded by services past characters_per_day makes the key OVER_LIMIT until UTC midnight."""
    async with mesh(auth_settings, gw_settings) as (auth, [(_app, _authz, rls)]):
        key_id = (await new_key(auth, ["nmt"], characters_per_day=100)).split("_")[1]
        assert (await rls.ShouldRateLimit(rl_request(key_id), timeout=5)).overall_code == 1
        redis = redis_client.create(redis_server.url)
        try:
            await record_usage(redis, key_id, characters=60)
            assert (await rls.ShouldRateLimit(rl_request(key_id), timeout=5)).overall_code == 1
            await record_usage(redis, key_id, characters=60)
        finally:
            await redis.aclose()
        answer = await rls.ShouldRateLimit(rl_request(key_id), timeout=5)
        assert answer.overall_code == rls_pb2.RateLimitResponse.OVER_LIMIT


async def test_ratelimit_falls_back_when_redis_is_down(auth_settings, gw_settings):
    """With Redis unreachable the limit still holds (in-process token bucket) and ratelimit_fallback counts it."""
    dead = dataclasses.replace(gw_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with mesh(auth_settings, dead) as (auth, [(app, authz, rls)]):
        key = await new_key(auth, ["nmt"], requests_per_minute=2)
        # Authz still works without Redis: the key comes from PostgreSQL.
        assert (await authz.Check(check_request(NMT, {"x-api-key": key}), timeout=5)).status.code == code_pb2.OK
        key_id = key.split("_")[1]
        codes = [(await rls.ShouldRateLimit(rl_request(key_id), timeout=5)).overall_code for _ in range(3)]
        assert codes == [1, 1, 2]  # OK, OK, OVER_LIMIT
        assert app.limiter.fallbacks._value.get() >= 3


async def test_gateway_health(gw_settings, auth_settings):
    """The gateway reports SERVING once the key table answers."""
    async with running(auth_settings, auth_app.create), running(gw_settings, gateway_app.create) as (_a, _h, ch):
        assert await health_status(ch) == 1


# -- the edge's control plane ----------------------------------------------------------------------

def _published(routes_dir) -> dict[str, str]:
    """The per-key parts of the published routes: users, identity code, guard code."""
    document = json.loads((routes_dir / "routes.json").read_text())
    per_filter = document["resources"][0]["virtual_hosts"][0]["typed_per_filter_config"]
    return {"users": per_filter["ai4vc.basic_auth"]["users"]["inline_string"],
            "identity": per_filter["ai4vc.identity"]["source_code"]["inline_string"],
            "guard": per_filter["ai4vc.guard"]["source_code"]["inline_string"]}


async def _eventually(check, timeout_s: float = 2.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not published in time"
        await asyncio.sleep(0.02)


@pytest.fixture
def edge_settings(gw_settings, tmp_path) -> GatewaySettings:
    (tmp_path / "routes").mkdir()
    skeleton = render_routes([Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", 1)])])
    (tmp_path / "routes.base.json").write_text(json.dumps(skeleton))
    (tmp_path / "access.log").write_text("")
    return dataclasses.replace(gw_settings, envoy_routes_dir=str(tmp_path / "routes"),
                               envoy_access_log=str(tmp_path / "access.log"))


async def test_control_plane_publishes_created_and_revoked_keys(auth_settings, edge_settings):
    """A key created through auth appears in the published routes (htpasswd + identity) within a
    second, and disappears from them when revoked."""
    routes_dir = Path(edge_settings.envoy_routes_dir)
    async with mesh(auth_settings, edge_settings) as (auth, [(app, _authz, _rls)]):
        await asyncio.wait_for(app.edge.published.wait(), 5)
        key = await new_key(auth, ["nmt"], requests_per_minute=5)
        key_id = key.split("_")[1]
        await _eventually(lambda: f"{key_id}:{{SHA}}" in _published(routes_dir)["users"])
        assert f"{key_id} admin nmt " in _published(routes_dir)["identity"]
        await auth.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=key_id), metadata=ADMIN, timeout=10)
        await _eventually(lambda: key_id not in _published(routes_dir)["users"])


async def test_control_plane_publishes_logged_out_sessions(auth_settings, edge_settings):
    """Logout publishes the session id as revoked (Envoy then refuses its access tokens)."""
    routes_dir = Path(edge_settings.envoy_routes_dir)
    async with mesh(auth_settings, edge_settings) as (auth, [(app, _authz, _rls)]):
        await auth.CreateUser(pb.CreateUserRequest(username="ravi", password="correct horse battery",
                                                   scopes=["nmt"]), metadata=ADMIN, timeout=10)
        login = await auth.Login(pb.LoginRequest(username="ravi", password="correct horse battery"), timeout=10)
        await auth.Logout(pb.LogoutRequest(refresh_token=login.refresh_token), timeout=10)
        session = login.refresh_token.split("_")[1]
        await _eventually(lambda: session in _published(routes_dir)["identity"].split("]==]")[1])


async def test_control_plane_blocks_exhausted_quota_and_failed_attempts(auth_settings, edge_settings, redis_server):
    """Metered usage past a daily quota blocks the key; failed attempts in Envoy's access log block
    the (address, key) pair for a known key and the address for unknown ones."""
    routes_dir = Path(edge_settings.envoy_routes_dir)
    async with mesh(auth_settings, edge_settings) as (auth, [(app, _authz, _rls)]):
        key_id = (await new_key(auth, ["nmt"], characters_per_day=10)).split("_")[1]
        await _eventually(lambda: key_id in _published(routes_dir)["users"])
        redis = redis_client.create(redis_server.url)
        try:
            await record_usage(redis, key_id, characters=10)
        finally:
            await redis.aclose()
        await _eventually(lambda: f"k {key_id} " in _published(routes_dir)["guard"])
        lines = [json.dumps({"status": "401", "client": "192.0.2.7", "credential": "key", "key_id": key_id}),
                 json.dumps({"status": "401", "client": "192.0.2.8", "credential": "bearer", "key_id": "-"})]
        text = "\n".join(lines * edge_settings.failed_attempts_per_minute) + "\n"
        await asyncio.to_thread(Path(edge_settings.envoy_access_log).write_text, text)
        await _eventually(lambda: f"p 192.0.2.7|{key_id} " in _published(routes_dir)["guard"]
                          and "a 192.0.2.8 " in _published(routes_dir)["guard"])
        assert "a 192.0.2.7 " not in _published(routes_dir)["guard"]
