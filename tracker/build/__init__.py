"""`python -m tracker build`: everything a merchant hosts, content-addressed, plus `manifest.json`.

Not shipped to the browser (like `tracker/testing.py`): it runs in CPython at build time. Layout of the output:

- `tracker/<sha>/glood_tracker-<version>-py3-none-any.whl` — the tracker package, built by pypa `build` with the
  pinned hatchling (`wheel.py`, `browser-wheel/pyproject.toml`);
- `tracker/pyodide-lock.<sha>.json` — the vendored Pyodide lockfile plus the wheel (`lockfile.py`);
- `tracker/sensor.<sha>.js` (minified, inlined by the embed), `tracker/relay.<sha>.js` (with the URLs of the
  worker and the files below written in: the embed names only relay.js), `tracker/worker.<sha>.mjs`;
- `pyodide/<version>-<sha>/` — `pyodide.mjs`, `pyodide.asm.mjs`, `pyodide.asm.wasm` (their names are fixed by
  Pyodide, so the directory carries the hash), and `pyodide/python_stdlib.<sha>.zip` (trimmed by
  `tracker.build.stdlib.trim_stdlib` when that module exists, unless `full_stdlib`; its docstrings and comments
  stripped in Pyodide's Python, unless `keep_docstrings`);
- `tracker/LICENSE` (the tracker's, MIT) and `pyodide/LICENSE`, `pyodide/LICENSE.Python`, `pyodide/NOTICE`
  (Pyodide's MPL-2.0 and CPython's PSF license, beside those files: `notices/`);
- `.gz` / `.zst` variants next to text and wasm files (copied from `scripts/vendor.sh`'s, or made here), and
  `.br` (brotli quality 11, made here with the `brotli` package when it is installed, as the `build` extra does;
  ~35 s for the wasm, once: a variant already in the output is reused);
- `embed.html` (the snippet to paste), `shopify/` (a Shopify theme app extension: `shopify.py`; its app embed block
  `shopify/blocks/glood-tracker.liquid`) and
  `manifest.json`: logical name → URL, path, bytes, sha256, version (+ the variants), and the build's inputs'
  signature, so a server can tell cheaply whether the output is stale (`ensure`).

`<sha>` is the first 12 hex digits of the sha256 of the content: a hashed URL never changes content, so it can
be cached for good. The output is deterministic: the same sources give the same bytes and names.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gzip
import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .embed import BLOCK_SCHEMA, embed_html, liquid_block
from .inspector import add_inspector
from .inspector import inputs as inspector_inputs
from .lockfile import PACKAGE, add_wheel, dump
from .minify import minify, terser_path
from .shopify import BLOCK, EXTENSION_DIR, extension_files, translated_schema
from .wheel import PROJECT, build_wheel, shipped_sources, tracker_version

__all__ = ["Sources", "Options", "MANIFEST", "EMBED", "LIQUID", "RUNTIME_FILES", "build", "ensure", "is_current",
           "load_manifest", "signature", "sensor_text"]

MANIFEST = "manifest.json"
EMBED = "embed.html"
LIQUID = "shopify/blocks/glood-tracker.liquid"
#: Pyodide's files the worker loads from its index URL (names fixed by Pyodide).
RUNTIME_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm")
#: Precompressed variants: (Content-Encoding, suffix); scripts/vendor.sh makes the .gz and .zst ones.
VARIANTS = (("gzip", ".gz"), ("zstd", ".zst"), ("br", ".br"))
#: Files of earlier builds that the new manifest no longer names are removed once this old (pages rendered
#: with an earlier embed may still load them for a while).
PRUNE_AFTER_S = 3600.0
_LOCK = ".build.lock"
_BUILD_CODE = Path(__file__).resolve().parent
#: The tools whose versions are part of the signature (the wheel's bytes depend on the backend's).
_TOOLS = ("build", "hatchling", "brotli")


@dataclass(frozen=True)
class Sources:
    """Where the build reads from: the tracker package, `static/` (tracker scripts, vendored Pyodide), the repo."""

    tracker_dir: Path
    static_dir: Path
    repo_root: Path

    @classmethod
    def default(cls) -> Sources:
        root = _BUILD_CODE.parent.parent
        return cls(root / "tracker", root / "static", root)

    @property
    def pyodide_dir(self) -> Path:
        """`static/vendor/pyodide/` (with scripts/vendor.sh's variants), else the npm package itself."""
        vendored = self.static_dir / "vendor" / "pyodide"
        return vendored if (vendored / "pyodide.mjs").is_file() else self.repo_root / "node_modules" / "pyodide"

    def script(self, name: str) -> Path:
        return self.static_dir / "tracker" / name

    def inputs(self) -> list[Path]:
        """Every file the build reads (their sizes and times make the signature)."""
        pyodide = self.pyodide_dir
        files = [path for _, path in shipped_sources(self.tracker_dir)]
        files += sorted([*_BUILD_CODE.glob("*.py"), *_BUILD_CODE.glob("*.mjs"), PROJECT])
        files += [self.script(name) for name in ("sensor.js", "relay.js", "worker.mjs")]
        for name in (*RUNTIME_FILES, "python_stdlib.zip", "pyodide-lock.json", "package.json"):
            files += [pyodide / name, *(pyodide / (name + suffix) for _, suffix in VARIANTS)]
        files.append(terser_path(self.repo_root))
        files += inspector_inputs(self.static_dir, self.repo_root)
        files += [self.license, *sorted(NOTICES.glob("*.txt"))]
        return files

    @property
    def license(self) -> Path:
        """The tracker's LICENSE: the repository's (this checkout's when the sources have none)."""
        own = self.repo_root / "LICENSE"
        return own if own.is_file() else Path(__file__).resolve().parents[2] / "LICENSE"


@dataclass(frozen=True)
class Options:
    """`base_url`: where the output is hosted (the URLs in the embed start with it); `full_stdlib`: ship Pyodide's
    standard library as it is even when a trimmer exists; `keep_docstrings`: trim it without stripping its
    docstrings and comments."""

    base_url: str = "/dist/"
    full_stdlib: bool = False
    keep_docstrings: bool = False

    @property
    def base(self) -> str:
        return self.base_url if self.base_url.endswith("/") else self.base_url + "/"


def signature(sources: Sources, options: Options) -> str:
    """A cheap fingerprint of the inputs (path, size, mtime of each; absent files count), the options and the
    installed versions of the build's tools (pypa build, the wheel's backend, brotli)."""
    parts: list[Any] = [options.base, options.full_stdlib, options.keep_docstrings,
                        [_installed(tool) for tool in _TOOLS]]
    for path in sources.inputs():
        try:
            stat = path.stat()
            parts.append([str(path), stat.st_size, stat.st_mtime_ns])
        except OSError:
            parts.append([str(path), None])
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


@functools.cache
def _installed(distribution: str) -> str | None:
    """The installed version of `distribution` (looked up once per process: ~1 ms, and signatures are frequent)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_manifest(out: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_current(out: Path, sources: Sources, options: Options, manifest: dict[str, Any] | None = None) -> bool:
    """Whether `out` holds a build of these inputs with these options, every file of it present."""
    manifest = load_manifest(out) if manifest is None else manifest
    if manifest is None or manifest.get("signature") != signature(sources, options):
        return False
    files = manifest.get("files")
    return isinstance(files, dict) and all(
        isinstance(entry, dict) and (out / str(entry.get("path"))).is_file() for entry in files.values())


def ensure(out: Path, sources: Sources | None = None, options: Options | None = None) -> dict[str, Any]:
    """The manifest of `out`, building first when it is missing or stale (one builder at a time per `out`)."""
    sources = sources or Sources.default()
    options = options or Options()
    manifest = load_manifest(out)
    if manifest is not None and is_current(out, sources, options, manifest):
        return manifest
    with _locked(out):
        manifest = load_manifest(out)
        if manifest is not None and is_current(out, sources, options, manifest):
            return manifest
        return _build(out, sources, options)


def build(out: Path, sources: Sources | None = None, options: Options | None = None) -> dict[str, Any]:
    """Build into `out` (created if needed) and return the manifest."""
    with _locked(out):
        return _build(out, sources or Sources.default(), options or Options())


def sensor_text(out: Path, manifest: dict[str, Any]) -> str:
    """The minified sensor of a build (what its embed inlines)."""
    return (out / str(manifest["files"]["sensor.js"]["path"])).read_text(encoding="utf-8")


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / _LOCK, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _short(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _hashed(name: str, data: bytes) -> str:
    """`relay.js` → `relay.<sha>.js`."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{_short(data)}{path.suffix}"))


