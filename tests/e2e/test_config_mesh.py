"""The config service in the whole mesh: REST and gRPC through Envoy with the edge's policy, and a
live setting (nmt max_contents) that the NMT service applies within seconds, without a restart."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from ai4vc.config.v1 import config_service_pb2 as pb
from ai4vc.config.v1 import config_service_pb2_grpc as pb_grpc
from tests.e2e.test_nmt_mesh import GRPCURL, HINDI, rest

pytestmark = pytest.mark.e2e
PATH = "/v1/namespaces/nmt/configs/max_contents"
THREE = {"contents": [HINDI] * 3, "sourceLanguageCode": "hi", "targetLanguageCode": "ur"}


def _nmt_process(mesh) -> str:  # type: ignore[no-untyped-def]
    """The NMT server's own pid (the child of its supervisor): it changes if the server restarts."""
    supervisor = next(s.proc.pid() for s in mesh.services if s.name == "nmt")
    return Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().strip()


def _poll(check, timeout_s: float) -> float:
    """Seconds until `check()` holds; fails after `timeout_s`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, f"not within {timeout_s} s"
        time.sleep(0.05)
    return time.monotonic() - start


def _refused_for_too_many(mesh) -> bool:  # type: ignore[no-untyped-def]
    status, body = rest(mesh, "POST", "/v1/text:translate", THREE)
    return status == 400 and body.get("details", [{}])[0].get("reason") == "TOO_MANY_CONTENTS"


def _translated(mesh) -> bool:  # type: ignore[no-untyped-def]
    return rest(mesh, "POST", "/v1/text:translate", THREE)[0] == 200


def test_grpcurl_lists_the_config_service(mesh):
    """Server reflection through Envoy lists and describes ai4vc.config.v1.ConfigService."""
    target = f"127.0.0.1:{mesh.ports.envoy}"
    listed = subprocess.run([GRPCURL, "-plaintext", target, "list"], capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert "ai4vc.config.v1.ConfigService" in listed.stdout.split()
    described = subprocess.run([GRPCURL, "-plaintext", target, "describe", "ai4vc.config.v1.ConfigService"],
                               capture_output=True, text=True, timeout=30)
    assert "rpc WatchConfig" in described.stdout


def test_live_max_contents_applies_without_restart(mesh):
    """PUT nmt/max_contents=2 through Envoy REST: within 2 s NMT refuses 3 contents (TOO_MANY_CONTENTS); restoring
    the setting lets 3 through again — the NMT process is never restarted."""
    nmt_pid = _nmt_process(mesh)
    before_status, before = rest(mesh, "GET", PATH)
    assert before_status in (200, 404), before
    assert _translated(mesh)
    status, body = rest(mesh, "PUT", PATH, {"value": 2})
    assert status == 200, body
    assert body["config"]["value"] == 2 and int(body["config"]["version"]) >= 1
    try:
        _poll(lambda: _refused_for_too_many(mesh), 2.0)
    finally:
        if before_status == 200:
            status, _ = rest(mesh, "PUT", PATH, {"value": before["config"]["value"]})
        else:
            status, _ = rest(mesh, "DELETE", PATH)
        assert status == 200
    _poll(lambda: _translated(mesh), 2.0)
    assert _nmt_process(mesh) == nmt_pid
    status, history = rest(mesh, "GET", PATH + "/versions?pageSize=2")
    assert status == 200 and len(history["versions"]) == 2


def test_rest_errors_and_policy(mesh):
    """Through Envoy: a bad value is 400 naming the field; a stale version 409; a key without "config" cannot write
    (403) but can read."""
    status, body = rest(mesh, "PUT", PATH, {"value": 5000})
    assert status == 400 and body["details"][0]["reason"] == "INVALID_VALUE"
    assert body["details"][0]["metadata"]["field"] == "value"
    status, body = rest(mesh, "PUT", "/v1/namespaces/features/configs/e2e_flag", {"value": True})
    assert status == 200, body
    version = int(body["config"]["version"])
    status, body = rest(mesh, "PUT", "/v1/namespaces/features/configs/e2e_flag",
                             {"value": False, "expectedVersion": version + 5})
    assert status == 409 and body["details"][0]["reason"] == "VERSION_MISMATCH"
    status, made = rest(mesh, "POST", "/v1/apiKeys", {"displayName": "config-reader", "scopes": ["nmt"]})
    assert status == 200, made
    reader = {"x-api-key": made["key"]}
    status, body = rest(mesh, "PUT", "/v1/namespaces/features/configs/e2e_flag", {"value": False}, reader)
    assert status == 403, body
    status, body = rest(mesh, "GET", "/v1/namespaces/features/configs/e2e_flag", None, reader)
    assert status == 200 and body["config"]["value"] is True
    status, body = rest(mesh, "GET", "/v1/namespaces/features/configs", None, {"x-api-key": "nope"})
    assert status == 401


async def test_watch_streams_through_envoy(mesh):
    """WatchConfig through Envoy (its streaming route): the snapshot, then a change made over REST."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{mesh.ports.envoy}") as channel:
        call = pb_grpc.ConfigServiceStub(channel).WatchConfig(
            pb.WatchConfigRequest(namespace="features", key="e2e_watch"),
            metadata=(("x-api-key", mesh.admin_key()),), timeout=30)
        first = await asyncio.wait_for(call.read(), 10)
        assert first.snapshot
        status, body = await asyncio.to_thread(rest, mesh, "PUT", "/v1/namespaces/features/configs/e2e_watch",
                                               {"value": True})
        assert status == 200, body
        change = await asyncio.wait_for(call.read(), 5)
        assert [(c.key, c.value.bool_value) for c in change.changes] == [("e2e_watch", True)]
        call.cancel()
