"""The tracker's runtime from another origin (a CDN): the store's pages name the build's files on a second demo
server (`demo_store.cdn`, CORS for the store's origin; the build's `--base-url` is that server), the worker starts
from a same-origin blob that imports its module from there, and the tracker gets ready and delivers. The request
logs of both servers show that every runtime file came from the CDN and none from the store."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from demo_store.app import Settings, create_app
from demo_store.cdn import CdnOrigin, create_cdn_app
from demo_store.live import LiveServer
from tracker.build import load_manifest

from .support import Collector, StorePage

REPO = Path(__file__).resolve().parents[2]
#: The build's logical names of what a page and its worker load (manifest `files`): all of them from the CDN.
RUNTIME = ("relay.js", "worker.mjs", "pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "pyodide-lock.json",
           "python_stdlib.zip", "tracker.whl")


class PathLog:
    """ASGI wrapper keeping the path of every HTTP request (the store's side of the evidence)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._paths: list[str] = []

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return list(self._paths)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            with self._lock:
                self._paths.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class CdnStore:
    store: LiveServer
    cdn: LiveServer
    cdn_app: CdnOrigin
    store_log: PathLog
    dist: Path


def _seed(out: Path) -> None:
    """Start the test's output from the repository build's Pyodide files (content-addressed, so reusable as they
    are): the build then need not make the wasm's brotli variant again (~35 s)."""
    built = REPO / "dist" / "pyodide"
    if built.is_dir():
        shutil.copytree(built, out / "pyodide", dirs_exist_ok=True)


@pytest.fixture(scope="module")
def cdn_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CdnStore]:
    dist = tmp_path_factory.mktemp("cdn-dist")
    _seed(dist)
    cdn_app = create_cdn_app(dist)
    cdn = LiveServer(cdn_app, "cdn")
    settings = Settings(db_path=str(tmp_path_factory.mktemp("cdn-store") / "demo.sqlite3"), dist_dir=dist,
                        dist_url=cdn.url + "/")
    store_log = PathLog(create_app(settings))  # builds into `dist` with --base-url <the CDN>/
    store = LiveServer(store_log, "cdn-store")
    cdn_app.allow(store.url)
    yield CdnStore(store, cdn, cdn_app, store_log, dist)
    store.stop()
    cdn.stop()


def test_the_tracker_runs_and_delivers_with_its_runtime_from_a_cdn(page: Page, cdn_store: CdnStore) -> None:
    store = StorePage(page, cdn_store.store.url)
    collector = Collector(cdn_store.store.url)
    store.open("/")
    event_id = store.track("page_viewed", {"cdn": True})
    assert isinstance(event_id, str)
    store.flush()
    events = collector.wait_for("glood", lambda found: any(e["event_id"] == event_id for e in found))
    delivered = [e for e in events if e["event_id"] == event_id]
    assert [e["deliveries"] for e in delivered] == [1]
    collector.wait_for("genlook", lambda found: any(e["event_id"] == event_id for e in found))

    manifest = load_manifest(cdn_store.dist)
    assert manifest is not None and manifest["base_url"] == cdn_store.cdn.url + "/"
    wanted = {name: "/" + manifest["files"][name]["path"] for name in RUNTIME}
    served = cdn_store.cdn_app.requests
    for name, path in wanted.items():
        hits = [r for r in served if r.path == path and r.method == "GET"]
        assert hits, f"{name} ({path}) was not fetched from the CDN; it served {sorted({r.path for r in served})}"
        assert all(r.status in (200, 304) and r.origin == cdn_store.store.url for r in hits), (name, hits)
    from_store = [p for p in cdn_store.store_log.paths if p.startswith("/dist/")]
    assert from_store == [], f"runtime files fetched from the store itself: {from_store}"
    policy = page.evaluate("""() => fetch(location.href).then((r) => r.headers.get('content-security-policy'))""")
    assert cdn_store.cdn.url in policy.split("worker-src", 1)[1].split(";", 1)[0]


def test_a_snapshot_made_from_the_cdn_is_restored_by_the_next_page(page: Page, cdn_store: CdnStore) -> None:
    """The worker runs from a blob URL (new on every page), yet its snapshot's key names the build, not the blob:
    the next page restores what the first made."""
    store = StorePage(page, cdn_store.store.url)
    store.open("/")
    boot = store.wait_status(lambda s: s["boot"]["made"] not in (None, "making"), timeout=120)["boot"]
    assert boot["made"] == "stored", boot
    store.open("/collections/all")
    assert store.status()["boot"]["snapshot"] == "restored"


def test_the_cdn_grants_only_the_stores_origin(cdn_store: CdnStore) -> None:
    import urllib.error
    import urllib.request

    manifest = load_manifest(cdn_store.dist)
    assert manifest is not None
    url = cdn_store.cdn.url + "/" + manifest["files"]["worker.mjs"]["path"]

    def get(origin: str, method: str = "GET") -> tuple[int, Any]:
        request = urllib.request.Request(url, method=method, headers={"Origin": origin})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.headers

    status, headers = get(cdn_store.store.url)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == cdn_store.store.url
    assert "Origin" in headers["Vary"] and "immutable" in headers["Cache-Control"]
    status, headers = get("http://elsewhere.example")
    assert status == 200 and headers["Access-Control-Allow-Origin"] is None
    status, headers = get(cdn_store.store.url, "POST")
    assert status == 405 and headers["Content-Type"] == "application/json"
