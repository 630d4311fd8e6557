"""The visit: Glood's init (shared/notes: `x-shop`, the documented body), asked when the pipeline needs a visit id,
retried with backoff; after INIT_ATTEMPTS_BEFORE_FALLBACK failures Genlook stops waiting for it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import Config
from .events import PageContext
from .pipeline import Pipeline
from .retry import Backoff

__all__ = ["VisitStart", "INIT_ATTEMPTS_BEFORE_FALLBACK", "Request"]

INIT_ATTEMPTS_BEFORE_FALLBACK = 3

#: A POST of JSON text with headers: (status, answer text).
Request = Callable[[str, str, Mapping[str, str]], Awaitable[tuple[int, str]]]


@dataclass
class VisitStart:
    """Starts the visit once the pipeline needs one (`ensure`), at most one init at a time."""

    config: Config
    pipeline: Pipeline
    request: Request
    sleep: Callable[[float], Awaitable[None]]
    spawn: Callable[[Awaitable[Any]], asyncio.Task[Any]]
    #: The page the init describes, and the customer `identify()` named (or None).
    page: Callable[[], PageContext]
    customer: Callable[[], str | None]
    #: The answer was adopted (the visit started): `answer` is init's JSON.
    started: Callable[[Mapping[str, Any]], None]
    #: Something changed that the caller acts on (a fallback after failures, a start).
    changed: Callable[[], None]
    warn: Callable[[str], None]
    stopped: Callable[[], bool]
    _task: asyncio.Task[Any] | None = None

    def ensure(self) -> None:
        if not self.pipeline.needs_session or (self._task is not None and not self._task.done()):
            return
        self._task = self.spawn(self._run())

    async def _run(self) -> None:
        backoff = Backoff(base_ms=500, cap_ms=30_000)
        attempt = 0
        while not self.stopped() and self.pipeline.needs_session:
            attempt += 1
            try:
                answer = await self._ask()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - network errors, bad answers
                self.warn(f"session init failed (attempt {attempt}): {exc}")
                if attempt >= INIT_ATTEMPTS_BEFORE_FALLBACK:
                    self.pipeline.session_unavailable = True
                    self.changed()
                await self.sleep(backoff.delay_ms(attempt))
                continue
            if self.stopped():
                return
            pipeline = self.pipeline
            pipeline.adopt_identity(answer.get("user_id"), answer.get("client_id"))
            config = answer.get("config")
            analytics = not (isinstance(config, dict) and config.get("analytics_enabled") is False)
            token = answer.get("token")
            pipeline.start_session(answer["visit_id"], token if isinstance(token, str) and token else None, analytics)
            pipeline.session_unavailable = False
            self.started(answer)
            self.changed()

    async def _ask(self) -> dict[str, Any]:
        """Glood's init; the answer, with a visit_id."""
        page = self.page()
        body = {"user_id": self.pipeline.identity.user_id, "client_id": self.pipeline.identity.client_id,
                "page_type": page.page_type, "page_url": page.url}
        customer = page.customer_id or self.customer()
        if customer:
            body["customer_id"] = customer
        headers = {"Content-Type": "application/json", "x-shop": self.config.shop_domain}
        if self.config.glood_public_token:
            headers["Authorization"] = f"Bearer {self.config.glood_public_token}"
        status, text = await self.request(self.config.glood_init_url, json.dumps(body), headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{self.config.glood_init_url} answered {status}")
        answer = json.loads(text)
        visit_id = answer.get("visit_id") if isinstance(answer, dict) else None
        if not isinstance(visit_id, str) or not visit_id:
            raise RuntimeError("init answer has no visit_id")
        return dict(answer)
