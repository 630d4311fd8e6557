"""Identifier generation, injectable for deterministic tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable

__all__ = ["IdFactory", "uuid4_ids"]

IdFactory = Callable[[], str]


def uuid4_ids() -> str:
    """A random RFC 4122 version-4 UUID string."""
    return str(uuid.uuid4())
