"""Browser implementations of the core's seams: clock, Web Storage, beacon/fetch transport."""

from __future__ import annotations

from typing import Any, Mapping

import js

from ..core.retry import parse_retry_after
from ..core.transport import Receipt
from .ffi import js_object, nullable

__all__ = ["BrowserClock", "WebStorage", "BeaconTransport"]


class BrowserClock:
    """Date.now() for timestamps, performance.now() for durations."""

    def now_ms(self) -> int:
        return int(js.Date.now())

    def monotonic_ms(self) -> float:
        return float(js.performance.now())


class WebStorage:
    """window.localStorage (or sessionStorage) that never throws: disabled, full or blocked storage reads as empty."""

    def __init__(self, name: str = "localStorage") -> None:
        try:
            self._store: Any = nullable(getattr(js.window, name))
        except Exception:  # noqa: BLE001 - a SecurityError when storage is blocked
            self._store = None

    def get(self, key: str) -> str | None:
        try:
            value = nullable(self._store.getItem(key)) if self._store is not None else None
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

    def keys(self, prefix: str = "") -> list[str]:
        try:
            if self._store is None:
                return []
            names = [nullable(self._store.key(i)) for i in range(int(self._store.length))]
        except Exception:  # noqa: BLE001
            return []
        return [str(n) for n in names if n is not None and str(n).startswith(prefix)]


class BeaconTransport:
    """navigator.sendBeacon with a JSON Blob; fetch(keepalive) when headers are needed (bearer token, or the
    `fetch` transport), which answers later through a Receipt."""

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> "bool | Receipt":
        text = body.decode("utf-8")
        if headers:
            return self._fetch(url, text, dict(headers))
        blob = js.Blob.new(js_object([text]), js_object({"type": "application/json"}))
        try:
            return bool(js.navigator.sendBeacon(url, blob))
        except Exception as exc:  # noqa: BLE001 - e.g. a URL the browser rejects
            js.console.error(f"[glood-tracker] sendBeacon to {url} failed: {exc}")
            return False

    def _fetch(self, url: str, text: str, headers: dict[str, str]) -> "bool | Receipt":
        try:
            promise = js.fetch(url, js_object({
                "method": "POST", "body": text, "headers": headers,
                "keepalive": True, "credentials": "omit", "mode": "cors",
            }))
        except Exception as exc:  # noqa: BLE001
            js.console.error(f"[glood-tracker] fetch to {url} failed: {exc}")
            return False
        receipt = Receipt()

        def answered(response: Any) -> None:
            retry_after = parse_retry_after(nullable(response.headers.get("Retry-After")), int(js.Date.now()))
            if not response.ok:
                js.console.warn(f"[glood-tracker] {url} answered {response.status}")
            receipt.settle(int(response.status), retry_after)

        def failed(error: Any) -> None:
            js.console.warn(f"[glood-tracker] request to {url} failed: {error}")
            receipt.settle(None, None)

        # JsPromise.then/catch take Python callables and manage their proxies themselves.
        promise.then(answered).catch(failed)
        return receipt
