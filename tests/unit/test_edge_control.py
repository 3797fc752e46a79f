"""The edge's control plane without Envoy: keys → htpasswd / identity / limits, policy → RBAC, the
publisher's atomic rename, and the failed-attempt and daily-quota blockers."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from deploy.local.envoy_config import Upstream, render_routes
from gateway import policy
from gateway.edge import blocks, publish, render
from services.common import credentials

KEY = render.EdgeKey("0123456789abcdef", "devi", frozenset({"nmt", "tts"}), credentials.edge_hash("s3cret"), 3)
SKELETON = render_routes([Upstream("ai4vc.nmt.v1.NmtService", "nmt", [("127.0.0.1", 1)]),
                          Upstream("ai4vc.auth.v1.AuthService", "auth", [("127.0.0.1", 2)], idempotent=False)])


def _vhost(keys=(KEY,), found=(), sessions=()):
    [vhost] = render.routes(SKELETON, keys, found, sessions, 600)["virtual_hosts"]
    return vhost


def test_edge_hash_is_htpasswd_sha() -> None:
    """The stored edge hash is what basic_auth checks: {SHA} + base64 SHA-1 of the secret."""
    assert credentials.edge_hash(b"sekrit".hex()) == "{SHA}9yuQ2e+Nw1rMHcbSQV2ENayUZYM="


def test_key_becomes_htpasswd_line_and_identity_record() -> None:
    """An active key is one htpasswd line and one identity line (owner, scopes, cost, quota)."""
    vhost = _vhost()
    users = vhost["typed_per_filter_config"]["ai4vc.basic_auth"]["users"]["inline_string"]
    assert users == f"0123456789abcdef:{KEY.edge_hash}"
    source = vhost["typed_per_filter_config"]["ai4vc.identity"]["source_code"]["inline_string"]
    assert f"0123456789abcdef devi nmt,tts {render.BUCKET_TOKENS // 3} 3" in source


def test_key_without_edge_hash_is_not_a_user() -> None:
    """A key that predates the edge hash gets no htpasswd line (refused at the edge until rotated)."""
    old = render.EdgeKey("00000000000000aa", "devi", frozenset({"nmt"}), "")
    assert "00000000000000aa" not in render.htpasswd([old])


def test_cost_makes_the_bucket_hold_the_quota() -> None:
    """A bucket of BUCKET_TOKENS lets requests_per_minute calls through — exactly up to 10k/min,
    within 0.1 % at the largest quota the auth service accepts."""
    for rpm in (1, 3, 7, 600, 10_000):
        assert render.BUCKET_TOKENS // render.cost(rpm) == rpm
    for rpm in (999_999, 1_000_000):
        assert rpm <= render.BUCKET_TOKENS // render.cost(rpm) <= rpm * 1.001


def test_rbac_is_rendered_from_policy() -> None:
    """Every non-deny rule of gateway.policy is one RBAC policy; CreateUser needs admin and the
    AuthService policy excludes the methods with rules of their own."""
    policies = render.rbac_policies()
    create_user = policies["/ai4vc.auth.v1.AuthService/CreateUser"]
    assert "admin" in json.dumps(create_user["principals"])
    auth = json.dumps(policies["ai4vc.auth.v1.AuthService"]["permissions"])
    assert "not_rule" in auth and "/ai4vc.auth.v1.AuthService/CreateUser" in auth
    assert policies["/ai4vc.auth.v1.AuthService/Login"]["principals"] == [{"any": True}]
    assert policies["/v1/ws/asr"]["principals"][0]["header"]["name"] == "x-ai4vc-scopes"
    expected = {p for p, r in {**policy.METHOD_RULES, **policy.PATH_RULES, **policy.PREFIX_RULES,
                               **policy.SERVICE_RULES}.items() if r.access is not policy.Access.DENY}
    assert set(policies) == expected


def test_public_methods_get_routes_that_skip_the_credential_filters() -> None:
    """Login, Refresh and Logout are routed ahead of AuthService with the auth filters disabled;
    the AuthService route itself keeps them."""
    routes = _vhost()["routes"]
    paths = [r["match"].get("path") or r["match"].get("prefix") for r in routes]
    for method in ("Login", "Refresh", "Logout"):
        path = f"/ai4vc.auth.v1.AuthService/{method}"
        route = routes[paths.index(path)]
        assert paths.index(path) < paths.index("/ai4vc.auth.v1.AuthService/")
        assert all(route["typed_per_filter_config"][f]["disabled"] for f in render.AUTH_FILTERS)
        assert route["route"]["cluster"] == "auth"
    assert not set(routes[paths.index("/ai4vc.auth.v1.AuthService/")].get("typed_per_filter_config", {})) & set(
        render.AUTH_FILTERS)


def test_dashboard_page_is_public_and_its_data_is_not() -> None:
    """The /dashboard/ page route skips the credential filters; GetOverview needs the dashboard scope."""
    skeleton = render_routes([Upstream("ai4vc.dashboard.v1.DashboardService", "dashboard", [("127.0.0.1", 1)]),
                              Upstream("/dashboard/", "dashboard-web", [("127.0.0.1", 2)], kind="http")])
    [vhost] = render.routes(skeleton, [KEY], [], [], 600)["virtual_hosts"]
    routes = {r["match"].get("path") or r["match"].get("prefix"): r for r in vhost["routes"]}
    page = routes["/dashboard/"]
    assert page["route"]["cluster"] == "dashboard-web"
    assert all(page["typed_per_filter_config"][f]["disabled"] for f in render.AUTH_FILTERS)
    assert not set(routes["/ai4vc.dashboard.v1.DashboardService/"].get("typed_per_filter_config", {})) & set(
        render.AUTH_FILTERS)
    assert policy.rule_for("/dashboard/app.js").access is policy.Access.PUBLIC
    assert policy.rule_for("/ai4vc.dashboard.v1.DashboardService/GetOverview") == policy.Rule(
        policy.Access.SCOPE, "dashboard")
    assert policy.rule_for("/dashboardx").access is policy.Access.DENY


def test_blocks_and_revoked_sessions_reach_the_lua_sources() -> None:
    """Blocks go to the guard's code, revoked sessions to the identity code."""
    vhost = _vhost(found=[render.Block("p", "192.0.2.1|0123456789abcdef", 2_000_000_000, "FAILED_ATTEMPTS")],
                   sessions=["feedbeef"])
    guard = vhost["typed_per_filter_config"]["ai4vc.guard"]["source_code"]["inline_string"]
    assert "p 192.0.2.1|0123456789abcdef 2000000000 FAILED_ATTEMPTS" in guard
    identity = vhost["typed_per_filter_config"]["ai4vc.identity"]["source_code"]["inline_string"]
    assert "feedbeef" in identity.split("]==]")[1]


