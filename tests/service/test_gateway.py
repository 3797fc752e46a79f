"""The gateway in-process with the production factory, next to the auth service, sharing a real
PostgreSQL schema and a real Redis: the edge's control plane (what it publishes for Envoy). What
Envoy then decides with it is tested through a real Envoy in tests/e2e/test_edge_*.py."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import time
from pathlib import Path

import pytest

from ai4vc.auth.v1 import auth_service_pb2 as pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as pb_grpc
from deploy.local.envoy_config import Upstream, render_routes
from gateway import app as gateway_app
from gateway.edge import plane
from gateway.settings import GatewaySettings
from services.auth import app as auth_app
from services.auth.settings import AuthSettings
from services.common.backends import redis_client
from services.common.backends.usage import record_usage
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
                           log_json=False, failed_attempts_per_minute=5)


@contextlib.asynccontextmanager
async def mesh(auth_settings, *gateways):
    """The auth service and one gateway per settings object; yields (auth stub, [gateway app])."""
    async with contextlib.AsyncExitStack() as stack:
        _app, _h, auth_channel = await stack.enter_async_context(running(auth_settings, auth_app.create))
        out = []
        for settings in gateways:
            app, _h, channel = await stack.enter_async_context(running(settings, gateway_app.create))
            out.append(app)
        yield pb_grpc.AuthServiceStub(auth_channel), out


async def new_key(stub, scopes: list[str], **quota) -> str:
    made = await stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="t", scopes=scopes, quota=pb.Quota(**quota)),
                                   metadata=ADMIN, timeout=10)
    return made.key


async def test_gateway_health(gw_settings, auth_settings):
    """The gateway reports SERVING once the key table answers."""
    async with running(auth_settings, auth_app.create), running(gw_settings, gateway_app.create) as (_a, _h, ch):
        assert await health_status(ch) == 1


# -- the edge's control plane ----------------------------------------------------------------------

def _text(source: dict[str, str]) -> str:
    """A DataSource's text: inline, or the data file the control plane wrote beside the routes."""
    return source["inline_string"] if "inline_string" in source else Path(source["filename"]).read_text()


def _published(routes_dir) -> dict[str, str]:
    """The per-key parts of the published routes: users, identity code (with the key records it
    reads from their file), guard code."""
    document = json.loads((routes_dir / "routes.json").read_text())
    per_filter = document["resources"][0]["virtual_hosts"][0]["typed_per_filter_config"]
    identity = _text(per_filter["ai4vc.identity"]["source_code"])
    records = re.match(r"KEYS_FILE = \[==\[(.*?)\]==\]", identity)
    return {"users": _text(per_filter["ai4vc.basic_auth"]["users"]),
            "identity": identity + (Path(records.group(1)).read_text() if records else ""),
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
    async with mesh(auth_settings, edge_settings) as (auth, [app]):
        await asyncio.wait_for(app.edge.published.wait(), 5)
        key = await new_key(auth, ["nmt"], requests_per_minute=5)
        key_id = key.split("_")[1]
        await _eventually(lambda: f"{key_id}:{{SHA}}" in _published(routes_dir)["users"])
        assert f"{key_id} admin nmt " in _published(routes_dir)["identity"]
        await auth.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=key_id), metadata=ADMIN, timeout=10)
        await _eventually(lambda: key_id not in _published(routes_dir)["users"])


async def test_control_plane_does_not_republish_an_unchanged_state(auth_settings, edge_settings):
    """A full re-read that changed nothing leaves routes.json (and Envoy) alone; the next real change
    (a logout) is published, and no data file is written for it (the key texts did not change)."""
    routes_dir = Path(edge_settings.envoy_routes_dir)
    async with mesh(auth_settings, edge_settings) as (auth, [app]):
        await asyncio.wait_for(app.edge.published.wait(), 5)
        key_id = (await new_key(auth, ["nmt"])).split("_")[1]
        await _eventually(lambda: key_id in _published(routes_dir)["users"])
        routes = (routes_dir / "routes.json").stat().st_ino
        data = sorted(p.name for p in (routes_dir / "data").iterdir())
        await app.edge.load()
        await app.edge.publish_now()
        assert (routes_dir / "routes.json").stat().st_ino == routes
        await auth.CreateUser(pb.CreateUserRequest(username="mira", password="correct horse battery",
                                                   scopes=["nmt"]), metadata=ADMIN, timeout=10)
        login = await auth.Login(pb.LoginRequest(username="mira", password="correct horse battery"), timeout=10)
        await auth.Logout(pb.LogoutRequest(refresh_token=login.refresh_token), timeout=10)
        await _eventually(lambda: (routes_dir / "routes.json").stat().st_ino != routes)
        assert sorted(p.name for p in (routes_dir / "data").iterdir()) == data


async def test_control_plane_publishes_logged_out_sessions(auth_settings, edge_settings):
    """Logout publishes the session id as revoked (Envoy then refuses its access tokens)."""
    routes_dir = Path(edge_settings.envoy_routes_dir)
    async with mesh(auth_settings, edge_settings) as (auth, [app]):
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
    async with mesh(auth_settings, edge_settings) as (auth, [app]):
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


async def test_limits_are_divided_across_the_envoys_whose_control_planes_beat_in_redis(
        auth_settings, edge_settings, redis_server):
    """Each control plane beats in Redis; a second Envoy's (another host) republishes the routes with
    every call costing twice its tokens, its heartbeat stopping brings it back to once; a fixed
    `edge_replicas` divides by that and writes no heartbeat."""
    routes_dir = Path(edge_settings.envoy_routes_dir)
    settings = dataclasses.replace(edge_settings, edge_peer_interval_s=0.1)
    redis = redis_client.create(redis_server.url)
    try:
        async with mesh(auth_settings, settings) as (_auth, [app]):
            await _eventually(lambda: "SHARE, BUCKET_TOKENS = 1," in _published(routes_dir)["identity"])
            assert await redis.zscore(plane.EDGE_PEERS_KEY, app.edge.peer_id) is not None
            other = "another-host:/etc/ai4vc-edge/routes"
            await redis.zadd(plane.EDGE_PEERS_KEY, {other: time.time() + 0.5})
            await _eventually(lambda: "SHARE, BUCKET_TOKENS = 2," in _published(routes_dir)["identity"])
            # No more beats from it: out within 3 heartbeats of its last one.
            await _eventually(lambda: "SHARE, BUCKET_TOKENS = 1," in _published(routes_dir)["identity"], 3.0)
        assert await redis.zscore(plane.EDGE_PEERS_KEY, app.edge.peer_id) is None  # left on close
        fixed = dataclasses.replace(edge_settings, edge_replicas=3)
        async with mesh(auth_settings, fixed) as (_auth, [app]):
            await _eventually(lambda: "SHARE, BUCKET_TOKENS = 3," in _published(routes_dir)["identity"])
            assert await redis.zscore(plane.EDGE_PEERS_KEY, app.edge.peer_id) is None
    finally:
        await redis.aclose()
