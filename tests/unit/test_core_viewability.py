"""Unit tests for tracker.core.viewability (the MRC rule)."""

from __future__ import annotations

from tracker.core.viewability import Viewability


def test_half_visible_for_one_second_is_viewed():
    """>= 50% for 1000 ms continuous meets the rule, not a millisecond earlier."""
    v = Viewability()
    v.update("s1", 0.5, 0)
    assert v.due(999) == []
    assert v.due(1000) == ["s1"]
    assert v.viewed("s1")


def test_just_under_half_never_counts():
    """49% visible never becomes viewed."""
    v = Viewability()
    v.update("s1", 0.49, 0)
    assert v.due(100_000) == [] and not v.viewed("s1")
    assert v.next_deadline() is None


def test_dropping_below_resets_the_timer():
    """Going under the ratio restarts the continuous second."""
    v = Viewability()
    v.update("s1", 0.8, 0)
    v.update("s1", 0.2, 900)
    v.update("s1", 0.8, 1000)
    assert v.due(1999) == []
    assert v.due(2000) == ["s1"]


def test_higher_ratio_does_not_restart_the_timer():
    """Moving from 60% to 100% visible keeps the original start."""
    v = Viewability()
    v.update("s1", 0.6, 0)
    v.update("s1", 1.0, 500)
    assert v.next_deadline() == 1000
    assert v.due(1000) == ["s1"]


def test_page_hidden_pauses_and_resets():
    """Hiding the page stops the clock; showing it again restarts the full second."""
    v = Viewability()
    v.update("s1", 1.0, 0)
    v.set_page_visible(False, 800)
    assert v.due(5000) == [] and v.next_deadline() is None
    v.set_page_visible(True, 6000)
    assert v.due(6999) == []
    assert v.due(7000) == ["s1"]


def test_visible_element_on_hidden_page_waits_for_page():
    """An update while the page is hidden does not start the clock."""
    v = Viewability(page_visible=False)
    v.update("s1", 1.0, 0)
    assert v.due(10_000) == []
    v.set_page_visible(True, 10_000)
    assert v.next_deadline() == 11_000
    assert v.due(11_000) == ["s1"]


def test_page_shown_does_not_start_elements_out_of_view():
    """Showing the page starts only elements that are in view."""
    v = Viewability(page_visible=False)
    v.update("in", 0.7, 0)
    v.update("out", 0.1, 0)
    v.set_page_visible(True, 100)
    assert v.due(1100) == ["in"]
    assert v.due(50_000) == []


def test_fires_only_once():
    """A viewed element is never due again, even if it leaves and re-enters."""
    v = Viewability()
    v.update("s1", 1.0, 0)
    assert v.due(1000) == ["s1"]
    v.update("s1", 0.0, 1100)
    v.update("s1", 1.0, 1200)
    v.set_page_visible(False, 1300)
    v.set_page_visible(True, 1400)
    assert v.due(10_000) == [] and v.next_deadline() is None
    assert v.viewed("s1")


def test_due_returns_elements_in_first_seen_order():
    """Several elements due at once come back in the order they were first seen."""
    v = Viewability()
    v.update("b", 0.0, 0)
    v.update("a", 1.0, 100)
    v.update("b", 1.0, 50)
    v.update("c", 1.0, 0)
    assert v.due(5000) == ["b", "a", "c"]


def test_next_deadline_is_the_earliest_pending():
    """next_deadline is the soonest start + duration among elements being timed."""
    v = Viewability()
    assert v.next_deadline() is None
    v.update("a", 1.0, 300)
    v.update("b", 1.0, 100)
    assert v.next_deadline() == 1100
    assert v.due(1100) == ["b"]
    assert v.next_deadline() == 1300
    v.update("a", 0.0, 1200)
    assert v.next_deadline() is None


def test_custom_ratio_and_duration():
    """ratio and duration are configurable; exactly the threshold counts."""
    v = Viewability(ratio=0.75, duration_ms=2000)
    v.update("x", 0.74, 0)
    v.update("y", 0.75, 0)
    assert v.due(1999) == []
    assert v.due(2000) == ["y"]


def test_zero_duration_is_immediate():
    """With duration 0 an element is due the moment it is in view."""
    v = Viewability(duration_ms=0)
    v.update("x", 0.5, 42)
    assert v.due(42) == ["x"]


def test_unknown_element_is_not_viewed_and_forget_resets():
    """viewed() is False for unknown keys; forget() lets a key be timed afresh."""
    v = Viewability()
    assert not v.viewed("nope")
    v.update("s1", 1.0, 0)
    v.due(1000)
    v.forget("s1")
    assert not v.viewed("s1")
    v.update("s1", 1.0, 2000)
    assert v.due(2999) == [] and v.due(3000) == ["s1"]
    v.forget("missing")  # no error for unknown keys
    assert not v.viewed("missing")
