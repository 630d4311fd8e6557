"""Visitor identity (anonymous ids kept in storage) and the Glood visit (session)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .clock import Clock
from .ids import IdFactory
from .storage import Storage

__all__ = ["Identity", "Session", "IDENTITY_KEY", "VISIT_KEY"]

IDENTITY_KEY = "glood_tracker:identity"
VISIT_KEY = "glood_tracker:visit"


@dataclass(frozen=True)
class Identity:
    """Anonymous ids that outlive a visit: `user_id` (visitor) and `client_id` (device)."""

    user_id: str
    client_id: str

    @classmethod
    def load_or_create(cls, storage: Storage, new_id: IdFactory) -> Identity:
        raw = storage.get(IDENTITY_KEY)
        try:
            data = json.loads(raw) if raw else None
            if (isinstance(data, dict) and isinstance(data.get("user_id"), str)
                    and isinstance(data.get("client_id"), str)):
                return cls(data["user_id"], data["client_id"])
        except ValueError:
            pass
        identity = cls(new_id(), new_id())
        identity.save(storage)
        return identity

    def save(self, storage: Storage) -> bool:
        return storage.set(IDENTITY_KEY, json.dumps({"user_id": self.user_id, "client_id": self.client_id}))


class Session:
    """The Glood visit: `visit_id` from the init endpoint, reused until idle for `ttl_ms`.

    Times are epoch milliseconds so a visit survives page loads.
    """

    def __init__(self, storage: Storage, clock: Clock, ttl_ms: int) -> None:
        self._storage = storage
        self._clock = clock
        self.ttl_ms = ttl_ms
        self.visit_id: str | None = None
        #: The visit's token from init (Glood events carry it when the shop uses a public token), if any.
        self.token: str | None = None
        #: False when init said the shop does not want analytics (`config.analytics_enabled`).
        self.analytics = True
        self._last_seen = 0
        raw = storage.get(VISIT_KEY)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("visit_id"), str) and isinstance(data.get("last_seen"), int):
            if clock.now_ms() - data["last_seen"] < ttl_ms:
                self.visit_id = data["visit_id"]
                self._last_seen = data["last_seen"]
                self.token = data.get("token") if isinstance(data.get("token"), str) else None
                self.analytics = data.get("analytics") is not False

    @property
    def active(self) -> bool:
        """A visit id is known and has not gone idle."""
        return self.visit_id is not None and self._clock.now_ms() - self._last_seen < self.ttl_ms

    def start(self, visit_id: str, token: str | None = None, analytics: bool = True) -> None:
        """Adopt a visit id (and its token, and whether analytics are on) answered by the init endpoint."""
        if not visit_id or not isinstance(visit_id, str):
            raise ValueError("visit_id must be a non-empty string")
        self.visit_id = visit_id
        self.token = token
        self.analytics = analytics
        self.touch()

    def touch(self) -> None:
        """Record activity, extending the visit."""
        if self.visit_id is None:
            return
        self._last_seen = self._clock.now_ms()
        record = {"visit_id": self.visit_id, "last_seen": self._last_seen}
        if self.token is not None:
            record["token"] = self.token
        if not self.analytics:
            record["analytics"] = False
        self._storage.set(VISIT_KEY, json.dumps(record))

    def expire(self) -> None:
        """Forget the visit (the next init starts a new one)."""
        self.visit_id = None
        self.token = None
        self.analytics = True
        self._storage.remove(VISIT_KEY)
