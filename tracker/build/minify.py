"""The inline sensor through the pinned terser (`node_modules/.bin/terser`, package.json). Without terser the build
fails: the readable source is over twice the size, and every shopper would download it inline."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

__all__ = ["minify", "terser_path", "MinifyError"]

TERSER_ARGS = ("--compress", "passes=2", "--mangle", "--ecma", "2020")


def terser_path(repo_root: Path) -> Path:
    return repo_root / "node_modules" / ".bin" / "terser"


class MinifyError(RuntimeError):
    """terser is missing (run scripts/setup.sh or `npm ci`) or failed."""


def minify(text: str, repo_root: Path) -> str:
    """`text` minified by terser; MinifyError without terser or when it fails.

    The result is kept in `node_modules/.cache/glood-sensor/<sha256 of the source>.js`, so a later build reuses
    it without running node again.
    """
    terser = terser_path(repo_root)
    if not terser.is_file():
        raise MinifyError(f"{terser} is missing: install the pinned terser (npm ci, or scripts/setup.sh)")
    digest = hashlib.sha256(text.encode()).hexdigest()
    cached = repo_root / "node_modules" / ".cache" / "glood-sensor" / f"{digest}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    try:
        done = subprocess.run([str(terser), *TERSER_ARGS], input=text, capture_output=True, text=True, timeout=60,
                              check=True)
    except subprocess.CalledProcessError as exc:
        raise MinifyError(f"terser failed: {exc.stderr.strip()[:500]}") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise MinifyError(f"terser did not run: {exc}") from None
    minified = done.stdout.strip()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(minified, encoding="utf-8")
        partial.replace(cached)
    except OSError:
        pass
    return minified
