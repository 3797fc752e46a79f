"""The config service in-process (production factory and interceptors) against a real PostgreSQL
schema: values, paging, versions and conflicts, schemas, history and rollback, deletion, audit and
outbox rows, watches across replicas (LISTEN/NOTIFY), scopes, and the live-settings client."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import grpc
import pytest
from google.protobuf import struct_pb2

from ai4vc.config.v1 import config_service_pb2 as pb
from ai4vc.config.v1 import config_service_pb2_grpc as pb_grpc
from ai4vc.events.v1 import events_pb2
from services.common.rpc.live_config import LiveConfig
from services.config import app as config_app
from services.config.settings import ConfigSettings
from tests.errors_util import error_info
from tests.service.harness import health_status, running

ADMIN = (("x-ai4vc-principal", "admin"), ("x-ai4vc-scopes", "admin"))
OPERATOR = (("x-ai4vc-principal", "ops"), ("x-ai4vc-scopes", "config"))
READER = (("x-ai4vc-principal", "asha"), ("x-ai4vc-scopes", "nmt"))


def num(value: float) -> struct_pb2.Value:
    return struct_pb2.Value(number_value=value)


def obj(**fields: object) -> struct_pb2.Value:
    value = struct_pb2.Value()
    value.struct_value.update(fields)
    return value


@pytest.fixture
def settings(pg_schema) -> ConfigSettings:
    url, schema = pg_schema
    return ConfigSettings(port=0, metrics_port=-1, database_url=url, database_schema=schema, log_json=False)


async def _fetch(settings: ConfigSettings, query: str, *args):
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": settings.database_schema})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def _refused(call, code: grpc.StatusCode, reason: str, field: str | None = None) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    info, fields = error_info(err.value)
    assert info is not None and info.reason == reason, (info, err.value.details())
    if field is not None:
        assert info.metadata["field"] == field and fields == [field]


async def test_set_get_and_list_pages(settings):
    """SetConfig stores a value at version 1, GetConfig returns it, ListConfigs pages a namespace by key."""
    async with running(settings, config_app.create) as (_app, _handle, channel):
        assert await health_status(channel) == 1
        stub = pb_grpc.ConfigServiceStub(channel)
        made = await stub.SetConfig(pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(64)),
                                    metadata=ADMIN, timeout=10)
        assert made.config.version == 1 and made.config.value.number_value == 64
        assert made.config.update_principal == "admin"
        got = await stub.GetConfig(pb.GetConfigRequest(namespace="nmt", key="max_contents"), metadata=READER,
                                   timeout=10)
        assert got.config == made.config
        for flag in ("zeta", "alpha", "mid", "beta", "omega"):
            await stub.SetConfig(pb.SetConfigRequest(namespace="features", key=flag,
                                                     value=struct_pb2.Value(bool_value=True)),
                                 metadata=OPERATOR, timeout=10)
        seen, token = [], ""
        while True:
            page = await stub.ListConfigs(pb.ListConfigsRequest(namespace="features", page_size=2, page_token=token),
                                          metadata=READER, timeout=10)
            assert len(page.configs) <= 2
            seen += [c.key for c in page.configs]
            token = page.next_page_token
            if not token:
                break
        assert seen == ["alpha", "beta", "mid", "omega", "zeta"]
        await _refused(stub.ListConfigs(pb.ListConfigsRequest(namespace="features", page_token="nope"),
                                        metadata=READER, timeout=10),
                       grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN", "page_token")


async def test_expected_version_mismatch_is_aborted(settings):
    """expected_version 0 creates only when absent; a stale version is ABORTED with VERSION_MISMATCH."""
    async with running(settings, config_app.create) as (_app, _handle, channel):
        stub = pb_grpc.ConfigServiceStub(channel)
        request = pb.SetConfigRequest(namespace="limits", key="default_requests_per_minute", value=num(600),
                                      expected_version=0)
        first = await stub.SetConfig(request, metadata=ADMIN, timeout=10)
        assert first.config.version == 1
        await _refused(stub.SetConfig(request, metadata=ADMIN, timeout=10), grpc.StatusCode.ABORTED,
                       "VERSION_MISMATCH", "expected_version")
        second = await stub.SetConfig(pb.SetConfigRequest(namespace="limits", key="default_requests_per_minute",
                                                          value=num(900), expected_version=1),
                                      metadata=ADMIN, timeout=10)
        assert second.config.version == 2
        await _refused(stub.SetConfig(pb.SetConfigRequest(namespace="limits", key="default_requests_per_minute",
                                                          value=num(1), expected_version=1),
                                      metadata=ADMIN, timeout=10), grpc.StatusCode.ABORTED, "VERSION_MISMATCH")
        # Racing writers on one version: exactly one wins.
        racing = [stub.SetConfig(pb.SetConfigRequest(namespace="limits", key="default_requests_per_minute",
                                                     value=num(100 + i), expected_version=2),
                                 metadata=ADMIN, timeout=10) for i in range(4)]
        results = await asyncio.gather(*racing, return_exceptions=True)
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(r.code() == grpc.StatusCode.ABORTED for r in results if isinstance(r, grpc.aio.AioRpcError))


@pytest.mark.parametrize(("namespace", "key", "value", "reason", "field"), [
    ("nmt", "max_contents", num(0), "INVALID_VALUE", "value"),
    ("nmt", "max_contents", num(2.5), "INVALID_VALUE", "value"),
    ("nmt", "max_contents", struct_pb2.Value(string_value="2"), "INVALID_VALUE", "value"),
    ("asr", "endpointing", obj(vad_aggressiveness=9), "INVALID_VALUE", "value.vad_aggressiveness"),
    ("asr", "endpointing", obj(vad_preroll_ms=100, loudness=1), "INVALID_VALUE", "value.loudness"),
    ("tts", "default_voice", obj(hi=""), "INVALID_VALUE", "value.hi"),
    ("features", "dark_mode", num(1), "INVALID_VALUE", "value"),
    ("features", "Bad-Key", struct_pb2.Value(bool_value=True), "UNKNOWN_CONFIG_KEY", "key"),
    ("nmt", "max_content", num(2), "UNKNOWN_CONFIG_KEY", "key"),
    ("billing", "anything", num(2), "UNKNOWN_NAMESPACE", "namespace"),
    ("", "max_contents", num(2), "FIELD_REQUIRED", "namespace"),
    ("nmt", "max_contents", None, "FIELD_REQUIRED", "value"),
], ids=["below-range", "fraction", "wrong-type", "object-property", "unknown-property", "blank-voice",
        "flag-not-bool", "bad-flag-key", "unknown-key", "unknown-namespace", "no-namespace", "no-value"])
async def test_schema_violation_is_invalid_argument_naming_the_field(settings, namespace, key, value, reason, field):
    """A value that breaks its key's schema, or an unknown namespace/key, is INVALID_ARGUMENT naming the field."""
    async with running(settings, config_app.create) as (_app, _handle, channel):
        stub = pb_grpc.ConfigServiceStub(channel)
        request = pb.SetConfigRequest(namespace=namespace, key=key)
        if value is not None:
            request.value.CopyFrom(value)
        await _refused(stub.SetConfig(request, metadata=ADMIN, timeout=10), grpc.StatusCode.INVALID_ARGUMENT,
                       reason, field)
        assert not await _fetch(settings, "SELECT 1 FROM config_versions")


