"""Browser implementations of the core's seams: clock, localStorage, beacon/fetch transport."""

from __future__ import annotations

from typing import Any, Mapping

import js

from .ffi import js_object

__all__ = ["BrowserClock", "LocalStorage", "BeaconTransport"]


class BrowserClock:
    """Date.now() for timestamps, performance.now() for durations."""

    def now_ms(self) -> int:
        return int(js.Date.now())

    def monotonic_ms(self) -> float:
        return float(js.performance.now())


class LocalStorage:
    """window.localStorage that never throws: disabled, full or blocked storage reads as empty."""

    def __init__(self) -> None:
        try:
            self._store: Any = js.window.localStorage
        except Exception:  # noqa: BLE001 - a SecurityError when storage is blocked
            self._store = None

    def get(self, key: str) -> str | None:
        try:
            value = self._store.getItem(key) if self._store is not None else None
        except Exception:  # noqa: BLE001
            return None
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> bool:
        try:
            if self._store is None:
                return False
            self._store.setItem(key, value)
            return True
        except Exception:  # noqa: BLE001 - QuotaExceededError and friends
            return False

    def remove(self, key: str) -> None:
        try:
            if self._store is not None:
                self._store.removeItem(key)
        except Exception:  # noqa: BLE001
            pass


class BeaconTransport:
    """navigator.sendBeacon with a JSON Blob; fetch(keepalive) when headers (a bearer token) are needed."""

    def __init__(self, log: Any = None) -> None:
        self._log = log

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> bool:
        text = body.decode("utf-8")
        if headers:
            return self._fetch(url, text, dict(headers))
        blob = js.Blob.new(js_object([text]), js_object({"type": "application/json"}))
        try:
            return bool(js.navigator.sendBeacon(url, blob))
        except Exception as exc:  # noqa: BLE001 - e.g. a URL the browser rejects
            js.console.error(f"[glood-tracker] sendBeacon to {url} failed: {exc}")
            return False

    def _fetch(self, url: str, text: str, headers: dict[str, str]) -> bool:
        try:
            promise = js.fetch(url, js_object({
                "method": "POST", "body": text, "headers": headers,
                "keepalive": True, "credentials": "omit", "mode": "cors",
            }))
        except Exception as exc:  # noqa: BLE001
            js.console.error(f"[glood-tracker] fetch to {url} failed: {exc}")
            return False
        # JsPromise.then/catch take Python callables and manage their proxies themselves.
        promise.then(_check_response).catch(_report_failure)
        return True


def _check_response(response: Any) -> None:
    if not response.ok:
        js.console.warn(f"[glood-tracker] {response.url} answered {response.status}")


def _report_failure(error: Any) -> None:
    js.console.warn(f"[glood-tracker] keepalive request failed: {error}")
