"""The inspector's part of the build (docs/inspector.md): PyScript, the Python app and its loader, shipped into
`dist/` beside the tracker's files. Nothing of it is on a shopper's path: relay.js imports `inspector/loader.js`
only while `?glood_inspect=1` is on, and the loader then loads PyScript.

- `inspector/pyscript-<version>-<sha>/`: `@pyscript/core`'s `dist/` (no source maps), its LICENSE, a NOTICE
  naming the package and version, and the licenses of what it bundles (`3rd-party-licenses/`);
- `inspector/app.<sha>.py` and `inspector/inspector.<sha>.css` (from `static/inspector/`);
- `inspector/loader.js` (not hashed: relay.js finds it next to its own directory; revalidated), with the URLs of
  the above, the Pyodide interpreter and the tracker's wheel written in;
- beside the tracker's Pyodide runtime (`pyodide/<version>-<sha>/`, the same `pyodide.mjs`, so the HTTP cache is
  shared with the tracker's worker), what PyScript's Pyodide loads from that index URL by its fixed names: the
  full `python_stdlib.zip` (micropip and PyScript need more than the tracker's trimmed one), `pyodide-lock.json`
  (the vendored lockfile, micropip's and packaging's entries naming the wheels shipped here) and those two wheels
  (from PyPI, pinned by sha256 below; `fetch_wheels` downloads them with pip into `.cache/inspector-wheels/`).

The app installs the tracker's wheel with micropip (PyScript's `packages`), so what it shows is computed by
`tracker.core` itself.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

__all__ = ["WHEELS", "PYSCRIPT_PLUGINS_OFF", "inputs", "fetch_wheels", "add_inspector"]

#: micropip and its one dependency, as Pyodide 314's lockfile names them, pinned by the sha256 of PyPI's wheels.
WHEELS = (
    ("micropip", "0.11.1", "768de165adb8e66906039d8fec4127a57f522dfdf8e6fbff877a4616941ecfd3"),
    ("packaging", "26.1", "5d9c0669c6285e491e0ced2eee587eaf67b670d94a19e94e3984a481aba6802f"),
)
#: PyScript plugins the inspector does not use (not loaded): only `error` stays, to show a failure on the page.
PYSCRIPT_PLUGINS_OFF = ("codemirror", "deprecations-manager", "donkey", "py-editor", "py-game", "py-terminal")
_APP = ("app.py", "inspector.css")
_LOADER = "loader.js"
_CONFIG_MARK = "/*BUILD:CONFIG*/null"


class Output(Protocol):
    """What the build's output recorder offers (tracker.build._Output)."""

    def add(self, logical: str, path: str, data: bytes, version: str, *, source: Path | None = None,
            compress: bool = True) -> str: ...


def _pyscript_dir(repo_root: Path) -> Path:
    return repo_root / "node_modules" / "@pyscript" / "core"


def _wheel_cache(repo_root: Path) -> Path:
    return repo_root / ".cache" / "inspector-wheels"


def _wheel_name(name: str, version: str) -> str:
    return f"{name}-{version}-py3-none-any.whl"


def _pyscript_files(repo_root: Path) -> list[Path]:
    root = _pyscript_dir(repo_root)
    if not (root / "dist").is_dir():
        return []
    files = sorted(p for p in (root / "dist").iterdir() if p.is_file() and p.suffix in (".js", ".css"))
    licenses = root / "src" / "3rd-party-licenses"
    extra = sorted(licenses.iterdir()) if licenses.is_dir() else []
    return [*files, *(p for p in (root / "LICENSE", root / "NOTICE") if p.is_file()), *extra]


def inputs(static_dir: Path, repo_root: Path) -> list[Path]:
    """Every file this part of the build reads (for the build's signature)."""
    if not (static_dir / "inspector" / _LOADER).is_file():
        return []
    return [*(static_dir / "inspector" / name for name in (*_APP, _LOADER)),
            _pyscript_dir(repo_root) / "package.json", *_pyscript_files(repo_root),
            *(_wheel_cache(repo_root) / _wheel_name(n, v) for n, v, _ in WHEELS)]


def fetch_wheels(repo_root: Path) -> dict[str, bytes]:
    """micropip's and packaging's wheels: from `.cache/inspector-wheels/`, downloaded there first with pip from
    PyPI when missing (hashes required); a wheel whose sha256 is not the pinned one is refused."""
    cache = _wheel_cache(repo_root)
    missing = [(n, v, h) for n, v, h in WHEELS if not (cache / _wheel_name(n, v)).is_file()]
    if missing:
        cache.mkdir(parents=True, exist_ok=True)
        requirements = cache / "requirements.txt"
        requirements.write_text("".join(f"{n}=={v} --hash=sha256:{h}\n" for n, v, h in WHEELS), encoding="utf-8")
        command = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                   "--require-hashes", "--only-binary=:all:", "--python-version", "3.14", "-d", str(cache),
                   "-r", str(requirements)]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            raise RuntimeError(f"the inspector's wheels ({', '.join(n for n, _, _ in missing)}) are not in {cache} "
                               f"and pip could not download them: {detail.decode(errors='replace')[-400:]}"
                               ) from error
    out = {}
    for name, version, sha in WHEELS:
        data = (cache / _wheel_name(name, version)).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            raise RuntimeError(f"{cache / _wheel_name(name, version)} is not the pinned wheel (sha256 differs)")
        out[name] = data
    return out


