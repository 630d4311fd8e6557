"""Fault injection on the demo store's collector stand-ins: `/_collector/faults`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.app import Settings, create_app
from demo_store.store_db import Database, Fault

#: The store as the tests reach it (a loopback host: others are refused).
BASE = "http://127.0.0.1:8000"
INIT = "/api/storefront/v3/headless/init"
GLOOD = "/api/storefront/v3/headless/events"
GENLOOK = "/apps/proxy_genlook-x/public/tracking/events"
FAULTS = "/_collector/faults"
ORIGIN = "http://localhost:9999"
SHOP = "demo-store.myshopify.com"
INIT_BODY = {"client_id": "c", "page_type": "home"}


def glood_body(event_id: str = "evt-1") -> dict[str, Any]:
    return {"event": {"id": event_id, "name": "glood:section:view", "type": "custom",
                      "timestamp": "2026-04-16T10:29:58.123Z", "data": {}, "customData": {}},
            "session_id": "visit-1", "client_id": "client-1", "shop_domain": "demo-store.myshopify.com"}


def genlook_body(*ids: str) -> dict[str, Any]:
    return {"events": [{"event": "section:view", "timestamp": "2026-04-16T10:29:58Z", "$insert_id": i,
                        "properties": {}} for i in ids],
            "context": {"$current_url": "http://shop.test/", "$session_id": "visit-1"}}


def events(client: TestClient, destination: str) -> list[dict[str, Any]]:
    response = client.get("/_collector/events.json", params={"destination": destination})
    assert response.status_code == 200
    answer: list[dict[str, Any]] = response.json()
    return answer


def stored_count(client: TestClient) -> int:
    return len(events(client, "glood")) + len(events(client, "genlook"))


@pytest.fixture
def client(db_path: str) -> Iterator[TestClient]:
    """The store, every request naming the shop (Glood's init needs x-shop; the events endpoint takes it too)."""
    with TestClient(create_app(Settings(db_path=db_path)), base_url=BASE, headers={"x-shop": SHOP}) as c:
        yield c


def arm(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(FAULTS, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def stats(client: TestClient, destination: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/_collector/stats.json").json()[destination]
    return answer


def test_arming_answers_the_armed_faults_with_defaults(client: TestClient) -> None:
    """Arming answers ok with every armed fault; endpoint, status and retry_after take their defaults."""
    assert client.get(FAULTS).json() == {"faults": []}
    answer = arm(client, destination="glood", fail_next=2)
    expected = [{"destination": "glood", "endpoint": "events", "remaining": 2, "status": 503, "retry_after": None}]
    assert answer == {"ok": True, "faults": expected}
    second = arm(client, destination="genlook", fail_next=1, status=429, retry_after=3)
    assert second["faults"] == [
        {"destination": "genlook", "endpoint": "events", "remaining": 1, "status": 429, "retry_after": 3},
        *expected]
    assert client.get(FAULTS).json() == {"faults": second["faults"]}


@pytest.mark.parametrize("destination, endpoint, path, good", [
    ("glood", "events", GLOOD, glood_body()),
    ("glood", "init", INIT, INIT_BODY),
    ("genlook", "events", GENLOOK, genlook_body("a")),
])
def test_the_next_n_posts_fail_then_requests_succeed(client: TestClient, destination: str, endpoint: str,
                                                     path: str, good: dict[str, Any]) -> None:
    """The next N POSTs to the armed endpoint answer the status with a countdown; the one after succeeds."""
    arm(client, destination=destination, endpoint=endpoint, fail_next=3, status=502)
    answers = [client.post(path, json=good) for _ in range(3)]
    assert [r.status_code for r in answers] == [502, 502, 502]
    assert [r.json() for r in answers] == [{"error": 502, "message": f"injected failure ({left} left)"}
                                           for left in (2, 1, 0)]
    assert all("retry-after" not in r.headers for r in answers)
    assert client.post(path, json=good).status_code == 200
    assert client.get(FAULTS).json() == {"faults": []}


def test_a_fault_only_hits_its_own_endpoint(client: TestClient) -> None:
    """A fault armed on Glood init leaves Glood events and Genlook alone, and the reverse."""
    arm(client, destination="glood", endpoint="init", fail_next=1)
    assert client.post(GLOOD, json=glood_body()).status_code == 200
    assert client.post(GENLOOK, json=genlook_body("a")).status_code == 200
    assert client.get(FAULTS).json()["faults"][0]["remaining"] == 1
    assert client.post(INIT, json=INIT_BODY).status_code == 503


def test_retry_after_header_when_set(client: TestClient) -> None:
    """retry_after puts a Retry-After header (seconds) on each injected failure, 0 included."""
    arm(client, destination="genlook", fail_next=1, status=429, retry_after=7)
    arm(client, destination="glood", fail_next=1, retry_after=0)
    genlook = client.post(GENLOOK, json=genlook_body("a"))
    glood = client.post(GLOOD, json=glood_body())
    assert (genlook.status_code, genlook.headers["retry-after"]) == (429, "7")
    assert (glood.status_code, glood.headers["retry-after"]) == (503, "0")


def test_arming_again_replaces_the_earlier_fault(client: TestClient) -> None:
    """A second arming of the same endpoint replaces count, status and retry_after; 0 disarms."""
    arm(client, destination="glood", fail_next=5, status=500, retry_after=9)
    answer = arm(client, destination="glood", fail_next=1, status=429)
    assert answer["faults"] == [{"destination": "glood", "endpoint": "events", "remaining": 1, "status": 429,
                                 "retry_after": None}]
    replaced = client.post(GLOOD, json=glood_body())
    assert replaced.status_code == 429 and "retry-after" not in replaced.headers
    assert client.post(GLOOD, json=glood_body()).status_code == 200
    arm(client, destination="glood", fail_next=4)
    assert arm(client, destination="glood", fail_next=0)["faults"] == []
    assert client.post(GLOOD, json=glood_body()).status_code == 200


def test_reset_disarms_every_fault(client: TestClient) -> None:
    """POST /_collector/reset disarms every fault; the collectors then accept again."""
    arm(client, destination="glood", fail_next=3)
    arm(client, destination="glood", endpoint="init", fail_next=3)
    arm(client, destination="genlook", fail_next=3)
    assert client.post("/_collector/reset").json() == {"ok": True}
    assert client.get(FAULTS).json() == {"faults": []}
    assert client.post(GLOOD, json=glood_body()).status_code == 200
    assert client.post(INIT, json=INIT_BODY).status_code == 200
    assert client.post(GENLOOK, json=genlook_body("a")).status_code == 200


def test_preflight_is_never_failed_and_does_not_use_up_a_failure(client: TestClient) -> None:
    """OPTIONS answers 204 while a fault is armed, and the fault keeps all its failures."""
    arm(client, destination="genlook", fail_next=1)
    preflight = client.options(GENLOOK, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert client.get(FAULTS).json()["faults"][0]["remaining"] == 1


def test_non_post_requests_do_not_use_up_a_failure(client: TestClient) -> None:
    """A GET on an armed collector is still the usual 405 and leaves the fault armed."""
    arm(client, destination="genlook", fail_next=1)
    assert client.get(GENLOOK).status_code == 405
    assert client.get(FAULTS).json()["faults"][0]["remaining"] == 1


def test_injected_failure_carries_cors_and_exposes_retry_after(client: TestClient) -> None:
    """An injected failure has the echoed Origin, credentials and Access-Control-Expose-Headers: Retry-After."""
    arm(client, destination="glood", fail_next=1, retry_after=2)
    response = client.post(GLOOD, json=glood_body(), headers={"Origin": ORIGIN})
    assert response.status_code == 503
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "Retry-After"


def test_fault_applies_before_auth_and_body_parsing(tmp_path: Path) -> None:
    """While armed, a request without the visit token or with garbage JSON gets the injected status, not 401/400."""
    settings = Settings(db_path=str(tmp_path / "demo.sqlite3"), glood_public_token="public-demo")
    with TestClient(create_app(settings), base_url=BASE) as client:
        arm(client, destination="glood", fail_next=2, status=500)
        garbage = client.post(GLOOD, content=b'{"event": ', headers={"content-type": "application/json"})
        unauthenticated = client.post(GLOOD, json=glood_body())
        assert (garbage.status_code, unauthenticated.status_code) == (500, 500)
        assert client.post(GLOOD, json=glood_body()).status_code == 401


def test_nothing_is_stored_during_failures_and_they_are_counted(client: TestClient) -> None:
    """Failed requests store nothing and count as rejections under the injected status; the retry is stored."""
    arm(client, destination="genlook", fail_next=2, status=503)
    arm(client, destination="glood", fail_next=1, status=429)
    arm(client, destination="glood", endpoint="init", fail_next=1, status=503)
    for _ in range(2):
        assert client.post(GENLOOK, json=genlook_body("a", "b")).status_code == 503
    assert client.post(GLOOD, json=glood_body()).status_code == 429
    assert client.post(INIT, json=INIT_BODY).status_code == 503
    assert stored_count(client) == 0
    assert stats(client, "genlook")["rejected_by_status"] == {"503": 2}
    assert stats(client, "glood")["rejected_by_status"] == {"429": 1, "503": 1}
    assert stats(client, "glood")["visits"] == 0
    assert client.post(GENLOOK, json=genlook_body("a", "b")).status_code == 200
    assert [e["event_id"] for e in events(client, "genlook")] == ["b", "a"]
    assert stats(client, "genlook")["accepted"] == 2 and stats(client, "genlook")["rejected"] == 2


def test_faults_belong_to_one_app_instance(tmp_path: Path) -> None:
    """Two apps on the same database file do not share armed faults, and a restart forgets them."""
    settings = Settings(db_path=str(tmp_path / "demo.sqlite3"))
    with TestClient(create_app(settings), base_url=BASE) as first, \
            TestClient(create_app(settings), base_url=BASE) as second:
        arm(first, destination="glood", fail_next=1)
        assert second.get(FAULTS).json() == {"faults": []}
        assert second.post(GLOOD, json=glood_body()).status_code == 200
    with TestClient(create_app(settings), base_url=BASE) as restarted:
        assert restarted.get(FAULTS).json() == {"faults": []}


def test_threads_racing_on_a_fault_use_up_each_failure_exactly_once(tmp_path: Path) -> None:
    """Threads taking failures at once get each countdown value exactly once, then nothing."""
    db = Database(str(tmp_path / "demo.sqlite3"))
    db.arm_fault(Fault("genlook", "events", 400, 503))
    taken: list[int | None] = []

    def take() -> None:
        for _ in range(100):
            fault = db.take_fault("genlook", "events")
            taken.append(None if fault is None else fault.remaining)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.close()
    assert sorted(left for left in taken if left is not None) == list(range(400))
    assert taken.count(None) == 400


BAD_FAULTS = [
    # (id, body, message fragment)
    ("unknown-destination", {"destination": "mixpanel", "fail_next": 1}, "destination: 'mixpanel' is not one of"),
    ("missing-destination", {"fail_next": 1}, "'destination' is a required property"),
    ("missing-fail-next", {"destination": "glood"}, "'fail_next' is a required property"),
    ("negative-fail-next", {"destination": "glood", "fail_next": -1}, "fail_next: -1 is less than the minimum"),
    ("string-fail-next", {"destination": "glood", "fail_next": "3"}, "fail_next: '3' is not of type integer"),
    ("bool-fail-next", {"destination": "glood", "fail_next": True}, "fail_next: True is not of type integer"),
    ("fractional-fail-next", {"destination": "glood", "fail_next": 1.5}, "fail_next: 1.5 is not of type integer"),
    ("status-below-400", {"destination": "glood", "fail_next": 1, "status": 399}, "status: 399 is less than"),
    ("status-above-599", {"destination": "glood", "fail_next": 1, "status": 600}, "status: 600 is greater than"),
    ("string-status", {"destination": "glood", "fail_next": 1, "status": "503"}, "status: '503' is not of type"),
    ("negative-retry-after", {"destination": "glood", "fail_next": 1, "retry_after": -1}, "retry_after: -1 is less"),
    ("string-retry-after", {"destination": "glood", "fail_next": 1, "retry_after": "5"},
     "retry_after: '5' is not of type integer or null"),
    ("unknown-endpoint", {"destination": "glood", "endpoint": "sections", "fail_next": 1}, "endpoint: 'sections'"),
    ("genlook-init", {"destination": "genlook", "endpoint": "init", "fail_next": 1},
     "endpoint: genlook has only events"),
    ("unknown-key", {"destination": "glood", "fail_next": 1, "retryAfter": 5}, "'retryAfter' was unexpected"),
    ("not-an-object", [{"destination": "glood", "fail_next": 1}], "body: "),
]


@pytest.mark.parametrize("body, fragment", [case[1:] for case in BAD_FAULTS], ids=[case[0] for case in BAD_FAULTS])
def test_bad_fault_requests_are_400_and_arm_nothing(client: TestClient, body: Any, fragment: str) -> None:
    """Each bad arming is a 400 in the Error shape naming the problem, and nothing gets armed."""
    response = client.post(FAULTS, json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == 400 and fragment in answer["message"], answer
    assert client.get(FAULTS).json() == {"faults": []}


def test_invalid_json_arming_is_400(client: TestClient) -> None:
    """A body that is not JSON is a 400 in the Error shape."""
    response = client.post(FAULTS, content=b"fail_next=1", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == 400


def test_collector_answers_expose_retry_after(client: TestClient) -> None:
    """Accepted and refused collector answers both carry Access-Control-Expose-Headers: Retry-After."""
    for response in (client.post(GLOOD, json=glood_body(), headers={"Origin": ORIGIN}),
                     client.post(INIT, json=INIT_BODY),
                     client.post(GENLOOK, json={"events": []}, headers={"Origin": ORIGIN}),
                     client.get(GENLOOK)):
        assert response.headers["access-control-expose-headers"] == "Retry-After", response.status_code
