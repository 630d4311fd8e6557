"""Fixtures shared by the demo store's unit tests: a store on a fresh SQLite file, reached by a TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from demo_store.app import Settings, create_app

#: The store as the tests reach it (a loopback host: others are refused).
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """The test's own SQLite file."""
    return str(tmp_path / "demo.sqlite3")


@pytest.fixture
def client(db_path: str) -> Iterator[TestClient]:
    """The demo store with default settings on the test's own database."""
    with TestClient(create_app(Settings(db_path=db_path)), base_url=BASE) as c:
        yield c