def _write(path: Path, data: bytes) -> None:
    """Write atomically (a server may be reading the directory); a content-addressed file already there is kept."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)


def _compress(kind: str, data: bytes) -> bytes | None:
    if kind == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    if kind == "br":
        try:
            import brotli
        except ImportError:
            return None
        # Quality 11, the default 4 MiB window (lgwin 22; smaller output for the wasm than 24 here).
        return bytes(brotli.compress(data, quality=11, lgwin=22))
    zstd = shutil.which("zstd")
    if zstd is None:
        return None
    try:
        return subprocess.run([zstd, "-19", "-q", "-c"], input=data, capture_output=True, check=True,
                              timeout=300).stdout
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass
class _Output:
    out: Path
    base: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, logical: str, path: str, data: bytes, version: str, *, source: Path | None = None,
            compress: bool = True) -> str:
        """Write `data` at `path`, with variants (copied from next to `source`, or made when they save >= 10%),
        and record it; returns its URL."""
        _write(self.out / path, data)
        entry: dict[str, Any] = {"url": self.base + path, "path": path, "bytes": len(data),
                                 "sha256": hashlib.sha256(data).hexdigest(), "version": version}
        encodings: dict[str, Any] = {}
        if compress and len(data) >= 1024:
            for coding, suffix in VARIANTS:
                variant: bytes | None = None
                if source is not None:
                    with contextlib.suppress(OSError):
                        variant = (source.parent / (source.name + suffix)).read_bytes()
                if variant is None:
                    target = self.out / (path + suffix)
                    made = target.read_bytes() if target.is_file() else _compress(coding, data)
                    variant = made if made is not None and len(made) * 10 <= len(data) * 9 else None
                if variant is None:
                    continue
                _write(self.out / (path + suffix), variant)
                encodings[coding] = {"path": path + suffix, "bytes": len(variant),
                                     "sha256": hashlib.sha256(variant).hexdigest()}
        if encodings:
            entry["encodings"] = encodings
        self.files[logical] = entry
        return str(entry["url"])


def _trimmer() -> Callable[..., bytes] | None:
    """`tracker.build.stdlib.trim_stdlib` when that module exists (written separately), else None."""
    name = f"{__name__}.stdlib"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise
    trim = getattr(module, "trim_stdlib", None)
    return trim if callable(trim) else None


NOTICES = Path(__file__).parent / "notices"


def _add_notices(output: _Output, sources: Sources, pyodide_version: str, version: str) -> None:
    """The licenses of what dist/ carries, beside those files: the tracker's own (MIT) in `tracker/`, and Pyodide's
    (MPL-2.0) with CPython's (PSF: the interpreter in the wasm, the standard library zip) in `pyodide/`."""
    output.add("LICENSE", "tracker/LICENSE", sources.license.read_bytes(), version, compress=False)
    output.add("pyodide/LICENSE", "pyodide/LICENSE", (NOTICES / "MPL-2.0.txt").read_bytes(), pyodide_version,
               compress=False)
    output.add("pyodide/LICENSE.Python", "pyodide/LICENSE.Python", (NOTICES / "Python-LICENSE.txt").read_bytes(),
               pyodide_version, compress=False)
    notice = (f"Pyodide {pyodide_version} (https://github.com/pyodide/pyodide, from the npm package `pyodide`):\n"
              "pyodide.mjs, pyodide.asm.mjs and pyodide.asm.wasm in the directory beside this file.\n"
              "Licensed under the Mozilla Public License 2.0: LICENSE. Source: https://github.com/pyodide/pyodide\n\n"
              "The CPython interpreter compiled into pyodide.asm.wasm and the Python standard library\n"
              "(python_stdlib.<hash>.zip, trimmed and with docstrings removed by the tracker's build) are licensed\n"
              "under the Python Software Foundation License: LICENSE.Python.\n\n"
              "With the inspector (dist/inspector/, loaded only with ?glood_inspect=1) the runtime directory also\n"
              "holds Pyodide's full python_stdlib.zip (PSF: LICENSE.Python) and the micropip (MPL-2.0) and\n"
              "packaging (Apache-2.0 or BSD-2-Clause) wheels, each with its license in its .dist-info.\n")
    output.add("pyodide/NOTICE", "pyodide/NOTICE", notice.encode("utf-8"), pyodide_version, compress=False)


