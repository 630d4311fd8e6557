"""Demo stores for the benchmark: uvicorn on a free port in a thread, plus reference pages under /_bench/.

`/_bench/<variant>/<store path>` is the store page at `<store path>` with the tracker's embed swapped:

- `none`: no runtime at all (the control: first paint and long tasks of the store itself);
- `pyodide`: only `pyodide.mjs` + `loadPyodide()` (what the runtime costs by itself);
- `pyscript`: PyScript with an empty Python script (the runtime plus PyScript, without the tracker).

Both runtime variants set `document.documentElement.dataset.gloodTracker = "ready"` when Python runs, so
they are timed exactly like the tracker page. They load the same interpreter URL as the tracker.
"""

from __future__ import annotations

import html
import json
import re

from starlette.types import Message, Receive, Scope, Send

from demo_store.app import Settings, create_app
from demo_store.live import LiveServer
from demo_store.pages import tracker_embed

__all__ = ["LiveServer", "BenchApp", "VARIANTS", "start_store"]

VARIANTS = ("none", "pyodide", "pyscript")
_MARK_READY = 'document.documentElement.dataset.gloodTracker = "ready"'
_CORE_JS = re.compile(r'<script type="module" src="([^"]*/core\.js)"></script>')


class BenchApp:
    """The demo store, plus `/_bench/<variant>/...` pages that differ from the store's only in the embed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = create_app(settings)

    @property
    def embed(self) -> str:
        """The store's embed as of now: it names the tracker archive by the hash of its sources, so it
        changes whenever a file under tracker/ does (also while a long benchmark runs)."""
        return tracker_embed(self.settings, self.store.state.demo.bundle)

    def interpreter_url(self) -> str:
        """The URL of the `pyodide.mjs` the tracker loads."""
        bundle = self.store.state.demo.bundle
        if hasattr(bundle, "runtime"):  # the sensor + worker embed
            return str(bundle.runtime()["pyodide"])
        return str(bundle.pyscript_config()["interpreter"])

    def variant_embed(self, variant: str) -> str:
        if variant == "none":
            return ""
        interpreter = self.interpreter_url()
        if variant == "pyodide":
            index = interpreter.rsplit("/", 1)[0] + "/"
            return ('<script type="module">\n'
                    f'import {{ loadPyodide }} from {json.dumps(interpreter)};\n'
                    f'const pyodide = await loadPyodide({{indexURL: {json.dumps(index)}}});\n'
                    'pyodide.runPython("import js; js.document.documentElement.dataset.gloodTracker = \'ready\'");\n'
                    '</script>')
        if variant == "pyscript":
            match = _CORE_JS.search(self.embed)
            core = match.group(1) if match else "/static/vendor/pyscript/core.js"
            config = html.escape(json.dumps({"interpreter": interpreter}), quote=True)
            return (f'<script type="module" src="{html.escape(core)}"></script>\n'
                    f'<script type="py" config="{config}">\nimport js\n'
                    f'js.{_MARK_READY}\n</script>')
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
        inner = dict(scope)
        inner["path"] = "/" + (rest[0] if rest else "")
        inner["raw_path"] = inner["path"].encode()
        # Ask for an uncompressed page so the embed can be swapped in the body.
        inner["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.store(inner, receive, capture)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
            page, embed = body.decode("utf-8"), self.embed
            if embed not in page:
                raise RuntimeError("the store page does not contain tracker_embed(settings)")
            body = page.replace(embed, self.variant_embed(variant)).encode("utf-8")
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
