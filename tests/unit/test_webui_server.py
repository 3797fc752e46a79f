"""The web console's static server (deploy/local/webui.py) on a made-up export: files under
/ui/, a directory's index.html, long-lived caching only for Next's hashed files, config.json,
redirects, and nothing outside the export (traversal, hidden files) — plus the build stamp."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import webui


@pytest.fixture
def out(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    (root / "_next" / "static" / "chunks").mkdir(parents=True)
    (root / "nmt").mkdir()
    (root / "index.html").write_text("<html>home</html>")
    (root / "nmt" / "index.html").write_text("<html>nmt</html>")
    (root / "_next" / "static" / "chunks" / "app-1234abcd.js").write_text("js")
    (root / "404.html").write_text("<html>missing</html>")
    (root / ".ai4vc-build-stamp").write_text("x")
    (tmp_path / "secret.txt").write_text("no")
    return root


def headers(response: webui.Response) -> dict[str, str]:
    return dict(response.headers)


def test_pages_and_assets(out: Path) -> None:
    ui = webui.WebUi("127.0.0.1", 3000, out, "http://127.0.0.1:8080")
    home = ui.answer("GET", "/ui/")
    assert home.status == 200 and home.body == b"<html>home</html>" and home.content_type.startswith("text/html")
    assert headers(home)["Cache-Control"] == "no-cache"
    assert ui.answer("GET", "/ui/nmt/").body == b"<html>nmt</html>"
    asset = ui.answer("GET", "/ui/_next/static/chunks/app-1234abcd.js")
    assert asset.status == 200 and asset.content_type.startswith("text/javascript")
    assert headers(asset)["Cache-Control"] == webui.IMMUTABLE
    assert headers(asset)["X-Content-Type-Options"] == "nosniff"


def test_config_redirects_and_health(out: Path) -> None:
    ui = webui.WebUi("127.0.0.1", 3000, out, "http://127.0.0.1:8080/")
    assert ui.answer("GET", "/ui/config.json").body == b'{"edgeUrl": "http://127.0.0.1:8080", "webPort": 3000}'
    for path in ("/", "/ui"):
        moved = ui.answer("GET", path)
        assert moved.status == 308 and headers(moved)["Location"] == "/ui/"
    assert ui.answer("GET", "/healthz").status == 200
    assert ui.answer("POST", "/ui/").status == 405


@pytest.mark.parametrize("target", ["/ui/_next/static/chunks/app-1234abcd.js?v=1",
                                    "/ui/_next/static//chunks/app-1234abcd.js", "/ui/?x=1", "/ui//nmt/"])
def test_one_cacheable_name_per_file(out: Path, target: str) -> None:
    """A file asked for under another name (a query, an empty segment) is served no-store: the edge's
    cache keeps immutable and no-cache answers, and must not grow with names a client makes up (dot
    segments are refused outright, below)."""
    answer = webui.WebUi("127.0.0.1", 3000, out).answer("GET", target)
    assert answer.status == 200 and headers(answer)["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/.ai4vc-build-stamp",
                                  "/ui/nope.js", "/secret.txt", "/v1/text:translate", "/ui/nmt/../../secret.txt"])
def test_nothing_outside_the_export(out: Path, path: str) -> None:
    answer = webui.WebUi("127.0.0.1", 3000, out).answer("GET", path)
    assert answer.status == 404 and b"no" != answer.body


def test_stamp_changes_with_the_sources(tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "app").mkdir(parents=True)
    (web / "package-lock.json").write_text("{}")
    (web / "app" / "page.tsx").write_text("a")
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    first = webui.source_stamp(web, sdk)
    assert webui.source_stamp(web, sdk) == first
    (web / "app" / "page.tsx").write_text("b")
    assert webui.source_stamp(web, sdk) != first


def test_an_up_to_date_build_is_not_rebuilt(tmp_path: Path) -> None:
    """A matching stamp in out/ means no `next build` (there is no node_modules here to run one)."""
    web = tmp_path / "web"
    (web / "out").mkdir(parents=True)
    (web / "package-lock.json").write_text("{}")
    (web / "out" / webui.STAMP).write_text(webui.source_stamp(web) + "\n")
    assert webui.build(web) == web / "out"
    (web / "package-lock.json").write_text('{"changed": 1}')
    with pytest.raises(webui.BuildError, match="node_modules"):
        webui.build(web)
