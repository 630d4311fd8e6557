"""The demo store with the peers' pages, their files and a dummy collector, all on the store's own origin.

- `/_peers/page/<peer>/<store path>`: the store page with the tracker's embed replaced by the peer's snippet (at
  the same place in `<head>`), its Content-Security-Policy recomputed for the page as sent (the snippet's hash
  instead of the sensor's);
- `/_peers/lib/<peer>/<file>`: the peer's browser bundle from bench/peers/node_modules, cacheable for a year and
  gzipped when asked, as a CDN serves it;
- `/_peers/collect/<peer>/<visit>/...`: the dummy collector: any method, any path; the arrival time
  (`time.time()`), path and body size of each request are recorded per visit token; PostHog's lazy assets
  (`<api_host>/static/...`) are served from its package.

Everything else goes to `BenchApp` (the store, `/_bench/none/...`).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from demo_store.app import Settings
from demo_store.security import content_security_policy
from demo_store.settings import REPO_ROOT

from .server import BenchApp, store_page

__all__ = ["PEERS", "Peer", "PeersApp", "snippet", "PROJECT_DIR"]

PROJECT_DIR = REPO_ROOT / "bench" / "peers"
MODULES = PROJECT_DIR / "node_modules"


@dataclass(frozen=True)
class Peer:
    package: str
    version: str
    #: The package's directory of browser files (served under /_peers/lib/<name>/).
    dist: str
    #: The file the snippet loads.
    entry: str
    #: The snippet's peer-specific part (JavaScript inside the common wrapper, see `snippet`).
    body: str

    @property
    def root(self) -> Path:
        return MODULES / self.package / self.dist


# Each snippet loads its bundle with an async <script> inserted from an inline script in <head> (PostHog's,
# Segment's, Snowplow's and Amplitude's own snippets all load this way), sends a page view and tracks the click on
# a product link (`a.card-link`) with the same properties. Collectors: `api` = this origin's dummy collector.
PEERS: dict[str, Peer] = {
    "posthog": Peer("posthog-js", "1.449.2", "dist", "array.js", """
  // PostHog's snippet: a stub that queues calls until array.js replaces it; defaults of the docs' snippet.
  var ph = window.posthog = [];
  ph._i = []; ph.__SV = 1; ph.people = [];
  ph.init = function (key, config, name) { ph._i.push([key, config, name]); };
  ['capture', 'register', 'identify', 'reset'].forEach(function (m) {
    ph[m] = function () { ph.push([m].concat(Array.prototype.slice.call(arguments))); };
  });
  // opt_out_useragent_filter: PostHog drops events from a HeadlessChrome user agent as a bot's.
  ph.init('phc_bench', {api_host: api, person_profiles: 'identified_only', opt_out_useragent_filter: true});
  load(lib + 'array.js');
  track = function (name, props) { window.posthog.capture(name, props); };"""),
    "segment": Peer("@segment/analytics-next", "1.84.3", "dist/umd", "index.js", """
  // Analytics.js 2.0 with its settings inline (no request to cdn.segment.com); events to this origin.
  var queued = [];
  track = function (name, props) { queued.push([name, props]); };
  load(lib + 'index.js', function () {
    var analytics = window.AnalyticsNext.AnalyticsBrowser.load({writeKey: 'bench', cdnURL: location.origin + lib,
      cdnSettings: {integrations: {'Segment.io': {apiKey: 'bench', apiHost: location.host + api,
        protocol: location.protocol.slice(0, -1)}}, plan: {}, remotePlugins: []}});
    analytics.page();
    track = function (name, props) { analytics.track(name, props); };
    queued.forEach(function (c) { track(c[0], c[1]); });
  });"""),
    "snowplow": Peer("@snowplow/browser-tracker", "4.10.1", "dist", "index.umd.min.js", """
  // Snowplow's browser tracker (UMD bundle); POST to this origin's collector.
  var queued = [];
  track = function (name, props) { queued.push([name, props]); };
  load(lib + 'index.umd.min.js', function () {
    var sp = window.snowplowBrowserTracking;
    sp.newTracker('sp', location.origin + api, {appId: 'bench', platform: 'web'});
    sp.trackPageView();
    track = function (name, props) {
      sp.trackStructEvent({category: 'product', action: name, label: props.product_id || '',
                           property: props.section || ''});
    };
    queued.forEach(function (c) { track(c[0], c[1]); });
  });"""),
    "amplitude": Peer("@amplitude/analytics-browser", "2.48.1", "lib/scripts", "amplitude-min.js", """
  // Amplitude's Browser SDK 2 script; no remote configuration (it would come from amplitude.com).
  var queued = [];
  track = function (name, props) { queued.push([name, props]); };
  load(lib + 'amplitude-min.js', function () {
    window.amplitude.init('bench-key', {serverUrl: location.origin + api, fetchRemoteConfig: false,
      autocapture: {pageViews: true, sessions: true, attribution: false, formInteractions: false,
                    fileDownloads: false, elementInteractions: false}});
    track = function (name, props) { window.amplitude.track(name, props); };
    queued.forEach(function (c) { track(c[0], c[1]); });
  });"""),
}

_WRAPPER = """(function () {
  var visit = (location.search.match(/[?&]peer_visit=([\\w-]+)/) || [])[1] || 'none';
  var lib = '/_peers/lib/%(name)s/', api = '/_peers/collect/%(name)s/' + visit;
  var track = function () {};
  function load(src, done) {
    var s = document.createElement('script');
    s.async = true; s.src = src;
    if (done) s.onload = done;
    document.head.appendChild(s);
  }
  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest ? e.target.closest('a.card-link') : null;
    if (!a) return;
    var item = a.closest('[data-glood-product-id]'), section = a.closest('[data-glood-section]');
    track('Product Clicked', {product_id: item ? item.getAttribute('data-glood-product-id') : null,
      section: section ? section.getAttribute('data-glood-section') : null, url: a.getAttribute('href')});
  });
