"""Demo stores for the benchmark: uvicorn on a free port in a thread, plus variant pages under /_bench/.

`/_bench/<variant>/<store path>` is the store page at `<store path>` with the tracker's embed changed:

- `none`: without the embed (no config tag, no inline sensor, so nothing of the tracker runs or loads): the
  control for first paint, long tasks and bytes (also Lighthouse's "without");
- `first`: the embed moved up in `<head>`, right before the stylesheet link. An inline script after a
  stylesheet waits for it (script-blocking), so in the store's layout the sensor starts, and the parser goes
  on, only once store.css has arrived; this variant shows what placing the embed first changes.

The store's middleware computes the page's Content-Security-Policy before the embed is changed; without
it the policy lists the sensor's hash for a script that is not there, which is harmless, moved it keeps its
hash, and every other inline script keeps its own (the benchmark counts CSP violations per visit).

The variants that timed Pyodide and PyScript on the main thread are gone: PyScript is no longer used, and
a main-thread Pyodide cannot start under the store's CSP, which has no 'unsafe-eval' (Pyodide evals).
"""

from __future__ import annotations

import gzip
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from demo_store.app import Settings, create_app
from demo_store.live import LiveServer
from demo_store.pages import tracker_embed

__all__ = ["LiveServer", "BenchApp", "VARIANTS", "start_store"]

VARIANTS = ("none", "first")
_STYLESHEET = '<link rel="stylesheet"'


async def store_page(store: Any, scope: Scope, receive: Receive, path: str) -> tuple[Message, bytes]:
    """The store's answer for `path` (as the request `scope` asks it, but uncompressed, so that its body can be
    rewritten): its `http.response.start` message and its whole body."""
    inner = dict(scope)
    inner["path"] = path
    inner["raw_path"] = path.encode()
    inner["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
    start: Message = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await store(inner, receive, capture)
    return start, b"".join(chunks)


class BenchApp:
    """The demo store, plus `/_bench/<variant>/...` pages that differ from the store's only in the embed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = create_app(settings)

    @property
    def embed(self) -> str:
        """The store's embed as of now: it names the tracker's build by content hashes, so it changes whenever
        a file under tracker/ does (also while a long benchmark runs)."""
        return tracker_embed(self.settings, self.store.state.demo.tracker)

    def variant_embed(self, variant: str) -> str:
        if variant == "none":
            return ""
        if variant == "first":
            return self.embed
        raise ValueError(f"unknown variant {variant!r}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/_bench/"):
            await self.store(scope, receive, send)
            return
        _, _, variant, *rest = path.split("/", 3)
        if variant not in VARIANTS:
            await _plain(send, 404, b"unknown bench variant")
            return
        start, body = await store_page(self.store, scope, receive, "/" + (rest[0] if rest else ""))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
            page, embed = body.decode("utf-8"), self.embed
            if embed not in page:
                raise RuntimeError("the store page does not contain tracker_embed(settings)")
            if variant == "first":
                # The embed first in <head>, before the stylesheet: an inline script after a stylesheet waits
                # for it (script-blocking), so the sensor starts late and holds the parser until then.
                at = page.find(_STYLESHEET)
                if at < 0:
                    raise RuntimeError("the store page has no stylesheet link")
                page = page.replace(embed, "")
                body = (page[:at] + embed + "\n" + page[at:]).encode("utf-8")
            else:
                body = page.replace(embed, self.variant_embed(variant)).encode("utf-8")
            # Compressed as the store compresses its own pages (GZipMiddleware, level 6, from 1 KiB), so the
            # control's document costs what the tracker page's does on the wire, less the embed.
            accepted = b",".join(v for k, v in scope["headers"] if k.lower() == b"accept-encoding")
            if b"gzip" in accepted and len(body) >= 1024:
                body = gzip.compress(body, compresslevel=6, mtime=0)
                headers = [(k, v) for k, v in headers if k.lower() not in (b"content-encoding", b"vary")]
                headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 500), "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _plain(send: Send, status: int, text: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": text})


def start_store(settings: Settings) -> tuple[LiveServer, BenchApp]:
    app = BenchApp(settings)
    return LiveServer(app, name="bench-store"), app
