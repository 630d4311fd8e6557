"""The protocol's checker (tracker/core/protocol.py): it accepts the messages the tracker sends and refuses what
the definition does not allow. (Every message the worker posts in tests/unit/test_core_worker.py's harness is
checked against it too, and the messages of a real browser session in tests/e2e/test_protocol.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tracker.core.protocol import FACTS, TO_PAGE, TO_WORKER, validate, validate_fact

START = {"page": "p", "pv": "v", "t0": 1.5, "url": "https://s/", "ref": "", "title": "t", "vw": 1, "vh": 2,
         "ua": "u", "vis": True, "pd": None}
RUNTIME = {"relay": "r", "worker": "w", "pyodide": "p", "index": "i", "lock": "l", "stdlib": "s", "wheel": "w",
           "version": "0.2.0", "rc": False, "gpc": True}
SIGNALS = {"shopify": None, "loading": False, "gpc": False, "sale": None, "webdriver": True, "ua": "u"}
FACT_EXAMPLES: list[dict[str, Any]] = [
    {"s": 1, "t": 1.5, "k": "sec", "i": 1, "a": {"gloodSection": "9"}, "p": [["1", None], ["2", "3"]]},
    {"s": 2, "t": 2, "k": "gone", "i": 1},
    {"s": 3, "t": 3, "k": "io", "i": 1, "r": [1, 2.5, 3]},
    {"s": 4, "t": 4, "k": "vis", "v": False},
    {"s": 5, "t": 5, "k": "click", "i": 1, "p": ["1", None], "b": 0},
    {"s": 6, "t": 6, "k": "add", "i": 0, "p": None, "v": "9", "q": "1", "l": None},
    {"s": 7, "t": 7, "k": "chg", "i": 0, "p": None, "v": None, "q": "0", "l": "1"},
    {"s": 8, "t": 8, "k": "call", "m": "track", "a": '["x", null, null]', "e": "id"},
    {"s": 9, "t": 9, "k": "call", "m": "reset", "a": "[]"},
    {"s": 10, "t": 10, "k": "show", "pv": "v2"},
    {"s": 11, "t": 11, "k": "url", "url": "https://s/a", "title": "", "pd": None},
    {"s": 12, "t": 12, "k": "pd", "pd": "{}"},
    {"s": 13, "t": 13, "k": "ajax", "u": "/fr/cart/add.js", "b": [["id", "9"], ["quantity", "1"]], "st": 200,
     "r": '{"id": 9}', "i": 0, "p": None},
    {"s": 14, "t": 14, "k": "post", "u": "/cart/add", "b": [["id", "9"]], "a": {"gloodSection": "9"},
     "p": ["1", "9"], "pd": None},
]
ABS = {"pyodide": "https://s/p", "index": "https://s/", "lock": "https://s/l", "stdlib": "https://s/s",
       "wheel": "https://s/w"}
TO_WORKER_EXAMPLES: list[dict[str, Any]] = [
    {"t": "boot", "rt": RUNTIME, "page": START, "quiet": 0, "cfg": "{}", "ov": None, "prev": None, "store": {},
     "dbg": False, "sig": SIGNALS},
    {"t": "facts", "f": FACT_EXAMPLES},
    {"t": "ans", "a": [[1, 0, None], [2, None, None], [3, 503, "5"]]},
    {"t": "hide", "sent": [["glood", ["a", "b"]]], "dup": 0},
    {"t": "taken", "upto": 4, "at": 1.5},
    {"t": "ask", "n": 1, "m": "status"},
    {"t": "re", "n": 1, "v": {"k": "v"}},
    {"t": "re", "n": 2},
    {"t": "fail", "k": "glood_tracker:x"},
    {"t": "bye"},
    {"t": "make-snapshot", "abs": ABS, "key": "https://s/glood-tracker-snapshot/k"},
    {"t": "made", "made": "stored", "make": {"ms": 4200, "bytes": 31, "stored_bytes": 9}},
]
REQUEST = {"d": "glood", "u": "https://c/", "x": "{}", "h": None, "i": ["a"]}
TO_PAGE_EXAMPLES: list[dict[str, Any]] = [
    {"t": "ready", "v": "0.2.0"},
    {"t": "error"},
    {"t": "send", "b": [{**REQUEST, "n": 1}, {**REQUEST, "n": 2, "h": {"x-shop": "s"}}]},
    {"t": "hold", "upto": 3, "b": [{**REQUEST, "f": False}], "w": [["k", "v"], ["k2", None]], "st": {"pv": "v"},
     "c": "granted", "all": True, "ack": ["glood a"], "fb": 0},
    {"t": "snap", "n": 1},
    {"t": "store", "n": 2, "w": []},
    {"t": "claim", "n": 4, "names": ["glood_tracker:claimed:page-1"]},
    {"t": "reply", "n": 3, "v": None},
    {"t": "log", "l": "warn", "m": "m"},
    {"t": "dbg", "k": "event", "at": 1.5, "pv": "pv", "v": {"id": "e", "name": "page_viewed"}},
    {"t": "maker", "abs": ABS, "key": "https://s/glood-tracker-snapshot/k"},
    {"t": "made", "made": "failed", "make": {"error": "e"}},
    {"t": "made", "made": "left", "make": {}},
]


def test_every_kind_has_an_example_here():
    assert {m["t"] for m in TO_WORKER_EXAMPLES} == set(TO_WORKER)
    assert {m["t"] for m in TO_PAGE_EXAMPLES} == set(TO_PAGE)
    assert {f["k"] for f in FACT_EXAMPLES} == set(FACTS)


@pytest.mark.parametrize("message", TO_WORKER_EXAMPLES, ids=lambda m: m["t"])
def test_messages_to_the_worker_as_defined_pass(message: dict[str, Any]) -> None:
    assert validate(message, "to_worker") == []


@pytest.mark.parametrize("message", TO_PAGE_EXAMPLES, ids=lambda m: m["t"])
def test_messages_to_the_page_as_defined_pass(message: dict[str, Any]) -> None:
    assert validate(message, "to_page") == []


@pytest.mark.parametrize("message, direction, problem", [
    ({"t": "hold", "upto": 3}, "to_page", "hold: no 'b'"),
    ({"t": "taken", "upto": "4", "at": 1}, "to_worker", "taken.upto: '4' is not an integer"),
    ({"t": "taken", "upto": True, "at": 1}, "to_worker", "taken.upto: True is not an integer"),
    ({"t": "bye", "extra": 1}, "to_worker", "bye: unknown field(s) ['extra']"),
    ({"t": "nope"}, "to_worker", "unknown message 'nope'"),
    ({"t": "ready", "v": "1"}, "to_worker", "unknown message 'ready'"),
    ([1], "to_page", "not an object: list"),
    ({"t": "log", "l": "info", "m": "x"}, "to_page", "log.l: 'info' not one of ('log', 'warn', 'error')"),
    ({"t": "ans", "a": [[1, 0]]}, "to_worker", "ans.a[0]: not a list of 3"),
    ({"t": "send", "b": [{**REQUEST}]}, "to_page", "send.b[0]: no 'n'"),
    ({"t": "facts", "f": [{"s": 1, "t": 1, "k": "vis", "v": 1}]}, "to_worker",
     "facts.f[0]: fact vis.v: 1 is not a boolean"),
    ({"t": "facts", "f": [{"s": 1, "t": 1, "k": "zoom"}]}, "to_worker", "facts.f[0]: unknown fact"),
])
def test_what_the_definition_does_not_allow_is_named(message: Any, direction: Any, problem: str) -> None:
    problems = validate(message, direction)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_fact_alone_is_checked_by_its_kind():
    assert validate_fact(FACT_EXAMPLES[0]) == []
    assert validate_fact({"s": 1, "t": 1, "k": "click", "i": 1, "p": None}) == ["fact click: no 'b'"]
