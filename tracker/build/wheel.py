"""The tracker as a pure `py3-none-any` wheel, built by pypa `build` with the pinned hatchling, byte-reproducible.

The wheel's project definition is `browser-wheel/pyproject.toml` beside this file. `build_wheel` copies it and the
shipped sources (`tracker/__init__.py`, `tracker/core/**`, `tracker/browser/**`: never `testing.py`, `build/` or
`__main__.py`, nor anything but `.py` files) into a temporary directory and runs
`python -m build --wheel --no-isolation` there: no network (the `build` extra installs `build` and the backend,
and `build` checks the installed backend against the pin), and `SOURCE_DATE_EPOCH` fixed at 1980-01-01, so every
entry carries that time (hatchling also fixes the entries' order and modes): the same sources give the same bytes.

`pyodide build` is not used: it needs Pyodide's cross-build environment, downloaded from GitHub, and for a
package with no compiled code it would make this same pure wheel (docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DISTRIBUTION", "IMPORT_NAME", "SHIPPED", "PROJECT", "SOURCE_DATE_EPOCH", "Wheel", "WheelError",
           "shipped_sources", "build_wheel", "tracker_version"]

#: The wheel's distribution name (its normalized form names the package in the Pyodide lockfile).
DISTRIBUTION = "glood-tracker"
IMPORT_NAME = "tracker"
#: What the browser loads, relative to the tracker package: the top-level `__init__.py` and these subpackages.
SHIPPED = ("__init__.py", "core/", "browser/")
#: The wheel's project definition (copied into the temporary project as its pyproject.toml).
PROJECT = Path(__file__).resolve().parent / "browser-wheel" / "pyproject.toml"
#: 1980-01-01T00:00:00Z, the earliest time a zip entry can carry: the wheel's every entry is stamped with it
#: whatever the environment says, so that the wheel's hash (its URL, its lockfile entry) follows its sources only.
SOURCE_DATE_EPOCH = 315532800
_VERSION = re.compile(r'^__version__ = "([^"]+)"', re.M)
_TIMEOUT_S = 300


class WheelError(RuntimeError):
    """pypa build failed, is not installed, or made something else than the one wheel expected."""


@dataclass(frozen=True)
class Wheel:
    """A built wheel: its file name (`glood_tracker-<version>-py3-none-any.whl`) and bytes."""

    name: str
    version: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def tracker_version(tracker_dir: Path) -> str:
    """`__version__` of the tracker package (its one version source), read without importing it."""
    match = _VERSION.search((tracker_dir / "__init__.py").read_text(encoding="utf-8"))
    return match.group(1) if match else "0"


def shipped_sources(tracker_dir: Path) -> list[tuple[str, Path]]:
    """(path inside the package, file) of every shipped `.py`, sorted: `__init__.py`, `core/**`, `browser/**`."""
    found = []
    for path in tracker_dir.rglob("*.py"):
        relative = path.relative_to(tracker_dir).as_posix()
        if "__pycache__" in relative:
            continue
        if relative == SHIPPED[0] or any(relative.startswith(prefix) for prefix in SHIPPED[1:]):
            found.append((relative, path))
    return sorted(found)


def wheel_name(version: str) -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"


def build_wheel(tracker_dir: Path, project: Path = PROJECT) -> Wheel:
    """The wheel of the package at `tracker_dir`, built by `python -m build`: the same bytes for the same sources."""
    version = tracker_version(tracker_dir)
    expected = wheel_name(version)
    with tempfile.TemporaryDirectory(prefix="glood-tracker-wheel-") as temporary:
        root = Path(temporary) / "project"
        out = Path(temporary) / "out"
        for name, path in shipped_sources(tracker_dir):
            target = root / IMPORT_NAME / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        root.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project, root / "pyproject.toml")
        command = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(root)]
        environment = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
        try:
            # cwd: the temporary directory, so that nothing in the caller's directory can stand in for `build`.
            result = subprocess.run(command, cwd=temporary, env=environment, capture_output=True, text=True,
                                    timeout=_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as error:
            raise WheelError(f"could not run {' '.join(command[1:4])}: {error}") from error
        if result.returncode != 0:
            output = (result.stderr.strip() or result.stdout.strip())[-2000:]
            hint = (" (install the build extra: pip install -e '.[build]')"
                    if "No module named build" in output or "Missing dependencies" in output else "")
            raise WheelError(f"python -m build failed{hint}:\n{output}")
        made = sorted(path.name for path in out.glob("*.whl"))
        if made != [expected]:
            raise WheelError(f"python -m build made {made}, expected [{expected!r}]")
        return Wheel(expected, version, (out / expected).read_bytes())
