"""Key-value storage seam (localStorage in the browser) and test doubles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["Storage", "MemoryStorage", "GatedStorage", "MirrorStorage"]


class Storage(Protocol):
    """String key-value storage. Implementations never raise: failures read as missing."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> bool:
        """Store a value; False when the store refused it (full, disabled)."""

    def remove(self, key: str) -> None: ...

    def keys(self, prefix: str = "") -> list[str]:
        """Stored keys starting with `prefix`."""


class MemoryStorage:
    """In-memory storage, optionally capped in total characters like a browser quota."""

    def __init__(self, quota_chars: int | None = None) -> None:
        self.data: dict[str, str] = {}
        self.quota_chars = quota_chars

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> bool:
        if self.quota_chars is not None:
            used = sum(len(k) + len(v) for k, v in self.data.items() if k != key)
            if used + len(key) + len(value) > self.quota_chars:
                return False
        self.data[key] = value
        return True

    def remove(self, key: str) -> None:
        self.data.pop(key, None)

    def keys(self, prefix: str = "") -> list[str]:
        return [k for k in self.data if k.startswith(prefix)]



class GatedStorage:
    """Storage that writes only while `allowed()` (consent): reads and removals always go through."""

    def __init__(self, inner: Storage, allowed: Callable[[], bool]) -> None:
        self.inner = inner
        self.allowed = allowed

    def get(self, key: str) -> str | None:
        return self.inner.get(key)

    def set(self, key: str, value: str) -> bool:
        return self.allowed() and self.inner.set(key, value)

    def remove(self, key: str) -> None:
        self.inner.remove(key)

    def keys(self, prefix: str = "") -> list[str]:
        return self.inner.keys(prefix)


class MirrorStorage:
    """The worker's view of the page's localStorage (workers have none): a copy the sensor sent, whose
    writes are queued for the sensor to apply (`take_writes`), in order, the last write of a key winning."""

    def __init__(self, snapshot: dict[str, str] | None = None) -> None:
        self.data: dict[str, str] = {}
        self._writes: dict[str, str | None] = {}
        self.replace(snapshot or {})

    def replace(self, snapshot: dict[str, str]) -> None:
        """A fresh copy from the sensor; writes not yet taken are applied on top of it."""
        self.data = {k: v for k, v in snapshot.items() if isinstance(k, str) and isinstance(v, str)}
        for key, value in self._writes.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> bool:
        self.data[key] = value
        self._writes[key] = value
        return True

    def remove(self, key: str) -> None:
        if key in self.data or key in self._writes:
            self.data.pop(key, None)
            self._writes[key] = None

    def keys(self, prefix: str = "") -> list[str]:
        return [k for k in self.data if k.startswith(prefix)]

    def take_writes(self) -> list[list[str | None]]:
        """[[key, value or None to remove], ...] since the last call."""
        out: list[list[str | None]] = [[k, v] for k, v in self._writes.items()]
        self._writes = {}
        return out
