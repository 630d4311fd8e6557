"""Key-value storage seam (localStorage in the browser) and test doubles."""

from __future__ import annotations

from typing import Callable, Protocol

__all__ = ["Storage", "MemoryStorage", "BrokenStorage", "GatedStorage"]


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


class BrokenStorage:
    """Storage that is disabled: reads find nothing, writes are refused."""

    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> bool:
        return False

    def remove(self, key: str) -> None:
        return None

    def keys(self, prefix: str = "") -> list[str]:
        return []


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