%(body)s
})();"""


def snippet(name: str) -> str:
    """The `<script>` element a page with peer `name` carries in `<head>`, where the tracker's embed is."""
    return "<script>" + _WRAPPER % {"name": name, "body": PEERS[name].body} + "</script>"


@dataclass
class Arrival:
    peer: str
    visit: str
    path: str
    method: str
    bytes: int
    at: float


class PeersApp(BenchApp):
    """`BenchApp` plus the peers' pages, files and dummy collector (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._gz: dict[Path, bytes] = {}

    def arrivals_of(self, visit: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.visit == visit]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/_peers/"):
            await super().__call__(scope, receive, send)
            return
        _, _, kind, name, *rest = path.split("/", 4)
        tail = rest[0] if rest else ""
        if name not in PEERS:
            await _answer(send, 404, b"unknown peer", "text/plain")
        elif kind == "lib":
            await self._file(scope, send, name, tail)
        elif kind == "collect":
            visit, _, sub = tail.partition("/")
            if name == "posthog" and sub.startswith("static/"):
                await self._file(scope, send, name, sub[len("static/"):])
                return
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            with self._lock:
                self.arrivals.append(Arrival(name, visit, "/" + sub, scope.get("method", "GET"), len(body),
                                             time.time()))
            answer: Any = {"posthog": {"status": 1}, "segment": {"success": True}, "snowplow": {},
                           "amplitude": {"code": 200, "events_ingested": 1, "payload_size_bytes": len(body),
                                         "server_upload_time": int(time.time() * 1000)}}[name]
            if name == "posthog" and sub.endswith("/config.js"):  # its remote configuration, as a script
                await _answer(send, 200, b"/* no remote configuration */", "application/javascript")
                return
            if name == "posthog" and sub.startswith(("flags", "decide")):
                answer = {"featureFlags": {}, "featureFlagPayloads": {}, "errorsWhileComputingFlags": False}
            await _answer(send, 200, json.dumps(answer).encode(), "application/json")
        elif kind == "page":
            await self._page(scope, receive, send, name, "/" + tail)
        else:
            await _answer(send, 404, b"unknown peers route", "text/plain")

    async def _file(self, scope: Scope, send: Send, name: str, tail: str) -> None:
        peer = PEERS[name]
        if name == "segment":  # Analytics.js loads its chunks from <cdnURL>/analytics-next/bundles/
            tail = tail.removeprefix("analytics-next/bundles/")
        file = (peer.root / tail).resolve()
        if not tail or peer.root.resolve() not in file.parents or not file.is_file():
            await _answer(send, 404, f"no file {tail!r} in {peer.package}".encode(), "text/plain")
            return
        body = file.read_bytes()
        headers = [(b"cache-control", b"public, max-age=31536000, immutable"), (b"vary", b"Accept-Encoding")]
        accepted = b",".join(v for k, v in scope["headers"] if k.lower() == b"accept-encoding")
        if b"gzip" in accepted:
            if file not in self._gz:
                self._gz[file] = gzip.compress(body, compresslevel=9, mtime=0)
            body = self._gz[file]
            headers.append((b"content-encoding", b"gzip"))
        ctype = "application/javascript" if file.suffix in (".js", ".mjs") else "application/octet-stream"
        await _answer(send, 200, body, ctype, headers)

    async def _page(self, scope: Scope, receive: Receive, send: Send, name: str, path: str) -> None:
        start, body = await store_page(self.store, scope, receive, path)
        headers = [(k, v) for k, v in start.get("headers", [])
                   if k.lower() not in (b"content-length", b"content-security-policy")]
        if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
            page, embed = body.decode("utf-8"), self.embed
            if embed not in page:
                raise RuntimeError("the store page does not contain tracker_embed(settings)")
            page = page.replace(embed, snippet(name))
            headers.append((b"content-security-policy", content_security_policy(page, self.settings).encode()))
            body = page.encode("utf-8")
            accepted = b",".join(v for k, v in scope["headers"] if k.lower() == b"accept-encoding")
            if b"gzip" in accepted and len(body) >= 1024:
                body = gzip.compress(body, compresslevel=6, mtime=0)
                headers = [(k, v) for k, v in headers if k.lower() not in (b"content-encoding", b"vary")]
                headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 500), "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _answer(send: Send, status: int, body: bytes, ctype: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
