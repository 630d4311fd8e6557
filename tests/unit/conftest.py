"""Fixtures shared by the demo store's unit tests: a store on a fresh SQLite file, reached by a TestClient.

The core's tests run inside Pyodide too (scripts/pyodide_tests.sh), where this file is loaded but Starlette and
the demo store are not installed: they are imported only when a test asks for the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from starlette.testclient import TestClient

#: The store as the tests reach it (a loopback host: others are refused).
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    """The test's own SQLite file."""
    return str(tmp_path / "demo.sqlite3")


@pytest.fixture
def client(db_path: str) -> Iterator[TestClient]:
    """The demo store with default settings on the test's own database."""
    from starlette.testclient import TestClient

    from demo_store.app import Settings, create_app

    with TestClient(create_app(Settings(db_path=db_path)), base_url=BASE) as c:
        yield c
