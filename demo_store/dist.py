"""The tracker as the demo store hosts it: the output of `python -m tracker build` in `dist/`, served under `/dist/`
as a CDN would (hashed names immutable, precompressed variants), built on start when missing or stale and again
when a source changes (a cheap check of the inputs' sizes and times on each embed)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tracker.build import Options, Sources, ensure, is_current, load_manifest, sensor_text
from tracker.build.embed import embed_html

from .settings import REPO_ROOT

__all__ = ["DIST_PREFIX", "TrackerDist"]

DIST_PREFIX = "/dist"


class TrackerDist:
    """One build output directory and the embed rendered from its manifest."""

    def __init__(self, out: Path, tracker_dir: Path, static_dir: Path, repo_root: Path = REPO_ROOT, *,
                 full_stdlib: bool = False, base_url: str = DIST_PREFIX + "/") -> None:
        self.out = out
        self.sources = Sources(tracker_dir, static_dir, repo_root)
        self.options = Options(base_url=base_url, full_stdlib=full_stdlib)
        self._lock = threading.Lock()
        self._manifest: dict[str, Any] | None = None
        self._sensor: tuple[str, str] | None = None

    def manifest(self) -> dict[str, Any]:
        """The current build's manifest, (re)building first when the sources changed."""
        with self._lock:
            manifest = self._manifest
            if manifest is None or not is_current(self.out, self.sources, self.options, manifest):
                manifest = load_manifest(self.out)
                if manifest is None or not is_current(self.out, self.sources, self.options, manifest):
                    manifest = ensure(self.out, self.sources, self.options)
                self._manifest = manifest
            return manifest

    def runtime(self) -> dict[str, Any]:
        return dict(self.manifest()["runtime"])

    def sensor(self) -> str:
        manifest = self.manifest()
        path = str(manifest["files"]["sensor.js"]["path"])
        with self._lock:
            if self._sensor is None or self._sensor[0] != path:
                self._sensor = (path, sensor_text(self.out, manifest))
            return self._sensor[1]

    def embed(self, config: Mapping[str, Any]) -> str:
        """The build's embed with this store's config (the same markup as the build's `embed.html`)."""
        return embed_html(self.runtime(), self.sensor(), config)
