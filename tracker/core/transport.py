"""The transport seam (`send(url, body, headers) -> bool`) and a recording test double."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

__all__ = ["Transport", "Sent", "MockTransport"]


class Transport(Protocol):
    """Hands one request body to the network. True = accepted for delivery; False = nothing was sent."""

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> bool: ...


@dataclass(frozen=True)
class Sent:
    """One request a MockTransport accepted."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class MockTransport:
    """Records requests; `handler(url, body, headers) -> bool` decides acceptance (default: accept)."""

    def __init__(self, handler: Callable[[str, bytes, Mapping[str, str]], bool] | None = None) -> None:
        self.handler = handler
        self.sent: list[Sent] = []
        self.refused: list[Sent] = []

    def send(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> bool:
        request = Sent(url, bytes(body), dict(headers or {}))
        ok = True if self.handler is None else bool(self.handler(url, request.body, request.headers))
        (self.sent if ok else self.refused).append(request)
        return ok

    def bodies(self, url_part: str = "") -> list[Any]:
        return [s.json() for s in self.sent if url_part in s.url]
