"""Identifier generation, injectable for deterministic tests."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

__all__ = ["IdFactory", "uuid4_ids", "sequential_ids"]

IdFactory = Callable[[], str]


def uuid4_ids() -> str:
    """A random RFC 4122 version-4 UUID string."""
    return str(uuid.uuid4())


def sequential_ids(prefix: str = "id", seed: int | None = None) -> IdFactory:
    """A test double: `id-1`, `id-2`, ... (or seeded UUIDs when `seed` is given)."""
    counter = 0
    rng = random.Random(seed)

    def make() -> str:
        nonlocal counter
        counter += 1
        if seed is not None:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return f"{prefix}-{counter}"

    return make
