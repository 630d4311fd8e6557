"""Static files with the right types, caching and precompressed variants: `/static/` and the tracker's build (`/dist/`).

The vendored runtime (`static/vendor/<package>/`) is also served under `/static/vendor/<package>@<version>/`,
the version being the one in the vendored `package.json`: those URLs never change content, so they are
immutable. `scripts/vendor.sh` stores `.zst` and `.gz` next to the text and wasm files (the tracker's build
adds `.br`); a request gets the smallest variant its Accept-Encoding accepts, as is (no per-request compression
of a 9.6 MB wasm). The tracker's build output (`dist/`, `python -m tracker build`) is served the same way, its
content-hashed names immutable.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["MEDIA_TYPES", "IMMUTABLE", "ENCODINGS", "StaticAssets", "Vendor", "accepted_encodings", "cache_control",
           "dist_cache_control"]

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".liquid": "text/plain; charset=utf-8",
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
#: A name or directory of the tracker's build carrying the first 12 hex digits of its content's sha256.
_DIST_HASHED = re.compile(r"(?:^|[/.-])[0-9a-f]{12}(?:[./]|$)")
VENDOR_PREFIX = "/static/vendor"
#: Precompressed variants stored next to a file: (Content-Encoding, suffix). The smallest accepted one is sent;
#: between variants of the same size, the first here.
ENCODINGS = (("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz"))
_VERSIONED = re.compile(r"(?P<package>[a-z0-9_-]+)@(?P<version>[0-9A-Za-z.+_-]+)")


def cache_control(relative_path: str, *, versioned: bool = False) -> str:
    """Versioned or hashed vendor files never change: immutable; other vendor files: an hour; ours: revalidate."""
    path = PurePosixPath(relative_path)
    if path.parts[:1] != ("vendor",):
        return REVALIDATE
    return IMMUTABLE if versioned or _HASHED_NAME.search(path.name) else VENDOR_CACHE


def dist_cache_control(relative_path: str, *, versioned: bool = False) -> str:
    """The build's content-hashed files never change: immutable; its manifest, embed and Liquid: revalidate."""
    return IMMUTABLE if _DIST_HASHED.search(relative_path) else REVALIDATE


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
    URLs and precompressed variants (`<file>.br`, `<file>.zst`, `<file>.gz`) chosen by Accept-Encoding: the
    smallest accepted one."""

    def __init__(self, *args: Any, vendor: Vendor | None = None,
                 cache: Callable[..., str] = cache_control, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vendor = vendor
        self.cache = cache

    async def get_response(self, path: str, scope: Scope) -> Response:
        relative = path.replace(os.sep, "/")
        if any(part.startswith(".") for part in PurePosixPath(relative).parts):
            raise HTTPException(404)  # lock and partial files of a build, dotfiles
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
            usable = [v for v in variants if v[0] in accepted]
            if usable:
                encoding, full_path, stat_result = min(usable, key=lambda v: v[2].st_size)
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
        response.headers["cache-control"] = self.cache(relative, versioned=versioned)
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
