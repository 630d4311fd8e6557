"""The public API before the relay: calls are facts made at once (ids too; the arguments as given, as JSON text),
bad input is refused on the page, and an older stub's queue is replayed entry by entry. The calls run in the page's
own scripts, while it parses; the stub relay here only exposes the sensor afterwards (no worker attached)."""

from __future__ import annotations

import time

from .lab import EXPOSE, UUID, SensorLab


def calls(lab: SensorLab) -> list[tuple[str, str]]:
    return [(f["m"], f["a"]) for f in lab.facts("call")]


def test_track_returns_a_uuid_and_records_a_call_fact(lab: SensorLab) -> None:
    """track(name, data, customData) before the relay: a v4 UUID at once, and a `call` fact with the arguments as
    given, as JSON text (the worker reads missing ones as null), and that id; the API says not ready, with the
    runtime's version."""
    lab.open("""<script>
        window.__ids = [gloodTracker.track('wishlist_add', {sku: 'A1', n: [1, 2]}, {k: 1}), gloodTracker.track('bare')];
    </script>""", relay=EXPOSE)
    ids = lab.page.evaluate("window.__ids")
    assert all(UUID.match(i) for i in ids) and ids[0] != ids[1]
    facts = lab.facts("call")
    assert [(f["m"], f["a"], f["e"]) for f in facts] == [
        ("track", '["wishlist_add",{"sku":"A1","n":[1,2]},{"k":1}]', ids[0]),
        ("track", '["bare"]', ids[1]),
    ]
    assert lab.page.evaluate("[gloodTracker.ready, gloodTracker.version]") == [False, "0.0.0-sensor-test"]
    assert lab.sensor("rejected") == 0


def test_bad_input_is_refused_with_a_console_error_and_counted(lab: SensorLab) -> None:
    """A name that is not a string, cyclic data, a function or a BigInt in the data: track() returns null, logs
    one console error each, counts sensor.rejected, and makes no fact; identify() and page() likewise."""
    lab.open("""<script>
        const cyclic = {}; cyclic.self = cyclic;
        window.__results = [
            gloodTracker.track(42, {a: 1}),
            gloodTracker.track('cyclic', cyclic),
            gloodTracker.track('fn', {f() {}}),
            gloodTracker.track('big', {n: 10n}),
        ];
        gloodTracker.identify('c-1', cyclic);
        gloodTracker.page(() => 1);
        gloodTracker.track('fine');
    </script>""", relay=EXPOSE)
    assert lab.page.evaluate("window.__results") == [None, None, None, None]
    errors = lab.take_errors()
    assert len(errors) == 6 and all(e.startswith("[glood-tracker] ") for e in errors), errors
    assert "track(42) rejected: no name" in errors[0]
    assert [e.split("]", 1)[1].split("(")[0].strip() for e in errors] == ["track"] * 4 + ["identify", "page"]
    assert lab.sensor("rejected") == 6
    assert calls(lab) == [("track", '["fine"]')]
    assert lab.facts("pd") == []


def test_consent_identify_reset_and_page_record_facts(lab: SensorLab) -> None:
    """setConsent (its argument as a boolean), identify, reset: `call` facts with JSON text args and ids; page(data):
    a `pd` fact with the data's JSON; after setConsent(false) track() makes nothing and returns null, without an
    error."""
    lab.open("""<script>
        gloodTracker.setConsent(1);
        gloodTracker.identify('c-1', {email: 'a@b.c'});
        gloodTracker.identify('c-2');
        gloodTracker.reset();
        gloodTracker.page({page_type: 'cart'});
        gloodTracker.setConsent(0);
        window.__denied = gloodTracker.track('after_denial');
    </script>""", relay=EXPOSE)
    assert calls(lab) == [("consent", "[true]"), ("identify", '["c-1",{"email":"a@b.c"}]'),
                          ("identify", '["c-2"]'), ("reset", "[]"), ("consent", "[false]")]
    assert all(UUID.match(f["e"]) for f in lab.facts("call"))
    assert [f["pd"] for f in lab.facts("pd")] == ['{"page_type":"cart"}']
    assert lab.page.evaluate("window.__denied") is None
    assert lab.sensor("rejected") == 0


def test_an_older_stubs_queue_is_replayed_with_its_times(lab: SensorLab) -> None:
    """window.gloodTracker = {q: [...]} set before the sensor: well-formed entries replayed as `call` facts at
    their own times, in order (the entry's arguments as given); each bad entry refused on its own (console error,
    counted); the stub object is the API (q deleted)."""
    now = time.time() * 1000
    t1, t2 = now - 2000.5, now - 1000.25
    lab.open("<p>page</p>", relay=EXPOSE, before=f"""<script>
        window.gloodTracker = {{q: [[{t1}, 'early', {{a: 1}}], null, 'x', [{t2}, 'second', null, {{c: 2}}],
                                    [{t2}, 5]]}};
        window.__stub = window.gloodTracker;
    </script>""")
    facts = lab.facts("call")
    assert [(f["a"], f["t"]) for f in facts] == [('["early",{"a":1}]', t1), ('["second",null,{"c":2}]', t2)]
    assert all(UUID.match(f["e"]) for f in facts)
    errors = lab.take_errors()
    assert len(errors) == 3, errors
    assert "gloodTracker.q: entry 1 is not an array" in errors[0] and "q: entry 2 is not an array" in errors[1]
    assert "track(5) rejected: no name" in errors[2]
    assert lab.sensor("rejected") == 3
    assert lab.page.evaluate("[window.__stub === window.gloodTracker, 'q' in window.gloodTracker]") == [True, False]
    assert lab.page.evaluate("typeof window.gloodTracker.track") == "function"


def test_a_queue_that_is_not_an_array_is_refused(lab: SensorLab) -> None:
    """q = 'garbage' (not an array: one bad entry): one console error, counted, nothing replayed."""
    lab.open("<p>page</p>", relay=EXPOSE, before="<script>window.gloodTracker = {q: 'garbage'}</script>")
    errors = lab.take_errors()
    assert len(errors) == 1 and "gloodTracker.q: entry 0 is not an array, refused" in errors[0], errors
    assert lab.sensor("rejected") == 1
    assert lab.facts("call") == []
