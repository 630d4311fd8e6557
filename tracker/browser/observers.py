"""Section renders (initial scan + MutationObserver) and MRC viewability (IntersectionObserver)."""

from __future__ import annotations

from typing import Any, Callable

import js

from ..core.clock import Clock
from ..core.events import SectionTrack
from ..core.viewability import Viewability
from .dom import SECTION_SELECTOR, intersection, section_track
from .ffi import Bindings

__all__ = ["SectionWatcher"]

THRESHOLDS = [i / 10 for i in range(11)]


class SectionWatcher:
    """Reports each section element once when it appears, and once when it becomes viewable."""

    def __init__(self, bindings: Bindings, clock: Clock, *, ratio: float, duration_ms: float,
                 on_render: Callable[[SectionTrack], None], on_view: Callable[[SectionTrack], None]) -> None:
        self._clock = clock
        self._on_render = on_render
        self._on_view = on_view
        self._keys = js.WeakMap.new()
        self._elements: dict[int, Any] = {}
        self._tracks: dict[int, SectionTrack] = {}
        self._next_key = 0
        self.viewability: Viewability[int] = Viewability(ratio, duration_ms, self._page_visible())
        self._timer = bindings.timer(self._tick, "viewability timer")
        self._io = bindings.observer(js.IntersectionObserver, self._on_intersect, {"threshold": THRESHOLDS})
        self._mo = bindings.observer(js.MutationObserver, self._on_mutation)
        bindings.listen(js.document, "visibilitychange", self._on_visibility)

    def start(self) -> None:
        self.scan(js.document)
        self._mo.observe(js.document.documentElement, js.Object.fromEntries(
            [["childList", True], ["subtree", True]]))

    def scan(self, root: Any) -> None:
        if getattr(root, "matches", None) is not None and root.matches(SECTION_SELECTOR):
            self._add(root)
        for el in root.querySelectorAll(SECTION_SELECTOR):
            self._add(el)

    def _add(self, el: Any) -> None:
        if self._keys.has(el):
            return
        self._next_key += 1
        key = self._next_key
        self._keys.set(el, key)
        track = section_track(el)
        self._elements[key] = el
        self._tracks[key] = track
        self._on_render(track)
        self._io.observe(el)

    def _on_mutation(self, records: Any, _observer: Any) -> None:
        for record in records:
            for node in record.addedNodes:
                if node.nodeType == 1:
                    self.scan(node)

    def _on_intersect(self, entries: Any, _observer: Any) -> None:
        now = self._clock.monotonic_ms()
        for entry in entries:
            key = self._keys.get(entry.target)
            if key is None:
                continue
            seen = intersection(entry, int(key))
            self.viewability.update(seen.key, seen.ratio, now)
        self._tick()

    def _on_visibility(self, _event: Any) -> None:
        self.viewability.set_page_visible(self._page_visible(), self._clock.monotonic_ms())
        self._tick()

    def _tick(self) -> None:
        now = self._clock.monotonic_ms()
        for key in self.viewability.due(now):
            self._io.unobserve(self._elements.pop(key))
            self._on_view(self._tracks.pop(key))
        deadline = self.viewability.next_deadline()
        if deadline is None:
            self._timer.cancel()
        else:
            self._timer.schedule(deadline - now + 1)

    @staticmethod
    def _page_visible() -> bool:
        return str(js.document.visibilityState) == "visible"
