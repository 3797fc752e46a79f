"""The key lookup of ai4vc.identity (a binary search over the sorted records string, not a table)
in the real Envoy's Lua, with the records in a data file as the control plane publishes them; and
the key table's incremental render against a render from scratch."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from deploy.local.parts import free_port
from gateway.edge import publish, render

ENVOY = Path(sys.executable).parent / "envoy"
LUA = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"
# Answers with the headers ai4vc.identity set, so the test reads what the lookup found.
ECHO = """
function envoy_on_request(handle)
  local h = handle:headers()
  handle:respond({[":status"] = "200", ["x-owner"] = h:get("x-ai4vc-principal") or "-",
                  ["x-scopes"] = h:get("x-ai4vc-scopes") or "-", ["x-cost"] = h:get("x-ai4vc-cost") or "-"}, "")
end
"""


def _key(key_id: str, i: int) -> render.EdgeKey:
    return render.EdgeKey(key_id, f"owner{i}", frozenset({"nmt"} if i % 2 else {"nmt", "tts"}), "{SHA}x", 1 + i % 900)


def _bootstrap(tmp_path: Path, port: int, admin: int, identity: dict[str, str]) -> Path:
    route_config = {"name": "t", "virtual_hosts": [{
        "name": "t", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 500}}],
        "typed_per_filter_config": {"ai4vc.identity": {"@type": render.LUA_PER_ROUTE, "source_code": identity}}}]}
    hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
                    "HttpConnectionManager",
           "stat_prefix": "t", "route_config": route_config, "http_filters": [
               {"name": "ai4vc.identity", "typed_config": {"@type": LUA}},
               {"name": "echo", "typed_config": {"@type": LUA, "default_source_code": {"inline_string": ECHO}}},
               {"name": "envoy.filters.http.router", "typed_config": {
                   "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}
    config = {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
              "static_resources": {"listeners": [{
                  "name": "t", "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                  "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                  "typed_config": hcm}]}]}]}}
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def _serving(tmp_path: Path, identity: dict[str, str]) -> Iterator[int]:
    """A real Envoy running `identity` as ai4vc.identity in front of the echo; yields its port."""
    port, admin = free_port(), free_port()
    proc = subprocess.Popen([str(ENVOY), "-c", str(_bootstrap(tmp_path, port, admin, identity)), "--concurrency", "1",
                             "--log-level", "error", "--base-id", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "Envoy did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[int, list[render.EdgeKey]]]:
    rng = random.Random(7)
    ids = {f"{rng.getrandbits(64):016x}" for _ in range(3000)} | {"0" * 16, "f" * 16, "8" * 16}
    keys = [_key(key_id, i) for i, key_id in enumerate(sorted(ids))]
    files = publish.DataFiles(tmp_path / "routes")
    source = {"inline_string": render.identity_source(render.KeyTable(600, keys), [], 600, files.source)}
    files.write()
    with _serving(tmp_path, source) as port:
        yield port, keys


def _lookup(port: int, key_id: str) -> tuple[str, str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/ai4vc.nmt.v1.NmtService/TranslateText",
                                     headers={"x-ai4vc-key-id": key_id})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.headers["x-owner"], answer.headers["x-scopes"], answer.headers["x-cost"]


@pytest.mark.skipif(not ENVOY.exists(), reason="envoy binary not installed in the venv")
def test_identity_finds_every_kind_of_key_and_no_other(edge: tuple[int, list[render.EdgeKey]]) -> None:
    """The first, last, middle and random keys of 3,000 are found with their own owner, scopes and
    cost; ids between, before, after, and prefixes or extensions of real ids are not."""
    port, keys = edge
    rng = random.Random(11)
    for key in [keys[0], keys[-1], keys[len(keys) // 2], *rng.sample(keys, 150)]:
        rpm = key.requests_per_minute
        assert _lookup(port, key.key_id) == (key.owner, ",".join(sorted(key.scopes)), str(render.cost(rpm)))
    ids = {k.key_id for k in keys}
    absent = ["0" * 15, "0" * 15 + "1", "f" * 17, "ffffffffffffffe0", keys[5].key_id[:15], keys[5].key_id + "0",
              "owner5", "nmt"]
    absent += [f"{int(k.key_id, 16) + 1:016x}" for k in rng.sample(keys[:-1], 40)]
    for key_id in absent:
        if key_id not in ids:
            assert _lookup(port, key_id) == ("-", "-", "-"), key_id


def _same(texts: render.KeyTexts, expected: render.KeyTexts) -> bool:
    """The same records in the same order, and the same users (basic_auth's are unordered)."""
    return texts.records == expected.records and sorted(texts.users.splitlines()) == sorted(
        expected.users.splitlines()) and texts.users.endswith("\n") == expected.users.endswith("\n")


def test_key_table_changes_render_as_a_table_made_from_scratch() -> None:
    """After puts, replacements, revocations and a full re-read, the kept texts equal those of a
    table built from the resulting keys: the records in key-id order, the same users."""
    rng = random.Random(3)
    keys = {f"{rng.getrandbits(64):016x}": i for i in range(2500)}
    table = render.KeyTable(600, [_key(k, i) for k, i in keys.items()])
    for step in range(3000):
        key_id = rng.choice(list(keys)) if step % 3 else f"{rng.getrandbits(64):016x}"
        if step % 7 == 0:
            table.discard(key_id)
            keys.pop(key_id, None)
        else:
            keys[key_id] = step
            table.put(_key(key_id, step))
        if step % 500 == 0:
            table.texts()  # cached in between, must still follow the changes
    expected = render.KeyTable(600, [_key(k, i) for k, i in keys.items()]).texts()
    assert _same(table.texts(), expected)
    lines = expected.records.splitlines()
    assert [line.split()[0] for line in lines] == sorted(keys)
    # The periodic full re-read: a few differences, then most keys replaced.
    keys = dict(list(keys.items())[10:]) | {f"{rng.getrandbits(64):016x}": 1}
    table.replace([_key(k, i) for k, i in keys.items()])
    assert _same(table.texts(), render.KeyTable(600, [_key(k, i) for k, i in keys.items()]).texts())
    keys = {f"{rng.getrandbits(64):016x}": i for i in range(2000)}
    table.replace([_key(k, i) for k, i in keys.items()])
    assert _same(table.texts(), render.KeyTable(600, [_key(k, i) for k, i in keys.items()]).texts())
    assert set(table) == set(keys) and len(table) == len(keys)


def test_key_table_keeps_the_keys_with_daily_quotas() -> None:
    """limited() follows puts, quota changes, revocations and full re-reads (the quota poller reads
    it instead of scanning every key)."""
    plain, quota = _key("00000000000000a1", 1), render.EdgeKey("00000000000000b2", "o", frozenset(), "", 5, 0, 100)
    table = render.KeyTable(600, [plain, quota])
    assert table.limited() == [quota]
    table.put(render.EdgeKey("00000000000000b2", "o", frozenset(), "", 5))  # its quota removed
    assert table.limited() == []
    table.put(render.EdgeKey("00000000000000a1", "o", frozenset(), "", 5, 30, 0))
    assert [k.key_id for k in table.limited()] == ["00000000000000a1"]
    table.discard("00000000000000a1")
    assert table.limited() == []
    table.replace([quota, *(_key(f"1{i:015x}", i) for i in range(1500))])  # the bulk path
    assert table.limited() == [quota] and "00000000000000a1" not in table and table.get("00000000000000b2") == quota


def test_changes_are_computed_from_a_copy_and_applied_later() -> None:
    """changes() compares against the copy it is given, never the live table; update() then
    applies the result as replace() would."""
    keys = [_key(f"{i:016x}", i) for i in range(50)]
    table = render.KeyTable(600, keys)
    known = table.copy()
    table.discard(keys[0].key_id)  # a revocation while the re-read runs
    fresh = [*keys[1:], _key("f" * 16, 99)]
    changed, gone = table.changes(fresh, known)
    assert [k.key_id for k in changed] == ["f" * 16] and gone == [keys[0].key_id]
    table.update(changed, gone)
    assert _same(table.texts(), render.KeyTable(600, fresh).texts())


@pytest.mark.skipif(not ENVOY.exists(), reason="envoy binary not installed in the venv")
def test_a_limit_divided_across_envoys_costs_each_call_that_many_times(tmp_path: Path) -> None:
    """With the limits divided across 3 Envoys, a call costs 3 times its key's tokens in each (so
    the 3 together allow about the key's requests_per_minute), capped at a whole minute's bucket so
    a key of 1 a minute still gets a call through; bearer callers' default cost likewise."""
    keys = [render.EdgeKey("00000000000000a1", "o1", frozenset({"nmt"}), "{SHA}x", 600),
            render.EdgeKey("00000000000000b2", "o2", frozenset({"nmt"}), "{SHA}x", 1)]
    source = {"inline_string": render.identity_source(render.KeyTable(600, keys), [], 600, share=3)}
    with _serving(tmp_path, source) as port:
        assert _lookup(port, "00000000000000a1")[2] == str(3 * render.cost(600))
        assert _lookup(port, "00000000000000b2")[2] == str(render.BUCKET_TOKENS)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/ai4vc.nmt.v1.NmtService/TranslateText",
                                         headers={"x-ai4vc-principal": "u1", "x-ai4vc-scopes": "nmt"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.headers["x-cost"] == str(3 * render.cost(600))
    with pytest.raises(ValueError):
        render.identity_source(keys, [], 600, share=0)
