"""Fixtures of the sensor's unit tests: Debian's Chromium (one browser for the session, as tests/e2e launches it)
and a SensorLab per test, which fails the test if its page threw or logged a console error it did not take."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# The same browser and arguments as tests/e2e (a session shares one browser): nothing leaves the machine.
from e2e.conftest import CHROMIUM, OFFLINE_ARGS
from playwright.sync_api import Page

from .lab import SensorLab


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/sensor/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.sensor)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": [*browser_type_launch_args.get("args", []), *OFFLINE_ARGS]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 720}}


@pytest.fixture
def lab(page: Page) -> Iterator[SensorLab]:
    """The test's page (a fresh browser context: its own storage) with test pages served on a fake origin."""
    lab = SensorLab(page)
    yield lab
    assert lab.page_errors == [], f"uncaught page errors: {lab.page_errors}"
    assert lab.console_errors == [], f"console errors not taken by the test: {lab.console_errors}"
