"""Static files with the right types and caching, and the tracker delivered as one zip for PyScript."""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from .settings import app_state

__all__ = ["MEDIA_TYPES", "IMMUTABLE", "StaticAssets", "TrackerArchive", "TrackerBundle", "tracker_routes"]

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".py": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
IMMUTABLE = "public, max-age=31536000, immutable"
VENDOR_CACHE = "public, max-age=3600"
REVALIDATE = "no-cache"
# Bundler output names carry an 8-character content hash, e.g. core-C9KDLldu.js.
_HASHED_NAME = re.compile(r"-(?=[\w-]*[A-Z0-9])[\w-]{8}\.(?:m?js|css)$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
TRACKER_PREFIX = "/static/tracker"


def cache_control(relative_path: str) -> str:
    """Hashed vendor names never change: immutable; other vendor files: an hour; our own files: revalidate."""
    path = PurePosixPath(relative_path)
    if path.parts[:1] != ("vendor",):
        return REVALIDATE
    return IMMUTABLE if _HASHED_NAME.search(path.name) else VENDOR_CACHE


class StaticAssets(StaticFiles):
    """StaticFiles with explicit MIME types (.mjs, .wasm, ...) and Cache-Control by path."""

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        media_type = MEDIA_TYPES.get(Path(str(full_path)).suffix.lower())
        if media_type is not None and response.status_code != 304:
            response.headers["content-type"] = media_type
        response.headers["cache-control"] = cache_control(self.get_path(scope).replace(os.sep, "/"))
        return response


@dataclass(frozen=True)
class TrackerArchive:
    """The `tracker/` package as a deterministic zip, named by the first 12 hex digits of its sha256."""

    data: bytes
    digest: str

    @property
    def name(self) -> str:
        return f"tracker-{self.digest}.zip"

    @property
    def url(self) -> str:
        return f"{TRACKER_PREFIX}/{self.name}"


class TrackerBundle:
    """Builds the tracker archive once and again only when a .py file under `tracker_dir` changes."""

    def __init__(self, tracker_dir: Path) -> None:
        self.tracker_dir = tracker_dir
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._archive: TrackerArchive | None = None

    def _sources(self) -> list[tuple[str, Path]]:
        found = [(p.relative_to(self.tracker_dir).as_posix(), p) for p in self.tracker_dir.rglob("*.py")]
        return sorted(found)

    def archive(self) -> TrackerArchive:
        sources = self._sources()
        signature = tuple((name, p.stat().st_mtime_ns, p.stat().st_size) for name, p in sources)
        with self._lock:
            if self._archive is None or signature != self._signature:
                self._archive = _zip(sources)
                self._signature = signature
            return self._archive

    def pyscript_config(self) -> dict[str, Any]:
        """PyScript config: our Pyodide, and the archive unpacked into the working directory."""
        return {"interpreter": "/static/vendor/pyodide/pyodide.mjs", "files": {self.archive().url: "./*"}}

    @property
    def boot_path(self) -> Path:
        return self.tracker_dir / "boot.py"


def _zip(sources: list[tuple[str, Path]]) -> TrackerArchive:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sources:
            info = zipfile.ZipInfo(f"tracker/{name}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    return TrackerArchive(data, hashlib.sha256(data).hexdigest()[:12])


async def pyscript_json(request: Request) -> Response:
    config = app_state(request).bundle.pyscript_config()
    return JSONResponse(config, headers={"Cache-Control": REVALIDATE})


async def tracker_zip(request: Request) -> Response:
    archive = app_state(request).bundle.archive()
    if request.path_params["digest"] != archive.digest:
        raise HTTPException(404)
    return Response(archive.data, media_type="application/zip", headers={"Cache-Control": IMMUTABLE})


async def boot_py(request: Request) -> Response:
    path = app_state(request).bundle.boot_path
    if not path.is_file():
        raise HTTPException(404)
    return FileResponse(path, media_type=MEDIA_TYPES[".py"], headers={"Cache-Control": REVALIDATE})


def tracker_routes() -> list[Route]:
    """Served ahead of the static mount: the PyScript config, the archive it names, the entry point."""
    return [
        Route(f"{TRACKER_PREFIX}/pyscript.json", pyscript_json),
        Route(TRACKER_PREFIX + "/tracker-{digest:str}.zip", tracker_zip),
        Route(f"{TRACKER_PREFIX}/boot.py", boot_py),
    ]
