"""The one place that owns JavaScript callbacks: proxies, listeners, observers and timers, all undone by `destroy`."""

from __future__ import annotations

from typing import Any, Callable

import js
from pyodide.ffi import create_proxy, jsnull, to_js

__all__ = ["Bindings", "Timer", "js_object", "nullable", "safely"]


def nullable(value: Any) -> Any:
    """JavaScript's null (Pyodide's `jsnull`) and undefined as Python None; anything else unchanged."""
    return None if value is None or value is jsnull else value


def js_object(value: Any) -> Any:
    """A Python dict/list as plain JavaScript objects/arrays."""
    return to_js(value, dict_converter=js.Object.fromEntries)


def safely(fn: Callable[..., Any], what: str) -> Callable[..., Any]:
    """Wrap a callback so no Python exception ever reaches the page; errors go to the console."""

    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - the page must never see a tracker exception
            js.console.error(f"[glood-tracker] {what} failed: {type(exc).__name__}: {exc}")
            return None

    return wrapper


class Timer:
    """A reschedulable one-shot timer backed by a single long-lived proxy."""

    def __init__(self, bindings: "Bindings", fn: Callable[[], Any], what: str) -> None:
        self._proxy = bindings.proxy(fn, what)
        self._handle: Any = None
        bindings._timers.append(self)

    def schedule(self, delay_ms: float) -> None:
        self.cancel()
        self._handle = js.setTimeout(self._proxy, max(0, int(delay_ms)))

    def cancel(self) -> None:
        if self._handle is not None:
            js.clearTimeout(self._handle)
            self._handle = None


class Bindings:
    """Creates every proxy the tracker hands to JavaScript and takes them all back on `destroy`."""

    def __init__(self) -> None:
        self._proxies: list[Any] = []
        self._listeners: list[tuple[Any, str, Any, bool]] = []
        self._observers: list[Any] = []
        self._intervals: list[Any] = []
        self._timers: list[Timer] = []

    def proxy(self, fn: Callable[..., Any], what: str) -> Any:
        proxy = create_proxy(safely(fn, what))
        self._proxies.append(proxy)
        return proxy

    def listen(self, target: Any, event_type: str, fn: Callable[[Any], Any], *, capture: bool = False) -> None:
        proxy = self.proxy(fn, f"{event_type} handler")
        target.addEventListener(event_type, proxy, js_object({"capture": capture, "passive": True}))
        self._listeners.append((target, event_type, proxy, capture))

    def observer(self, cls: Any, fn: Callable[[Any, Any], Any], options: dict[str, Any] | None = None) -> Any:
        proxy = self.proxy(fn, f"{cls.name} callback")
        observer = cls.new(proxy, js_object(options)) if options is not None else cls.new(proxy)
        self._observers.append(observer)
        return observer

    def interval(self, fn: Callable[[], Any], every_ms: int, what: str) -> None:
        self._intervals.append(js.setInterval(self.proxy(fn, what), every_ms))

    def timer(self, fn: Callable[[], Any], what: str) -> Timer:
        return Timer(self, fn, what)

    def destroy(self) -> None:
        for target, event_type, proxy, capture in self._listeners:
            target.removeEventListener(event_type, proxy, capture)
        for observer in self._observers:
            observer.disconnect()
        for handle in self._intervals:
            js.clearInterval(handle)
        for timer in self._timers:
            timer.cancel()
        for proxy in self._proxies:
            proxy.destroy()
        self._listeners.clear()
        self._observers.clear()
        self._intervals.clear()
        self._timers.clear()
        self._proxies.clear()
