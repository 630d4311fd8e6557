"""Adoption: a page's worker takes over what earlier pages left (docs/design.md §6, "Adoption").

With Web Locks each sensor holds a lock named after its page while the page lives (released in `pagehide`), so a
page is gone exactly when its lock is free; the claim runs under one shared lock on a fresh copy of storage, so two
tabs never take the same record, and a page restored from the back/forward cache (which takes its lock back under
the same shared lock) either keeps its record or knows it was taken. Without Web Locks, staleness decides (see
`Journal.claim`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .pipeline import Pipeline
from .privacy import Consent
from .storage import MirrorStorage

__all__ = ["Adoption", "Locks", "TAB_LOCK_PREFIX", "ADOPT_LOCK", "CLAIMED_PREFIX"]

#: Web Locks: the sensor holds `<prefix><page id>` while its page is alive; adoption runs under ADOPT_LOCK.
TAB_LOCK_PREFIX = "glood_tracker:tab:"
ADOPT_LOCK = "glood_tracker:adopt"
#: Held for the page whose worker took a gone page's records, while that page lives (asked under ADOPT_LOCK, held
#: by relay.js, let go at pagehide like the tab lock): localStorage reaches other tabs' processes late (Chromium), so
#: another tab's fresh copy may still show records already taken; this lock says they are. (Not held in the
#: back/forward cache: Chromium evicts a cached page whose lock another page asks for or lists, and every adoption
#: lists them.)
CLAIMED_PREFIX = "glood_tracker:claimed:"


class Locks(Protocol):
    """Web Locks as the worker sees them."""

    async def held(self) -> set[str]:
        """Names of the locks held or requested right now, by any page of this origin."""

    async def exclusive(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` while holding lock `name`."""


@dataclass
class Adoption:
    """One page's adoption, run once after start-up (`run`)."""

    pipeline: Pipeline
    #: The worker's copy of localStorage: replaced by a fresh one under the lock.
    storage: MirrorStorage
    page_id: str
    #: This tab's previous page (taken even if its lock is held by a page in the back/forward cache? no: see
    #: `journal.page_gone`, a live lock always wins).
    previous: str | None
    locks: Locks | None
    #: A question to the sensor (`snap`, `store`) and its answer.
    ask: Callable[..., Awaitable[Any]]
    #: Judge a gone page's record (its facts, its calls, in order); returns the events it tracked.
    judge: Callable[[Mapping[str, Any]], int]
    #: Called after storage was refreshed (another tab may have identified or reset), and once the claim is over
    #: with how many events were restored.
    refreshed: Callable[[], None]
    finished: Callable[[int], None]
    debug: Callable[[str], None]
    stopped: Callable[[], bool]
    #: True once adoption is over (whatever it found).
    over: bool = False

    async def run(self) -> None:
        try:
            await self._under_locks()
        finally:
            self.over = True

    async def _under_locks(self) -> None:
        locks = self.locks
        try:
            if locks is None:
                await self._claim(None)
                return

            async def claim() -> None:
                # Which pages live is asked under the lock: a page restored from the back/forward cache takes its
                # own lock back under it too, so it either finds its record or knows it was taken.
                names = await locks.held()
                alive = {n[len(prefix):] for n in names for prefix in (TAB_LOCK_PREFIX, CLAIMED_PREFIX)
                         if n.startswith(prefix)}  # pages alive, and gone pages another worker took already
                alive.add(self.page_id)
                await self._claim(alive)
                taken = sorted(self.pipeline.journal.taken_pages)
                if taken:  # the page holds them (relay.js), granted before the adoption lock goes
                    await self.ask("claim", names=[CLAIMED_PREFIX + page for page in taken])

            await locks.exclusive(ADOPT_LOCK, claim)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - Web Locks refused (an opaque origin), a sensor gone
            self.debug(f"adoption under Web Locks failed ({exc}); adopting stale backlogs only")
            await self._claim(None)

    async def _claim(self, alive: set[str] | None) -> None:
        pipeline = self.pipeline
        if self.stopped() or pipeline.consent is Consent.DENIED:
            return
        snapshot = await self.ask("snap")
        if isinstance(snapshot, dict):
            self.storage.replace(snapshot)
            self.refreshed()
        # The handover rule (docs/design.md §6): what a gone page's record names as sent is never sent again,
        # neither from its stored backlog nor from its facts judged here.
        records, corrupt = pipeline.journal.claim_facts(alive, self.previous)
        for record in records:
            sent = record.get("sent")
            if isinstance(sent, list):
                pipeline.hand_over(i for i in sent if isinstance(i, str))
            dup = record.get("dup")
            if isinstance(dup, int) and dup > 0:
                pipeline.stats["resent_unanswered"] += dup
        restored = pipeline.adopt(alive, self.previous)
        if corrupt:
            pipeline.stats["dropped_corrupt"] += corrupt
        judged = sum(self.judge(record) for record in records)
        if judged:
            pipeline.stats["restored"] += judged
        await self.ask("store", w=self.storage.take_writes())
        if restored + judged:
            self.debug(f"restored {restored + judged} event(s) from earlier pages")
        self.finished(restored + judged)