def _lockfile(vendored: bytes, wheels: dict[str, bytes]) -> bytes:
    """The vendored lockfile, micropip's and packaging's entries naming the wheels shipped beside it."""
    lock = json.loads(vendored)
    for name, version, _ in WHEELS:
        entry = lock["packages"][name]
        entry.update(file_name=_wheel_name(name, version), version=version,
                     sha256=hashlib.sha256(wheels[name]).hexdigest())
    return (json.dumps(lock, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def add_inspector(output: Output, *, static_dir: Path, repo_root: Path, pyodide_dir: Path, runtime_dir: str,
                  base: str, wheel_url: str, version: str) -> dict[str, Any] | None:
    """Write the inspector's files through `output` (so the manifest names them); returns the loader's config,
    or None for sources without the inspector (no `static/inspector/`). PyScript missing from node_modules
    fails the build (scripts/vendor.sh installs it)."""
    if not (static_dir / "inspector" / _LOADER).is_file():
        return None
    if not (_pyscript_dir(repo_root) / "package.json").is_file():
        raise RuntimeError(f"{_pyscript_dir(repo_root)} is missing: the inspector ships @pyscript/core from there "
                           "(npm ci, as scripts/vendor.sh runs it)")
    pyodide_version = str(json.loads((pyodide_dir / "package.json").read_text(encoding="utf-8"))["version"])
    wheels = fetch_wheels(repo_root)
    for name, wheel_version, _ in WHEELS:
        output.add(f"inspector:{name}.whl", f"{runtime_dir}/{_wheel_name(name, wheel_version)}", wheels[name],
                   wheel_version, compress=False)
    lock = _lockfile((pyodide_dir / "pyodide-lock.json").read_bytes(), wheels)
    output.add("inspector:pyodide-lock.json", f"{runtime_dir}/pyodide-lock.json", lock, pyodide_version)
    stdlib = pyodide_dir / "python_stdlib.zip"
    output.add("inspector:python_stdlib.zip", f"{runtime_dir}/python_stdlib.zip", stdlib.read_bytes(),
               pyodide_version, source=stdlib)

    package = json.loads((_pyscript_dir(repo_root) / "package.json").read_text(encoding="utf-8"))
    pyscript_version = str(package["version"])
    files = _pyscript_files(repo_root)
    contents = {path: path.read_bytes() for path in files}
    licenses = _pyscript_dir(repo_root) / "src" / "3rd-party-licenses"
    notice = None
    if not (_pyscript_dir(repo_root) / "NOTICE").is_file():
        notice = (f"{package['name']} {pyscript_version} (https://pyscript.net, "
                  f"https://github.com/pyscript/pyscript), licensed under the Apache License 2.0 (LICENSE).\n"
                  "Copyright the PyScript authors (Anaconda, Inc. and contributors).\n"
                  "It bundles polyscript and other packages; their licenses are in 3rd-party-licenses/.\n"
                  "Shipped unmodified from the npm package's dist/ (source maps left out).\n").encode()
    digest = hashlib.sha256(b"".join(hashlib.sha256(d).digest() for d in contents.values()) + (notice or b""))
    pyscript_dir = f"inspector/pyscript-{pyscript_version}-{digest.hexdigest()[:12]}"
    for path, data in contents.items():
        name = f"3rd-party-licenses/{path.name}" if path.parent == licenses else path.name
        output.add(f"inspector:pyscript/{name}", f"{pyscript_dir}/{name}", data, pyscript_version,
                   source=path if path.suffix in (".js", ".css") else None)
    if notice is not None:
        output.add("inspector:pyscript/NOTICE", f"{pyscript_dir}/NOTICE", notice, pyscript_version, compress=False)

    urls: dict[str, str] = {}
    for name in _APP:
        data = (static_dir / "inspector" / name).read_bytes()
        stem, suffix = name.rsplit(".", 1)
        short = hashlib.sha256(data).hexdigest()[:12]
        urls[stem] = output.add(f"inspector:{name}", f"inspector/{stem}.{short}.{suffix}", data, version)
    config = {"pyscript": f"{base}{pyscript_dir}/core.js", "pyscript_css": f"{base}{pyscript_dir}/core.css",
              "app": urls["app"], "css": urls["inspector"], "interpreter": f"{base}{runtime_dir}/pyodide.mjs",
              "wheel": wheel_url, "plugins": [f"!{name}" for name in PYSCRIPT_PLUGINS_OFF], "version": version}
    loader = (static_dir / "inspector" / _LOADER).read_text(encoding="utf-8")
    if loader.count(_CONFIG_MARK) != 1:
        raise RuntimeError(f"static/inspector/{_LOADER} must hold {_CONFIG_MARK} once (where the build writes "
                           "its config)")
    loader = loader.replace(_CONFIG_MARK, json.dumps(config, sort_keys=True))
    # Not content-addressed: no precompressed variants (the build reuses a variant already in the output), and
    # those of an earlier build are removed (a server would send them in its place).
    out = getattr(output, "out", None)
    if isinstance(out, Path):
        for suffix in (".gz", ".zst", ".br"):
            (out / "inspector" / (_LOADER + suffix)).unlink(missing_ok=True)
    output.add("inspector:loader.js", f"inspector/{_LOADER}", loader.encode("utf-8"), version, compress=False)
    return config
