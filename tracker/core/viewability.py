"""The MRC viewability rule: at least `ratio` visible for `duration` continuous ms while the page is visible."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Viewability"]

K = TypeVar("K", bound=Hashable)


@dataclass
class _State:
    ratio: float = 0.0
    since: float | None = None
    viewed: bool = False
    met: float | None = None


class Viewability(Generic[K]):
    """Tracks many elements; each becomes viewed at most once.

    Feed it visibility ratios (`update`) and page visibility (`set_page_visible`),
    then ask which elements are `due` at a time; `next_deadline` says when to ask next.
    """

    def __init__(self, ratio: float = 0.5, duration_ms: float = 1000.0, page_visible: bool = True) -> None:
        self.ratio = ratio
        self.duration_ms = duration_ms
        self.page_visible = page_visible
        self._states: dict[K, _State] = {}

    def update(self, key: K, ratio: float, now_ms: float) -> None:
        state = self._states.setdefault(key, _State())
        if state.viewed:
            return
        state.ratio = ratio
        if ratio >= self.ratio and self.page_visible:
            if state.since is None:
                state.since = now_ms
        else:
            state.since = None

    def set_page_visible(self, visible: bool, now_ms: float) -> None:
        self.page_visible = visible
        for state in self._states.values():
            if state.viewed:
                continue
            state.since = now_ms if visible and state.ratio >= self.ratio else None

    def due(self, now_ms: float) -> list[K]:
        """Elements that just met the rule, in the order they were first seen; each once."""
        out = []
        for key, state in self._states.items():
            if not state.viewed and state.since is not None and now_ms - state.since >= self.duration_ms:
                state.viewed = True
                state.met = state.since + self.duration_ms
                out.append(key)
        return out

    def next_deadline(self) -> float | None:
        times = [s.since + self.duration_ms for s in self._states.values() if not s.viewed and s.since is not None]
        return min(times) if times else None

    def viewed(self, key: K) -> bool:
        state = self._states.get(key)
        return bool(state and state.viewed)

    def met_at(self, key: K) -> float | None:
        """When a viewed element met the rule (its visible run start + duration)."""
        state = self._states.get(key)
        return state.met if state else None

    def forget(self, key: K) -> None:
        self._states.pop(key, None)

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON (keys as strings), for `restore` on another page."""
        return {"visible": self.page_visible,
                "states": {str(k): [s.ratio, s.since, s.viewed] for k, s in self._states.items()}}

    def restore(self, raw: Any) -> None:
        """Take the state of `snapshot()` (integer keys); anything else leaves it as it is."""
        if not isinstance(raw, dict) or not isinstance(raw.get("states"), dict):
            return
        self.page_visible = raw.get("visible") is not False
        for key, value in raw["states"].items():
            try:
                ratio, since, viewed = value
                self._states[int(key)] = _State(float(ratio), None if since is None else float(since),  # type: ignore[index]
                                                viewed is True)
            except (TypeError, ValueError):
                continue
