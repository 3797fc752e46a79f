"""The auth service in-process (production factory and interceptors) against a real PostgreSQL
schema and a real Redis: users, sessions, API keys, audit trail, bootstrap and CLI."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys

import asyncpg
import grpc
import pytest

from ai4vc.auth.v1 import auth_service_pb2 as pb
from ai4vc.auth.v1 import auth_service_pb2_grpc as pb_grpc
from services.auth import app as auth_app
from services.auth.settings import AuthSettings
from services.common import credentials as gw_credentials
from services.common.logs import JsonFormatter
from tests.errors_util import error_info
from tests.service.harness import health_status, running

JWT_SECRET = "j" * 40
PEPPER = "pepper-for-tests-0123"
ADMIN = (("x-ai4vc-principal", "admin"), ("x-ai4vc-scopes", "admin"))


@pytest.fixture
def settings(pg_schema, redis_server, tmp_path) -> AuthSettings:
    url, schema = pg_schema
    return AuthSettings(port=0, metrics_port=-1, database_url=url, database_schema=schema,
                        redis_url=redis_server.url, jwt_secret=JWT_SECRET, key_pepper=PEPPER, log_json=False,
                        bootstrap_key_file=str(tmp_path / "admin.key"))


async def _fetch(settings: AuthSettings, query: str, *args):
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def _user(stub, username: str, scopes: list[str], password: str = "correct horse battery") -> None:
    await stub.CreateUser(pb.CreateUserRequest(username=username, password=password, scopes=scopes),
                          metadata=ADMIN, timeout=10)


async def test_bootstrap_admin_once_with_private_key_file(settings, tmp_path):
    """Start-up creates the admin user and an admin key once, in a 0600 file; a second run creates nothing."""
    async with running(settings, auth_app.create) as (app, _handle, channel):
        assert await health_status(channel) == 1
        key_file = tmp_path / "admin.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert gw_credentials.parse_key(key_file.read_text().strip()) is not None
        assert not await auth_app.ensure_bootstrap_admin(app.core.pool, str(tmp_path / "again.key"), settings)
        assert not (tmp_path / "again.key").exists()
    rows = await _fetch(settings, "SELECT username, scopes FROM users")
    assert [(r["username"], list(r["scopes"])) for r in rows] == [("admin", ["admin"])]


async def test_api_key_secret_shown_once_and_stored_hashed(settings, caplog):
    """CreateApiKey returns the secret once; ListApiKeys never does; the DB and the logs hold no secret."""
    caplog.set_level(logging.DEBUG)
    async with running(settings, auth_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AuthServiceStub(channel)
        created = await stub.CreateApiKey(pb.CreateApiKeyRequest(
            display_name="mobile app", scopes=["nmt", "asr"], quota=pb.Quota(requests_per_minute=5)),
            metadata=ADMIN, timeout=10)
        key_id, secret = gw_credentials.parse_key(created.key)
        assert created.api_key.key_id == key_id and list(created.api_key.scopes) == ["asr", "nmt"]
        listed = await stub.ListApiKeys(pb.ListApiKeysRequest(), metadata=ADMIN, timeout=10)
    assert key_id in {k.key_id for k in listed.api_keys}
    assert secret not in str(listed)
    rows = await _fetch(settings, "SELECT * FROM api_keys WHERE key_id = $1", key_id)
    assert secret not in " ".join(str(v) for v in rows[0].values())
    assert gw_credentials.secret_matches(PEPPER, rows[0]["secret_salt"], rows[0]["secret_hash"], secret)
    logged = "\n".join(JsonFormatter("auth").format(r) for r in caplog.records)  # as production writes it
    assert secret not in logged and created.key not in logged
    assert key_id in logged  # the key is logged by id


async def test_key_management_is_own_keys_unless_admin(settings):
    """A user manages only its own keys and scopes it holds; others' keys read as NOT_FOUND; no identity is 401."""
    async with running(settings, auth_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AuthServiceStub(channel)
        await _user(stub, "asha", ["nmt"])
        asha = (("x-ai4vc-principal", "asha"), ("x-ai4vc-scopes", "nmt"))
        own = await stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="a", scopes=["nmt"]), metadata=asha,
                                      timeout=10)
        assert own.api_key.owner == "asha"
        admins = await stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="b", scopes=["tts"]), metadata=ADMIN,
                                         timeout=10)
        cases = [
            (stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="c", scopes=["tts"]), metadata=asha, timeout=10),
             grpc.StatusCode.PERMISSION_DENIED, "SCOPE_NOT_HELD"),
            (stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="c", scopes=["nmt"], owner="admin"),
                               metadata=asha, timeout=10), grpc.StatusCode.PERMISSION_DENIED, "ADMIN_REQUIRED"),
            (stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=admins.api_key.key_id), metadata=asha, timeout=10),
             grpc.StatusCode.NOT_FOUND, "KEY_NOT_FOUND"),
            (stub.CreateUser(pb.CreateUserRequest(username="x" * 5, password="p" * 12), metadata=asha, timeout=10),
             grpc.StatusCode.PERMISSION_DENIED, "ADMIN_REQUIRED"),
            (stub.ListApiKeys(pb.ListApiKeysRequest(), timeout=10), grpc.StatusCode.UNAUTHENTICATED,
             "UNAUTHENTICATED"),
            (stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="d", scopes=["root"]), metadata=ADMIN, timeout=10),
             grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_SCOPE"),
        ]
        for call, code, reason in cases:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call
            assert err.value.code() == code
            assert error_info(err.value)[0].reason == reason
        mine = await stub.ListApiKeys(pb.ListApiKeysRequest(), metadata=asha, timeout=10)
        assert [k.key_id for k in mine.api_keys] == [own.api_key.key_id]