async def test_valid_values_of_every_shipped_namespace_are_stored(settings):
    """Each shipped namespace accepts a value that matches its schema, normalized (whole numbers as integers)."""
    async with running(settings, config_app.create) as (_app, _handle, channel):
        stub = pb_grpc.ConfigServiceStub(channel)
        for namespace, key, value in [
            ("asr", "endpointing", obj(vad_aggressiveness=3, vad_preroll_ms=200, stream_idle_timeout_s=12.5)),
            ("tts", "default_voice", obj(**{"hi": "hi-female", "ta-IN": "ta"})),
            ("limits", "default_requests_per_minute", num(1200)),
            ("features", "streaming_tts", struct_pb2.Value(bool_value=False)),
        ]:
            made = await stub.SetConfig(pb.SetConfigRequest(namespace=namespace, key=key, value=value),
                                        metadata=ADMIN, timeout=10)
            assert made.config.value == value
    rows = await _fetch(settings, "SELECT value::text FROM config_values WHERE key = 'endpointing'")
    assert '"vad_aggressiveness": 3' in rows[0]["value"]


async def test_history_and_rollback_make_new_versions(settings):
    """Every change is a version, newest first and paged; rollback restores an old value as a new version."""
    async with running(settings, config_app.create) as (_app, _handle, channel):
        stub = pb_grpc.ConfigServiceStub(channel)
        for n in (10, 20, 30):
            await stub.SetConfig(pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(n)),
                                 metadata=ADMIN, timeout=10)
        rolled = await stub.RollbackConfig(pb.RollbackConfigRequest(namespace="nmt", key="max_contents", version=1,
                                                                    expected_version=3),
                                           metadata=OPERATOR, timeout=10)
        assert rolled.config.version == 4 and rolled.config.value.number_value == 10
        got = await stub.GetConfig(pb.GetConfigRequest(namespace="nmt", key="max_contents"), metadata=READER,
                                   timeout=10)
        assert got.config.version == 4 and got.config.update_principal == "ops"
        versions, token = [], ""
        while True:
            page = await stub.ListConfigVersions(pb.ListConfigVersionsRequest(
                namespace="nmt", key="max_contents", page_size=3, page_token=token), metadata=READER, timeout=10)
            versions += list(page.versions)
            token = page.next_page_token
            if not token:
                break
        assert [v.version for v in versions] == [4, 3, 2, 1]
        assert [v.action for v in versions] == [pb.CONFIG_ACTION_ROLLED_BACK] + [pb.CONFIG_ACTION_SET] * 3
        assert versions[0].restored_version == 1 and versions[0].principal == "ops"
        assert [v.value.number_value for v in versions] == [10, 30, 20, 10]
        await _refused(stub.RollbackConfig(pb.RollbackConfigRequest(namespace="nmt", key="max_contents", version=9),
                                           metadata=ADMIN, timeout=10),
                       grpc.StatusCode.NOT_FOUND, "VERSION_NOT_FOUND", "version")
        await _refused(stub.RollbackConfig(pb.RollbackConfigRequest(namespace="nmt", key="max_contents", version=2,
                                                                    expected_version=3),
                                           metadata=ADMIN, timeout=10), grpc.StatusCode.ABORTED, "VERSION_MISMATCH")
        await stub.DeleteConfig(pb.DeleteConfigRequest(namespace="nmt", key="max_contents"), metadata=ADMIN,
                                timeout=10)
        await _refused(stub.RollbackConfig(pb.RollbackConfigRequest(namespace="nmt", key="max_contents", version=5),
                                           metadata=ADMIN, timeout=10),
                       grpc.StatusCode.FAILED_PRECONDITION, "VERSION_NOT_RESTORABLE", "version")
        back = await stub.RollbackConfig(pb.RollbackConfigRequest(namespace="nmt", key="max_contents", version=2),
                                         metadata=ADMIN, timeout=10)
        assert back.config.version == 6 and back.config.value.number_value == 20


