"""The tracker as a pure `py3-none-any` wheel, built with the standard library and byte-for-byte deterministic.

`pyodide build` (pyodide-build) needs Pyodide's cross-build environment, which it downloads from GitHub; for a
package with no compiled code the result would be this same pure wheel, so it is written here directly:
`tracker/__init__.py`, `tracker/core/**`, `tracker/browser/**` (never `testing.py`, `build/` or `__main__.py`),
then the `.dist-info` files (METADATA, WHEEL, RECORD), every entry stamped 1980-01-01 with mode 0644.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DISTRIBUTION", "IMPORT_NAME", "SHIPPED", "Wheel", "shipped_sources", "build_wheel", "tracker_version"]

#: The wheel's distribution name (its normalized form names the package in the Pyodide lockfile).
DISTRIBUTION = "glood-tracker"
IMPORT_NAME = "tracker"
#: What the browser loads, relative to the tracker package: the top-level `__init__.py` and these subpackages.
SHIPPED = ("__init__.py", "core/", "browser/")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_VERSION = re.compile(r'^__version__ = "([^"]+)"', re.M)


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


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def _metadata(version: str) -> str:
    return "\n".join([
        "Metadata-Version: 2.1",
        f"Name: {DISTRIBUTION}",
        f"Version: {version}",
        "Summary: Glood storefront tracker: the Python half that runs in the browser's worker under Pyodide",
        "Requires-Python: >=3.11",
        "",
    ])


def _wheel_file() -> str:
    return "Wheel-Version: 1.0\nGenerator: tracker.build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def build_wheel(tracker_dir: Path) -> Wheel:
    """The wheel of the package at `tracker_dir`: the same bytes for the same sources."""
    version = tracker_version(tracker_dir)
    stem = f"{DISTRIBUTION.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    entries = [(f"{IMPORT_NAME}/{name}", path.read_bytes()) for name, path in shipped_sources(tracker_dir)]
    entries.append((f"{dist_info}/METADATA", _metadata(version).encode("utf-8")))
    entries.append((f"{dist_info}/WHEEL", _wheel_file().encode("utf-8")))
    entries.append((f"{dist_info}/top_level.txt", f"{IMPORT_NAME}\n".encode()))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    record += f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            archive.writestr(info, data, compresslevel=9)
    return Wheel(f"{stem}-py3-none-any.whl", version, buffer.getvalue())