def test_publish_replaces_the_file_atomically(tmp_path: Path) -> None:
    """publish writes a temporary file and renames it over routes.json: no partial file, no leftovers."""
    (tmp_path / "routes.json").write_text("old")
    inode = os.stat(tmp_path / "routes.json").st_ino
    size, _ = publish.publish(tmp_path, render.discovery_response({"name": "ai4vc"}, "7"))
    assert json.loads((tmp_path / "routes.json").read_text())["version_info"] == "7"
    assert size == (tmp_path / "routes.json").stat().st_size
    assert os.stat(tmp_path / "routes.json").st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["routes.json"]


def _line(status: int, client: str, credential: str = "key", key_id: str = "-") -> str:
    return json.dumps({"status": str(status), "client": client, "credential": credential, "key_id": key_id})


def test_bad_secret_of_known_key_blocks_the_pair_not_the_address() -> None:
    """Failures for a known key block (address, key) only; failures with unknown keys block the address."""
    counter = blocks.FailureCounter(3, known_key=lambda key_id: key_id == "0123456789abcdef")
    for _ in range(3):
        counter.record_line(_line(401, "10.0.0.1", key_id="0123456789abcdef"), now=1000.0)
    assert [(b.kind, b.subject) for b in counter.active(1000.0)] == [("p", "10.0.0.1|0123456789abcdef")]
    for _ in range(3):
        counter.record_line(_line(401, "10.0.0.2", key_id="00000000000000ff"), now=1000.0)
    assert ("a", "10.0.0.2") in {(b.kind, b.subject) for b in counter.active(1000.0)}
    assert counter.active(1000.0 + blocks.WINDOW_S + 1) == []


