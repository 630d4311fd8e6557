"""Static files with the right types, caching and precompressed variants, and the tracker as one zip for its worker.

The vendored runtime (`static/vendor/<package>/`) is also served under `/static/vendor/<package>@<version>/`,
the version being the one in the vendored `package.json`: those URLs never change content, so they are
immutable. `scripts/vendor.sh` stores `.zst` and `.gz` next to the text and wasm files; a request that accepts
one of them gets it as is (no per-request compression of a 9.6 MB wasm).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from .settings import REPO_ROOT, app_state

__all__ = ["MEDIA_TYPES", "IMMUTABLE", "ENCODINGS", "StaticAssets", "Vendor", "TrackerArchive", "TrackerBundle",
           "tracker_routes", "accepted_encodings", "minify", "tracker_version"]

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
#: Modules of the tracker package left out of the archive a page loads.
NOT_SHIPPED = frozenset({"testing.py"})
VENDOR_PREFIX = "/static/vendor"
#: Precompressed variants stored next to a file, in order of preference: (Content-Encoding, suffix).
ENCODINGS = (("zstd", ".zst"), ("gzip", ".gz"))
_VERSIONED = re.compile(r"(?P<package>[a-z0-9_-]+)@(?P<version>[0-9A-Za-z.+_-]+)")


def cache_control(relative_path: str, *, versioned: bool = False) -> str:
    """Versioned or hashed vendor files never change: immutable; other vendor files: an hour; ours: revalidate."""
    path = PurePosixPath(relative_path)
    if path.parts[:1] != ("vendor",):
        return REVALIDATE
    return IMMUTABLE if versioned or _HASHED_NAME.search(path.name) else VENDOR_CACHE


def accepted_encodings(header: str) -> set[str]:
    """Content codings an `Accept-Encoding` header accepts (q > 0); `*` stands for any."""
    accepted = set()
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding and quality > 0:
            accepted.add(coding.strip().lower())
    return accepted


class Vendor:
    """The vendored runtime: `static/vendor/<package>/`, its version from the vendored `package.json`."""

    def __init__(self, static_dir: Path) -> None:
        self.root = static_dir / "vendor"
        self._lock = threading.Lock()
        self._versions: dict[str, tuple[int, str | None]] = {}

    def version(self, package: str) -> str | None:
        """The vendored version of `package`, or None when there is no readable package.json."""
        manifest = self.root / package / "package.json"
        try:
            mtime = manifest.stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            cached = self._versions.get(package)
            if cached is None or cached[0] != mtime:
                try:
                    version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
                except (OSError, ValueError, AttributeError):
                    version = None
                cached = (mtime, version if isinstance(version, str) and _VERSIONED.fullmatch(f"x@{version}")
                          else None)
                self._versions[package] = cached
            return cached[1]

    def url(self, package: str, name: str) -> str:
        """`/static/vendor/<package>@<version>/<name>` (immutable), or the unversioned URL without a version."""
        version = self.version(package)
        directory = f"{package}@{version}" if version else package
        return f"{VENDOR_PREFIX}/{directory}/{name}"

    def resolve(self, relative_path: str) -> tuple[str, bool] | None:
        """Map `vendor/<package>@<version>/...` to `vendor/<package>/...` (True = versioned).

        A version other than the vendored one is None (404): its content is not what the URL promises.
        """
        parts = PurePosixPath(relative_path).parts
        if len(parts) < 3 or parts[0] != "vendor":
            return relative_path, False
        match = _VERSIONED.fullmatch(parts[1])
        if match is None:
            return relative_path, False
        if self.version(match["package"]) != match["version"]:
            return None
        return str(PurePosixPath("vendor", match["package"], *parts[2:])), True


class StaticAssets(StaticFiles):
    """StaticFiles with explicit MIME types (.mjs, .wasm, ...), Cache-Control by path, versioned vendor
    URLs and precompressed variants (`<file>.zst`, `<file>.gz`) chosen by Accept-Encoding."""

    def __init__(self, *args: Any, vendor: Vendor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vendor = vendor

    async def get_response(self, path: str, scope: Scope) -> Response:
        relative = path.replace(os.sep, "/")
        versioned = False
        if self.vendor is not None:
            resolved = self.vendor.resolve(relative)
            if resolved is None:
                raise HTTPException(404)
            relative, versioned = resolved
        scope["glood.static"] = (relative, versioned)
        return await super().get_response(os.path.normpath(relative), scope)

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        original = Path(str(full_path))
        variants = _variants(original)
        encoding = None
        if variants:
            accepted = accepted_encodings(Headers(scope=scope).get("accept-encoding", ""))
            for coding, variant_path, variant_stat in variants:
                if coding in accepted:
                    encoding, full_path, stat_result = coding, variant_path, variant_stat
                    break
        response = super().file_response(full_path, stat_result, scope, status_code)
        if response.status_code != 304:
            media_type = MEDIA_TYPES.get(original.suffix.lower())
            if media_type is not None:
                response.headers["content-type"] = media_type
            if encoding is not None:
                response.headers["content-encoding"] = encoding
        if variants:
            response.headers["vary"] = "Accept-Encoding"
        relative, versioned = scope.get("glood.static") or (self.get_path(scope).replace(os.sep, "/"), False)
        response.headers["cache-control"] = cache_control(relative, versioned=versioned)
        return response


def _variants(path: Path) -> list[tuple[str, Path, os.stat_result]]:
    """The precompressed variants stored next to `path` (none for a variant itself)."""
    if path.suffix in {suffix for _, suffix in ENCODINGS}:
        return []
    found = []
    for coding, suffix in ENCODINGS:
        candidate = path.with_name(path.name + suffix)
        try:
            found.append((coding, candidate, candidate.stat()))
        except OSError:
            continue
    return found


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
    """Builds the tracker archive once and again only when a .py file under `tracker_dir` changes;
    knows the URLs of the runtime it runs on (`vendor`) and the sensor the page inlines."""

    def __init__(self, tracker_dir: Path, static_dir: Path | None = None) -> None:
        self.tracker_dir = tracker_dir
        self.static_dir = static_dir if static_dir is not None else tracker_dir.parent / "static"
        self.vendor = Vendor(self.static_dir)
        self._lock = threading.Lock()
        self._sensor: tuple[tuple[int, int], str] | None = None
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._archive: TrackerArchive | None = None

    def _sources(self) -> list[tuple[str, Path]]:
        """Every .py of the package but the test doubles (`tracker/testing.py`), which are not shipped."""
        found = [(p.relative_to(self.tracker_dir).as_posix(), p) for p in self.tracker_dir.rglob("*.py")]
        return sorted((name, path) for name, path in found if name not in NOT_SHIPPED)

    def archive(self) -> TrackerArchive:
        sources = self._sources()
        signature = tuple((name, p.stat().st_mtime_ns, p.stat().st_size) for name, p in sources)
        with self._lock:
            if self._archive is None or signature != self._signature:
                self._archive = _zip(sources)
                self._signature = signature
            return self._archive

    def runtime(self, require_consent: bool = False, honor_gpc: bool = True) -> dict[str, Any]:
        """What the sensor's `data-runtime` names: its second half, the worker, Pyodide, the tracker archive,
        and what the sensor must know of the config before the worker says (`rc`: consent first; `gpc`:
        Global Privacy Control denies)."""
        index = self.vendor.url("pyodide", "")
        return {"relay": f"{TRACKER_PREFIX}/relay.js", "worker": f"{TRACKER_PREFIX}/worker.mjs",
                "pyodide": index + "pyodide.mjs", "index": index, "archive": self.archive().url,
                "version": tracker_version(self.tracker_dir), "rc": require_consent, "gpc": honor_gpc}

    def sensor(self) -> str:
        """The sensor's source, minified with the pinned terser when it is installed (the page inlines it)."""
        source = self.static_dir / "tracker" / "sensor.js"
        stamp = (source.stat().st_mtime_ns, source.stat().st_size)
        with self._lock:
            if self._sensor is None or self._sensor[0] != stamp:
                self._sensor = (stamp, minify(source))
            return self._sensor[1]