async def test_delete_keeps_history_and_every_change_is_audited_and_published(settings):
    """DeleteConfig removes the value (then NOT_FOUND), keeps history, and each change has an audit row and an event."""
    async with running(settings, config_app.create) as (_app, _handle, channel):
        stub = pb_grpc.ConfigServiceStub(channel)
        await stub.SetConfig(pb.SetConfigRequest(namespace="features", key="beta_ui",
                                                 value=struct_pb2.Value(bool_value=True)), metadata=ADMIN, timeout=10)
        await _refused(stub.DeleteConfig(pb.DeleteConfigRequest(namespace="features", key="beta_ui",
                                                                expected_version=7), metadata=ADMIN, timeout=10),
                       grpc.StatusCode.ABORTED, "VERSION_MISMATCH")
        deleted = await stub.DeleteConfig(pb.DeleteConfigRequest(namespace="features", key="beta_ui",
                                                                 expected_version=1), metadata=ADMIN, timeout=10)
        assert deleted.deleted.version == 2 and deleted.deleted.action == pb.CONFIG_ACTION_DELETED
        assert not deleted.deleted.HasField("value")
        await _refused(stub.GetConfig(pb.GetConfigRequest(namespace="features", key="beta_ui"), metadata=READER,
                                      timeout=10), grpc.StatusCode.NOT_FOUND, "CONFIG_NOT_FOUND", "key")
        await _refused(stub.DeleteConfig(pb.DeleteConfigRequest(namespace="features", key="beta_ui"),
                                         metadata=ADMIN, timeout=10), grpc.StatusCode.NOT_FOUND, "CONFIG_NOT_FOUND")
        listed = await stub.ListConfigs(pb.ListConfigsRequest(namespace="features"), metadata=READER, timeout=10)
        assert not listed.configs
        history = await stub.ListConfigVersions(pb.ListConfigVersionsRequest(namespace="features", key="beta_ui"),
                                                metadata=READER, timeout=10)
        assert [v.action for v in history.versions] == [pb.CONFIG_ACTION_DELETED, pb.CONFIG_ACTION_SET]
    audit = await _fetch(settings, "SELECT actor, action, target_id FROM config_audit_logs ORDER BY id")
    assert [(r["actor"], r["action"], r["target_id"]) for r in audit] == [
        ("admin", "config.set", "features/beta_ui"), ("admin", "config.deleted", "features/beta_ui")]
    rows = await _fetch(settings, "SELECT topic, message_key, payload FROM event_outbox ORDER BY created_time")
    events = [events_pb2.Event.FromString(r["payload"]) for r in rows]
    assert {r["topic"] for r in rows} == {"ai4vc.config"} and {r["message_key"] for r in rows} == {"features/beta_ui"}
    assert [(e.type, e.source, e.principal) for e in events] == [("ai4vc.config.changed.v1", "config", "admin")] * 2
    changes = sorted((e.config_change for e in events), key=lambda c: c.version)
    assert [(c.version, c.action) for c in changes] == [(1, events_pb2.CONFIG_ACTION_SET),
                                                        (2, events_pb2.CONFIG_ACTION_DELETED)]
    assert changes[0].value.bool_value is True and not changes[1].HasField("value")