def test_calls_without_credentials_and_successes_do_not_count() -> None:
    """A 401 for a call that carried no credential, and any non-401, never blocks."""
    counter = blocks.FailureCounter(1, known_key=lambda key_id: False)
    assert not counter.record_line(_line(401, "10.0.0.3", credential="-"))
    assert not counter.record_line(_line(200, "10.0.0.3"))
    assert not counter.record_line("not json")
    assert counter.active() == []


def test_exhausted_daily_quota_blocks_until_utc_midnight() -> None:
    """A key whose metered characters reached characters_per_day is blocked until the UTC day ends."""
    key = render.EdgeKey("0123456789abcdef", "devi", frozenset({"nmt"}), "", characters_per_day=8)
    now = datetime.datetime(2026, 12, 1, 23, 0, tzinfo=datetime.UTC).timestamp()
    assert blocks.quota_blocks([key], {"0123456789abcdef": (7, 0.0)}, now) == []
    [block] = blocks.quota_blocks([key], {"0123456789abcdef": (8, 0.0)}, now)
    assert block.reason == "DAILY_QUOTA_EXCEEDED" and block.until == now + 3600


def test_data_files_are_written_before_the_routes_never_rewritten_and_collected(tmp_path: Path) -> None:
    """The per-key texts go to files under data/ (not watched) that exist before routes.json names
    them; an unchanged text keeps its file, a new text is a new file, and files no recent publish
    names are removed."""
    files = publish.DataFiles(tmp_path)
    first = files.source("users", "a:{SHA}x")
    assert not Path(first["filename"]).exists()  # naming is no I/O: the render stays pure
    publish.publish(tmp_path, render.discovery_response({"name": "ai4vc", "n": first}, "1"), files)
    assert Path(first["filename"]).read_text() == "a:{SHA}x"
    assert Path(first["filename"]).parent == (tmp_path / publish.DATA_DIR).resolve()
    assert files.source("users", "a:{SHA}x") == first  # same text, same file, not rewritten
    publish.publish(tmp_path, render.discovery_response({"name": "ai4vc"}, "2"), files)
    names = []
    for i in range(publish.KEEP_PUBLISHES + 1):
        names.append(files.source("users", f"b{i}:{{SHA}}x")["filename"])
        publish.publish(tmp_path, render.discovery_response({"name": "ai4vc"}, str(3 + i)), files)
    assert not Path(first["filename"]).exists() and not Path(names[0]).exists()
    assert all(Path(n).exists() for n in names[1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == [publish.DATA_DIR, "routes.json"]


def test_routes_name_the_stores_sources_for_users_and_key_records() -> None:
    """With a store, basic_auth's users are the store's DataSource and the identity code (inline,
    small) reads the key records from the store's file; the guard's block list stays inline."""
    stored: dict[str, str] = {}

    def store(name: str, content: str) -> dict[str, str]:
        stored[name] = content
        return {"filename": f"/d/{name}"}

    [vhost] = render.routes(SKELETON, [KEY], [], ["feedbeef"], 600, store)["virtual_hosts"]
    per_filter = vhost["typed_per_filter_config"]
    assert per_filter["ai4vc.basic_auth"]["users"] == {"filename": "/d/users"}
    code = per_filter["ai4vc.identity"]["source_code"]["inline_string"]
    assert code.startswith("KEYS_FILE = [==[/d/records]==]\n") and "0123456789abcdef" not in code
    assert "feedbeef" in code
    assert stored["users"] == f"0123456789abcdef:{KEY.edge_hash}"
    assert stored["records"] == f"\n0123456789abcdef devi nmt,tts {render.BUCKET_TOKENS // 3} 3\n"
    assert "inline_string" in per_filter["ai4vc.guard"]["source_code"]