def tracker_version(tracker_dir: Path) -> str:
    """`__version__` of the tracker package (its one version source)."""
    match = re.search(r'^__version__ = "([^"]+)"', (tracker_dir / "__init__.py").read_text(encoding="utf-8"), re.M)
    return match.group(1) if match else "0"


def minify(source: Path) -> str:
    """`source` through terser (`node_modules/.bin/terser`, pinned in package.json), or as it is without it.

    The result is kept in `node_modules/.cache/glood-sensor/<sha256 of the source>.js`, so a store (or a test)
    that starts later serves it without running node again.
    """
    text = source.read_text(encoding="utf-8")
    terser = REPO_ROOT / "node_modules" / ".bin" / "terser"
    if not terser.is_file():
        return text
    cached = REPO_ROOT / "node_modules" / ".cache" / "glood-sensor" / (hashlib.sha256(text.encode()).hexdigest() + ".js")
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    try:
        done = subprocess.run([str(terser), "--compress", "passes=2", "--mangle", "--ecma", "2020"], input=text,
                              capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return text
    minified = done.stdout.strip()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(minified, encoding="utf-8")
        partial.replace(cached)
    except OSError:
        pass
    return minified


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


def revalidated(request: Request, body: bytes, media_type: str) -> Response:
    """`body` with a strong ETag and `no-cache`; 304 Not Modified when the browser already has it."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {"Cache-Control": REVALIDATE, "ETag": etag}
    given = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    if etag in given or "*" in given:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


async def tracker_zip(request: Request) -> Response:
    archive = app_state(request).bundle.archive()
    if request.path_params["digest"] != archive.digest:
        raise HTTPException(404)
    return Response(archive.data, media_type="application/zip", headers={"Cache-Control": IMMUTABLE})


def tracker_routes() -> list[Route]:
    """Served ahead of the static mount: the content-addressed tracker archive the worker unpacks."""
    return [Route(TRACKER_PREFIX + "/tracker-{digest:str}.zip", tracker_zip)]
