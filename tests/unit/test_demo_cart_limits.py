"""Cart quantities: a line holds at most 99; an add past that is refused (422) and changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from demo_store.cart import MAX_QUANTITY
from demo_store.catalog import CATALOG
from demo_store.store_db import Database, LineLimit

SHIRT = CATALOG.product("classic-oxford-shirt")
TOTE = CATALOG.product("canvas-tote")
assert SHIRT is not None and TOTE is not None
VARIANT = SHIRT.default_variant.id


def quantities(client: TestClient) -> list[int]:
    return [int(q) for q in re.findall(r'"quantity":(\d+)', client.get("/cart").text.split('id="glood-page"')[1]
                                       .split("</script>")[0])]


def add_form(client: TestClient, quantity: Any, variant: str = VARIANT) -> Any:
    return client.post("/cart/add", data={"id": variant, "quantity": str(quantity)}, follow_redirects=False)


def test_three_adds_of_99_make_one_line_of_99_not_297(client: TestClient) -> None:
    """The first 99 go in; the next adds of the same variant are 422 naming the limit, and change nothing."""
    assert add_form(client, 99).status_code == 303
    for _ in range(2):
        refused = add_form(client, 99)
        assert refused.status_code == 422 and "at most 99" in refused.text
    assert quantities(client) == [99]


def test_adds_up_to_the_limit_exactly_are_fine(client: TestClient) -> None:
    """33 + 33 + 33 = 99 is allowed; one more is not; another variant has its own line and limit."""
    for _ in range(3):
        assert add_form(client, 33).status_code == 303
    assert add_form(client, 1).status_code == 422
    assert add_form(client, 99, TOTE.default_variant.id).status_code == 303
    assert quantities(client) == [99, 99]


def test_add_js_is_capped_too(client: TestClient) -> None:
    """/cart/add.js refuses with 422 in Shopify's cart error shape past 99 a line; the line keeps its quantity."""
    assert client.post("/cart/add.js", json={"id": VARIANT, "quantity": 98}).json()["quantity"] == 98
    refused = client.post("/cart/add.js", json={"id": VARIANT, "quantity": 2})
    assert refused.status_code == 422 and refused.json()["status"] == 422
    assert "holds 98" in refused.json()["description"]
    assert client.post("/cart/add.js", json={"id": VARIANT, "quantity": 1}).json()["quantity"] == 99
    assert quantities(client) == [99]


@pytest.mark.parametrize("quantity", ["100", "\u00b2", "\u0661", "1e2", "-1", " ", "99999999999999999999999"])
def test_change_sets_at_most_99(client: TestClient, quantity: str) -> None:
    """/cart/change takes 0..99 in ASCII digits; anything else is a 422 page, never a 500."""
    add_form(client, 5)
    response = client.post("/cart/change", data={"line": "1", "quantity": quantity}, follow_redirects=False)
    assert response.status_code == 422
    assert quantities(client) == [5]
    assert client.post("/cart/change", data={"line": "1", "quantity": "99"}, follow_redirects=False).status_code == 303
    assert quantities(client) == [MAX_QUANTITY]


@pytest.mark.parametrize("quantity", [True, 1.5, "2", None, [1]])
def test_add_js_quantity_must_be_a_whole_number(client: TestClient, quantity: Any) -> None:
    """JSON quantities: true is no number; "2" (Shopify accepts it) is fine; others are 422."""
    response = client.post("/cart/add.js", json={"id": VARIANT, "quantity": quantity})
    assert response.status_code == (200 if quantity == "2" else 422), response.text


@pytest.mark.parametrize("line", ["\u00b9", "\u0661", "0", "2"])
def test_change_line_must_be_plain_digits_in_range(client: TestClient, line: str) -> None:
    """`line` is 1-based, ASCII digits only ("¹" used to pass isdigit() and then fail int()): else 422."""
    add_form(client, 1)
    response = client.post("/cart/change", data={"line": line, "quantity": "0"}, follow_redirects=False)
    assert response.status_code == 422
    assert quantities(client) == [1]


def test_database_refuses_atomically(tmp_path: Path) -> None:
    """Database.add_to_cart with a maximum raises LineLimit and leaves the line as it was."""
    db = Database(str(tmp_path / "d.sqlite3"))
    assert db.add_to_cart("t", "v", 60, 99) == 60
    with pytest.raises(LineLimit) as caught:
        db.add_to_cart("t", "v", 40, 99)
    assert (caught.value.current, caught.value.maximum) == (60, 99)
    assert db.cart_lines("t") == [("v", 60)]
    assert db.add_to_cart("t", "v", 39, 99) == 99
    db.close()