async def test_watch_sends_current_values_then_changes_from_any_replica(settings):
    """WatchConfig first sends a snapshot, then each change — also those written through another replica."""
    async with running(settings, config_app.create) as (_app, _handle, channel), \
            running(settings, config_app.create) as (_app2, _handle2, other):
        stub, other_stub = pb_grpc.ConfigServiceStub(channel), pb_grpc.ConfigServiceStub(other)
        await stub.SetConfig(pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(8)),
                             metadata=ADMIN, timeout=10)
        call = stub.WatchConfig(pb.WatchConfigRequest(namespace="nmt"), metadata=READER, timeout=30)
        first = await asyncio.wait_for(call.read(), 5)
        assert first.snapshot and [(c.key, c.version, c.value.number_value) for c in first.changes] == [
            ("max_contents", 1, 8)]
        await other_stub.SetConfig(pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(2)),
                                   metadata=ADMIN, timeout=10)
        # A change in another namespace is not this watch's.
        await other_stub.SetConfig(pb.SetConfigRequest(namespace="features", key="x", value=struct_pb2.Value(
            bool_value=True)), metadata=ADMIN, timeout=10)
        await other_stub.DeleteConfig(pb.DeleteConfigRequest(namespace="nmt", key="max_contents"), metadata=ADMIN,
                                      timeout=10)
        changed = await asyncio.wait_for(call.read(), 5)
        assert not changed.snapshot
        [change] = changed.changes
        assert (change.key, change.version, change.action, change.value.number_value) == (
            "max_contents", 2, pb.CONFIG_ACTION_SET, 2)
        gone = await asyncio.wait_for(call.read(), 5)
        assert [(c.version, c.action) for c in gone.changes] == [(3, pb.CONFIG_ACTION_DELETED)]
        call.cancel()
        # One key only; a key with no value gives an empty snapshot.
        single = stub.WatchConfig(pb.WatchConfigRequest(namespace="nmt", key="max_contents"), metadata=READER,
                                  timeout=30)
        empty = await asyncio.wait_for(single.read(), 5)
        assert empty.snapshot and not empty.changes
        single.cancel()
        bad = stub.WatchConfig(pb.WatchConfigRequest(namespace="nmt", key="nope"), metadata=READER, timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await bad.read()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(err.value)[0].reason == "UNKNOWN_CONFIG_KEY"


async def test_writes_need_config_or_admin_scope_reads_need_a_caller(settings):
    """A caller without "config"/"admin" cannot write (PERMISSION_DENIED); no identity at all is UNAUTHENTICATED."""
    async with running(settings, config_app.create) as (_app, _handle, channel):
        stub = pb_grpc.ConfigServiceStub(channel)
        write = pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(4))
        await _refused(stub.SetConfig(write, metadata=READER, timeout=10), grpc.StatusCode.PERMISSION_DENIED,
                       "CONFIG_WRITE_REQUIRED")
        await _refused(stub.DeleteConfig(pb.DeleteConfigRequest(namespace="nmt", key="max_contents"),
                                         metadata=READER, timeout=10),
                       grpc.StatusCode.PERMISSION_DENIED, "CONFIG_WRITE_REQUIRED")
        await _refused(stub.RollbackConfig(pb.RollbackConfigRequest(namespace="nmt", key="max_contents", version=1),
                                           metadata=READER, timeout=10),
                       grpc.StatusCode.PERMISSION_DENIED, "CONFIG_WRITE_REQUIRED")
        await _refused(stub.SetConfig(write, timeout=10), grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        await _refused(stub.GetConfig(pb.GetConfigRequest(namespace="nmt", key="max_contents"), timeout=10),
                       grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        assert (await stub.SetConfig(write, metadata=OPERATOR, timeout=10)).config.version == 1


async def test_live_config_follows_changes_and_never_blocks_when_the_service_is_away(settings):
    """LiveConfig sees a snapshot, then changes within 2 s; with the config service away it answers at once
    (last values kept), and a deletion brings the default back."""
    idle = LiveConfig("127.0.0.1:1", "nmt", service="test", backoff_initial_s=0.05)
    idle.start()
    try:
        assert idle.get_int("max_contents", 128, 1, 1024) == 128  # nothing there: the boot default
    finally:
        await idle.close()
    async with running(settings, config_app.create) as (_app, handle, channel):
        stub = pb_grpc.ConfigServiceStub(channel)
        await stub.SetConfig(pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(16)),
                             metadata=ADMIN, timeout=10)
        live = LiveConfig(f"127.0.0.1:{handle.port}", "nmt", service="test", backoff_initial_s=0.05)
        live.start()
        try:
            assert await live.wait_synced(5)
            assert live.get_int("max_contents", 128) == 16
            await stub.SetConfig(pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(3)),
                                 metadata=ADMIN, timeout=10)
            await _until(lambda: live.get_int("max_contents", 128) == 3, 2.0)
            await stub.DeleteConfig(pb.DeleteConfigRequest(namespace="nmt", key="max_contents"), metadata=ADMIN,
                                    timeout=10)
            await _until(lambda: live.get_int("max_contents", 128) == 128, 2.0)
            await stub.SetConfig(pb.SetConfigRequest(namespace="nmt", key="max_contents", value=num(5)),
                                 metadata=ADMIN, timeout=10)
            await _until(lambda: live.get_int("max_contents", 128) == 5, 2.0)
            await handle.server.stop(0)
            await _until(lambda: not live.connected, 5.0)
            assert live.get_int("max_contents", 128) == 5  # the last value, at once
        finally:
            with contextlib.suppress(Exception):
                await live.close()


async def _until(condition, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
