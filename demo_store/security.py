"""Response hardening for the demo store: a Host allow-list (against DNS rebinding) and security headers,
among them a Content-Security-Policy that hashes each page's inline scripts as rendered."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import EXPOSED_HEADERS, cors_headers, json_error
from .collector import COLLECTOR_PATHS
from .settings import AppState, Settings

__all__ = ["LOOPBACK_HOSTS", "host_allowed", "inline_scripts", "script_hash", "collector_origins", "runtime_origins",
           "content_security_policy", "HostGuard", "SecurityHeaders"]

#: Served under any port whatever the settings say: the names of this machine.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
REFERRER_POLICY = "strict-origin-when-cross-origin"
#: `<script type>` values a browser runs (or, for import maps and speculation rules, checks against
#: script-src) as inline script: absent/empty, "module" and the JavaScript MIME types.
EXECUTABLE_SCRIPT_TYPES = frozenset({
    "", "module", "importmap", "speculationrules", "text/javascript", "application/javascript",
    "application/ecmascript", "application/x-ecmascript", "application/x-javascript", "text/ecmascript",
    "text/javascript1.0", "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
    "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript", "text/x-javascript"})
_HOST = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?")
_CSP_HOST = re.compile(r"[A-Za-z0-9._-]+|\[[0-9a-fA-F:.]+\]")


# -- Host allow-list -------------------------------------------------------------------------

def _split_host(value: str) -> tuple[str, str | None] | None:
    """`host[:port]` -> (lower-case host, port or None); None when it is not one."""
    match = _HOST.fullmatch(value.strip())
    return None if match is None else (match.group(1).lower(), match.group(2))


def host_allowed(host_header: str | None, allowed: Iterable[str] = ()) -> bool:
    """Whether a request for `host_header` is served: no Host (HTTP/1.0, not a browser), a loopback name,
    or an `allowed` entry ("name" for any port, "name:port" for that port, "*" for any host)."""
    if host_header is None:
        return True
    split = _split_host(host_header)
    if split is None:
        return False
    host, port = split
    if host in LOOPBACK_HOSTS:
        return True
    for entry in allowed:
        if entry.strip() == "*":
            return True
        wanted = _split_host(entry)
        if wanted is not None and wanted[0] == host and wanted[1] in (None, port):
            return True
    return False


class HostGuard:
    """ASGI middleware: requests for a Host not served answer 400 in the Error shape. On a collector's
    ingestion endpoint the answer also carries its CORS headers and counts in its stats."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if host_allowed(host, self.state.settings.allowed_hosts):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope)
        headers = {"X-Content-Type-Options": "nosniff"}
        destination = COLLECTOR_PATHS.get(scope.get("path", ""))
        if destination is not None:
            headers.update(cors_headers(request))
            if request.method != "OPTIONS":
                headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
                self.state.db.count_rejection(destination, 400)
        message = (f"host {(host or '')[:80]!r} is not served here: use 127.0.0.1, localhost or [::1], or start "
                   "the store with --allowed-host NAME")
        await json_error(400, message, headers)(scope, receive, send)


# -- Content-Security-Policy ---------------------------------------------------------------

class _InlineScripts(HTMLParser):
    """The text of every inline script a browser would execute, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        attributes = dict(attrs)
        kind = (attributes.get("type") or "").strip().lower()
        self._text = [] if "src" not in attributes and kind in EXECUTABLE_SCRIPT_TYPES else None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<script/>` is a start tag in HTML: its content still runs up to `</script>`.
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.set_cdata_mode(tag)

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._text is not None:
            self.scripts.append("".join(self._text))
            self._text = None


def inline_scripts(html: str) -> list[str]:
    """The source text of each executable inline `<script>` of `html` (newlines normalised as browsers do)."""
    parser = _InlineScripts()
    parser.feed(html.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    return parser.scripts


@lru_cache(maxsize=256)
def script_hash(text: str) -> str:
    """The CSP source expression allowing an inline script with this text: `'sha256-<base64>'`."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def collector_origins(settings: Settings) -> list[str]:
    """The origins of the configured collectors (`glood_url`, `genlook_url`, overrides included) that are
    absolute http(s) URLs; relative ones are this origin."""
    config = settings.tracker_config()
    return _origins((config.get("glood_url"), config.get("genlook_url")))


def runtime_origins(settings: Settings) -> list[str]:
    """The origin the tracker's build is loaded from when it is not this one (`dist_url`: a CDN), else none."""
    return _origins((settings.dist_url,))


def _origins(urls: Iterable[object]) -> list[str]:
    """The distinct origins of those of `urls` that are absolute http(s) URLs (CSP source expressions)."""
    origins: list[str] = []
    for url in urls:
        if not isinstance(url, str):
            continue
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            continue
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        if parts.scheme.lower() not in ("http", "https") or not _CSP_HOST.fullmatch(host):
            continue
        origin = f"{parts.scheme.lower()}://{host}" + ("" if port is None else f":{port}")
        if origin not in origins:
            origins.append(origin)
    return origins


def _policy(script_hashes: Iterable[str], connect_origins: Iterable[str], runtime: Iterable[str] = ()) -> str:
    """`runtime`: the origins the tracker's build comes from besides this one (a CDN). The page imports the relay
    from there (script-src); the worker is a blob: whose module graph (its module, Pyodide) is fetched from there as
    worker scripts (worker-src: without the CDN there, Chromium, Firefox and WebKit all refuse the worker's module),
    and its wasm, lockfile, standard library and wheel are fetched (connect-src)."""
    runtime = list(runtime)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *runtime, "'wasm-unsafe-eval'", *dict.fromkeys(script_hashes)],
        "worker-src": ["'self'", "blob:", *runtime],
        "connect-src": ["'self'", *runtime, *(o for o in connect_origins if o not in runtime)],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'self'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def content_security_policy(html: str, settings: Settings) -> str:
    """The CSP of a page of this store whose final HTML is `html`: its own origin, WebAssembly, one hash per
    inline script, workers from here (or blob:), fetches and beacons to here and to the collectors, and the
    tracker's build from its CDN when `dist_url` names one."""
    return _policy((script_hash(s) for s in inline_scripts(html)), collector_origins(settings),
                   runtime_origins(settings))


class SecurityHeaders:
    """ASGI middleware: `X-Content-Type-Options: nosniff` on every response; on HTML, also Referrer-Policy and
    the Content-Security-Policy of the page as sent (the body is held until complete to hash its scripts)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.connect_origins = collector_origins(settings)
        self.runtime_origins = runtime_origins(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_hardened(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").lower().startswith("text/html"):
                    start = message  # sent with the CSP once the whole page is here
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                headers = MutableHeaders(scope=start)
                encoded = "content-encoding" in headers
                page = "" if encoded else body.decode("utf-8", "replace")
                headers["Content-Security-Policy"] = _policy(
                    (script_hash(s) for s in inline_scripts(page)), self.connect_origins, self.runtime_origins)
                headers.setdefault("Referrer-Policy", REFERRER_POLICY)
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, send_hardened)
