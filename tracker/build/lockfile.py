"""The Pyodide lockfile the worker boots with: the vendored `pyodide-lock.json` plus the tracker's wheel.

An entry has the fields of the vendored lockfile's own packages (what `pyodide-lock`'s `add_wheels` writes for
a pure wheel); `file_name` is relative to the lockfile's URL (Pyodide resolves it against `packageBaseUrl`,
which defaults to the lockfile's directory) and `sha256` is checked by the browser (fetch integrity).

Written by hand, not by `pyodide-lock` (`PyodideLockSpec.add_wheels`, `pyodide lockfile add-wheels`), which would
write the same entry from the wheel's metadata: for one pure wheel with no dependencies, one dict is less than that
library with pydantic under it, whose model would also have to match the vendored Pyodide's lockfile format.
tests/unit/test_build.py checks the entry against the served wheel.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .wheel import DISTRIBUTION, IMPORT_NAME, Wheel

__all__ = ["PACKAGE", "add_wheel", "dump"]

#: The package's key and name in the lockfile (PEP 503 normalized): what the worker asks Pyodide to load.
PACKAGE = re.sub(r"[-_.]+", "-", DISTRIBUTION).lower()


def add_wheel(lock: dict[str, Any], wheel: Wheel, file_name: str) -> dict[str, Any]:
    """A copy of `lock` with `wheel` as package `PACKAGE`, served at `file_name` (relative to the lockfile)."""
    packages = dict(lock.get("packages") or {})
    packages[PACKAGE] = {
        "name": PACKAGE,
        "version": wheel.version,
        "file_name": file_name,
        "install_dir": "site",
        "sha256": wheel.sha256,
        "package_type": "package",
        "imports": [IMPORT_NAME],
        "depends": [],
        "unvendored_tests": False,
        "tool": {},
    }
    return {**lock, "packages": dict(sorted(packages.items()))}


def dump(lock: dict[str, Any]) -> bytes:
    """The lockfile's bytes: compact, keys in a fixed order, so the same input gives the same hash."""
    return json.dumps(lock, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