class BuildError(RuntimeError):
    """A source the build needs is not as expected."""


#: relay.js's placeholder for the build's runtime files (protocol `BuildRuntime`).
_BUILD_RUNTIME = re.compile(r"/\* build: runtime \*/ \(\{[^}]*\}\)")


def with_build_runtime(relay: str, runtime: dict[str, str]) -> str:
    """relay.js with the build's runtime files written in (its one `/* build: runtime */ ({...})`)."""
    found = _BUILD_RUNTIME.findall(relay)
    if len(found) != 1:
        raise BuildError(f"relay.js must hold exactly one `/* build: runtime */ ({{...}})`, found {len(found)}")
    return _BUILD_RUNTIME.sub(lambda _: "/* build: runtime */ (" + json.dumps(runtime, separators=(",", ":")) + ")",
                              relay)


def _build(out: Path, sources: Sources, options: Options) -> dict[str, Any]:
    started = time.monotonic()
    stamp = signature(sources, options)
    version = tracker_version(sources.tracker_dir)
    pyodide = sources.pyodide_dir
    pyodide_version = str(json.loads((pyodide / "package.json").read_text(encoding="utf-8"))["version"])
    output = _Output(out, options.base)

    # Pyodide's runtime: fixed names, so a directory named by their hashes.
    runtime_data = {name: (pyodide / name).read_bytes() for name in RUNTIME_FILES}
    runtime_dir = "pyodide/{}-{}".format(
        pyodide_version, _short("".join(hashlib.sha256(d).hexdigest() for d in runtime_data.values()).encode()))
    for name, data in runtime_data.items():
        output.add(name, f"{runtime_dir}/{name}", data, pyodide_version, source=pyodide / name)
    _add_notices(output, sources, pyodide_version, version)
    stdlib = (pyodide / "python_stdlib.zip").read_bytes()
    trim = None if options.full_stdlib else _trimmer()
    stdlib_kind = "full"
    if trim is not None:
        trimmed = trim(stdlib, strip=not options.keep_docstrings)
        stdlib_kind = "trimmed" if options.keep_docstrings else "trimmed, stripped"
        if not options.keep_docstrings and trimmed == trim(stdlib):
            stdlib_kind = "trimmed"  # nothing could be stripped (no Node or Pyodide: see stderr)
        stdlib = trimmed
    stdlib_url = output.add("python_stdlib.zip", _hashed("pyodide/python_stdlib.zip", stdlib), stdlib,
                            pyodide_version)

    # The tracker: its wheel, and the lockfile naming it (relative to the lockfile's directory).
    wheel = build_wheel(sources.tracker_dir)
    wheel_path = f"tracker/{_short(wheel.data)}/{wheel.name}"
    output.add("tracker.whl", wheel_path, wheel.data, version, compress=False)
    lock = json.loads((pyodide / "pyodide-lock.json").read_text(encoding="utf-8"))
    lock_data = dump(add_wheel(lock, wheel, str(PurePosixPath(wheel_path).relative_to("tracker"))))
    lock_url = output.add("pyodide-lock.json", _hashed("tracker/pyodide-lock.json", lock_data), lock_data,
                          pyodide_version)

    worker = sources.script("worker.mjs").read_bytes()
    worker_url = output.add("worker.mjs", _hashed("tracker/worker.mjs", worker), worker, version)
    build_runtime = {"worker": worker_url, "pyodide": f"{options.base}{runtime_dir}/pyodide.mjs",
                     "index": f"{options.base}{runtime_dir}/", "lock": lock_url, "stdlib": stdlib_url,
                     "wheel": output.files["tracker.whl"]["url"]}
    relay = with_build_runtime(sources.script("relay.js").read_text(encoding="utf-8"), build_runtime).encode("utf-8")
    relay_url = output.add("relay.js", _hashed("tracker/relay.js", relay), relay, version)
    sensor = minify(sources.script("sensor.js").read_text(encoding="utf-8"), sources.repo_root)
    sensor_data = sensor.encode("utf-8")
    output.add("sensor.js", _hashed("tracker/sensor.js", sensor_data), sensor_data, version, compress=False)

    runtime = {"relay": relay_url, **build_runtime, "version": version}
    embed = (embed_html(runtime, sensor) + "\n").encode("utf-8")
    output.add("embed.html", EMBED, embed, version, compress=False)
    # The Shopify theme app extension (shopify/): the app embed block among its other files.
    block = liquid_block(runtime, sensor, translated_schema(BLOCK_SCHEMA))
    for path, data in extension_files(block).items():
        logical = "glood-tracker.liquid" if path == BLOCK else f"shopify/{path}"
        output.add(logical, f"{EXTENSION_DIR}/{path}", data, version, compress=False)

    # The inspector (docs/inspector.md): PyScript and its Python app, loaded only with ?glood_inspect=1.
    inspector = add_inspector(output, static_dir=sources.static_dir, repo_root=sources.repo_root, pyodide_dir=pyodide,
                              runtime_dir=runtime_dir, base=options.base, wheel_url=output.files["tracker.whl"]["url"],
                              version=version)

    manifest: dict[str, Any] = {"version": version, "pyodide": pyodide_version, "package": PACKAGE,
                                "inspector": inspector, "base_url": options.base,
                                "stdlib": stdlib_kind, "signature": stamp, "runtime": runtime,
                                "files": output.files}
    _write(out / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    _prune(out, {MANIFEST, _LOCK} | {p for entry in output.files.values() for p in _paths(entry)})
    manifest["build_seconds"] = round(time.monotonic() - started, 3)
    return manifest


def _paths(entry: dict[str, Any]) -> list[str]:
    return [str(entry["path"]), *(str(v["path"]) for v in (entry.get("encodings") or {}).values())]


def _prune(out: Path, keep: set[str]) -> None:
    """Remove files of earlier builds not named by this one, once `PRUNE_AFTER_S` old; then empty directories."""
    now = time.time()
    for path in sorted(out.rglob("*"), reverse=True):
        relative = path.relative_to(out).as_posix()
        with contextlib.suppress(OSError):
            if path.is_dir():
                if not any(path.iterdir()):
                    path.rmdir()
            elif relative not in keep and now - path.stat().st_mtime > PRUNE_AFTER_S:
                path.unlink()
