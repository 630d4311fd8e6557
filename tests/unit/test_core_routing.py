"""The flush's routing (`tracker.core.pipeline.route`): a pure function of the body's situation."""

from __future__ import annotations

import pytest

from tracker.core.pipeline import BEACONS_PER_RESERVE, Route, route

BASE = {"fits_quota": True, "bursting": False, "beacons": 0, "has_bulk": True, "bulk_room": True, "final": False}


@pytest.mark.parametrize("change, expected", [
    ({}, Route.BEACON),
    ({"beacons": BEACONS_PER_RESERVE - 1}, Route.BEACON),
    ({"fits_quota": False}, Route.WORKER_FETCH),
    ({"bursting": True}, Route.WORKER_FETCH),
    ({"beacons": BEACONS_PER_RESERVE}, Route.WORKER_FETCH),
    ({"fits_quota": False, "bulk_room": False}, Route.DEFER),  # 256 KiB already in flight by the worker
    ({"fits_quota": False, "final": True}, Route.DEFER),  # the page is going: a worker fetch would go unanswered
    ({"bursting": True, "final": True}, Route.DEFER),
    ({"fits_quota": False, "has_bulk": False, "bulk_room": False}, Route.DEFER),  # no worker fetch: wait for quota
    ({"beacons": 10 * BEACONS_PER_RESERVE, "has_bulk": False, "bulk_room": False}, Route.BEACON),  # no limit then
    ({"final": True}, Route.BEACON),  # leaving: what fits goes by beacon
])
def test_route(change: dict[str, object], expected: Route) -> None:
    assert route(**{**BASE, **change}) is expected  # type: ignore[arg-type]