async def test_list_paginates(settings):
    """ListApiKeys pages with page_size and next_page_token, newest first, and hides revoked keys by default."""
    async with running(settings, auth_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AuthServiceStub(channel)
        ids = []
        for i in range(5):
            made = await stub.CreateApiKey(pb.CreateApiKeyRequest(display_name=f"k{i}", scopes=["nmt"]),
                                           metadata=ADMIN, timeout=10)
            ids.append(made.api_key.key_id)
        await stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=ids[0]), metadata=ADMIN, timeout=10)
        seen, token = [], ""
        while True:
            page = await stub.ListApiKeys(pb.ListApiKeysRequest(page_size=2, page_token=token, owner="admin"),
                                          metadata=ADMIN, timeout=10)
            seen += [k.key_id for k in page.api_keys if k.display_name.startswith("k")]
            token = page.next_page_token
            if not token:
                break
        assert sorted(seen) == sorted(ids[1:])
        every = await stub.ListApiKeys(pb.ListApiKeysRequest(show_revoked=True, page_size=100), metadata=ADMIN,
                                       timeout=10)
        assert ids[0] in {k.key_id for k in every.api_keys}


async def test_revoke_and_rotate_write_audit_rows(settings):
    """Rotation keeps the id and changes the secret; revocation is final; every change has an audit row."""
    async with running(settings, auth_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AuthServiceStub(channel)
        made = await stub.CreateApiKey(pb.CreateApiKeyRequest(display_name="r", scopes=["tts"]), metadata=ADMIN,
                                       timeout=10)
        key_id = made.api_key.key_id
        rotated = await stub.RotateApiKey(pb.RotateApiKeyRequest(key_id=key_id), metadata=ADMIN, timeout=10)
        assert rotated.key != made.key and gw_credentials.parse_key(rotated.key)[0] == key_id
        revoked = await stub.RevokeApiKey(pb.RevokeApiKeyRequest(key_id=key_id), metadata=ADMIN, timeout=10)
        assert revoked.api_key.HasField("revoke_time")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RotateApiKey(pb.RotateApiKeyRequest(key_id=key_id), metadata=ADMIN, timeout=10)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        await _user(stub, "ravi", ["asr"])
    rows = await _fetch(settings, "SELECT actor, action, target_id FROM audit_logs ORDER BY id")
    actions = [(r["actor"], r["action"], r["target_id"]) for r in rows]
    assert ("admin", "key.create", key_id) in actions
    assert ("admin", "key.rotate", key_id) in actions
    assert ("admin", "key.revoke", key_id) in actions
    assert ("admin", "user.create", "ravi") in actions
    assert ("system", "user.create", "admin") in actions


async def test_login_refresh_logout(settings):
    """Login gives a 15-minute JWT and a single-use refresh token; Logout kills the session's refresh token."""
    async with running(settings, auth_app.create) as (_app, _handle, channel):
        stub = pb_grpc.AuthServiceStub(channel)
        await _user(stub, "meera", ["tts", "nmt"])
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Login(pb.LoginRequest(username="meera", password="wrong password!"), timeout=10,
                             metadata=(("x-envoy-external-address", "203.0.113.7"),))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(err.value)[0].reason == "INVALID_CREDENTIALS"
        login = await stub.Login(pb.LoginRequest(username="meera", password="correct horse battery"), timeout=10)
        claims = gw_credentials.verify_jwt(JWT_SECRET, login.access_token)
        assert claims.subject == "meera" and claims.scopes == {"tts", "nmt"}
        assert login.access_token_expire_time.seconds == claims.expire
        assert 890 <= claims.expire - login.access_token_expire_time.ToDatetime().timestamp() + 900 <= 910
        refreshed = await stub.Refresh(pb.RefreshRequest(refresh_token=login.refresh_token), timeout=10)
        assert gw_credentials.verify_jwt(JWT_SECRET, refreshed.access_token).session_id == claims.session_id
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Refresh(pb.RefreshRequest(refresh_token=login.refresh_token), timeout=10)
        assert error_info(err.value)[0].reason == "INVALID_REFRESH_TOKEN"
        await stub.Logout(pb.LogoutRequest(refresh_token=refreshed.refresh_token), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.Refresh(pb.RefreshRequest(refresh_token=refreshed.refresh_token), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    rows = await _fetch(settings, "SELECT action FROM audit_logs WHERE actor = 'meera' ORDER BY id")
    assert [r["action"] for r in rows] == ["session.login_failed", "session.login", "session.logout"]
    failed = await _fetch(settings, "SELECT details FROM audit_logs WHERE action = 'session.login_failed'")
    assert json.loads(failed[0]["details"]) == {"address": "203.0.113.7"}  # what failed-login alert rules count


async def test_cli_create_key_prints_a_working_key(settings):
    """`python -m services.auth.cli create-key` prints a key whose hash the database holds."""
    async with running(settings, auth_app.create):
        pass  # migrations and the admin user
    env = dict(os.environ, AI4VC_DATABASE_URL=settings.database_url,
               AI4VC_AUTH_DATABASE_SCHEMA=settings.database_schema, AI4VC_KEY_PEPPER=PEPPER,
               PYTHONPATH=os.pathsep.join(["gen/python", "."]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.auth.cli", "create-key", "--name", "batch", "--scopes", "nmt,asr",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    key_id, secret = gw_credentials.parse_key(stdout.decode().strip())
    rows = await _fetch(settings, "SELECT * FROM api_keys WHERE key_id = $1", key_id)
    assert list(rows[0]["scopes"]) == ["asr", "nmt"]
    assert gw_credentials.secret_matches(PEPPER, rows[0]["secret_salt"], rows[0]["secret_hash"], secret)
    assert secret not in stderr.decode()
