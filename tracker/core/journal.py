"""The persisted backlog: unsent events kept in storage (one record per page), capped, and adopted later."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, fields
from typing import Any

from .clock import Clock
from .events import Event, Owner, PageContext, event_type
from .storage import Storage

__all__ = ["JOURNAL_PREFIX", "FACTS_PREFIX", "Entry", "Journal", "event_record", "event_from_record", "page_gone"]

JOURNAL_PREFIX = "glood_tracker:outbox:"
#: What the sensor leaves for the next page: facts its worker had not judged yet (docs/design.md §6).
FACTS_PREFIX = "glood_tracker:facts:"
_VERSION = 1
_PAGE_FIELDS = tuple(f.name for f in fields(PageContext))


@dataclass(frozen=True)
class Entry:
    """An event and the destinations it still has to reach."""

    event: Event
    destinations: tuple[str, ...]


def event_record(event: Event) -> dict[str, Any]:
    """An event as plain JSON (everything needed to send it again, same id and time)."""
    page = {name: getattr(event.page, name) for name in _PAGE_FIELDS}
    record = {"id": event.id, "name": event.name, "ts": event.timestamp_ms, "page": page,
              "data": event.data, "custom": event.custom_data}
    if event.owner is not None:
        record["owner"] = [event.owner.user_id, event.owner.client_id, event.owner.session_id, event.owner.token]
    return record


def event_from_record(record: Any) -> Event:
    """The Event of `event_record`; ValueError when the record is not one."""
    if not isinstance(record, dict):
        raise ValueError("not an object")
    page = record.get("page")
    ident, name, ts = record.get("id"), record.get("name"), record.get("ts")
    data, custom = record.get("data", {}), record.get("custom", {})
    if not (isinstance(ident, str) and ident and isinstance(name, str) and isinstance(ts, int)
            and isinstance(page, dict) and isinstance(data, dict) and isinstance(custom, dict)):
        raise ValueError("missing or mistyped fields")
    event_type(name)  # TrackError (a ValueError) for names this version does not know
    if any(not isinstance(v, (str, int, type(None))) or isinstance(v, bool) for v in page.values()):
        raise ValueError("page fields must be strings, integers or null")
    try:
        context = PageContext(**{k: v for k, v in page.items() if k in _PAGE_FIELDS})
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    owner = record.get("owner")
    kept = None
    if isinstance(owner, list) and len(owner) in (3, 4) and all(isinstance(o, str) for o in owner[:2]) \
            and all(o is None or isinstance(o, str) for o in owner[2:]):
        kept = Owner(*owner)
    return Event(id=ident, name=name, timestamp_ms=ts, page=context, data=data, custom_data=custom, owner=kept)


class Journal:
    """This page's unsent events in `storage` under `glood_tracker:outbox:<tab_id>`.

    `fit` applies the caps (age, then bytes: oldest dropped first); `save` mirrors the backlog;
    `claim` takes over the records of pages that are gone (another tab closed, the previous page
    of this tab), removing them so no other page sends them too.
    """

    def __init__(self, storage: Storage, tab_id: str, clock: Clock, *, max_bytes: int, max_age_ms: int,
                 stale_ms: int = 5 * 60 * 1000) -> None:
        self.storage = storage
        self.tab_id = tab_id
        self.clock = clock
        self.max_bytes = max_bytes
        self.max_age_ms = max_age_ms
        self.stale_ms = stale_ms
        self._encoded: dict[str, str] = {}
        self._written = False
        #: The pages whose records `claim` and `claim_facts` took.
        self.taken_pages: set[str] = set()

    @property
    def key(self) -> str:
        return JOURNAL_PREFIX + self.tab_id

    def _encode(self, entry: Entry) -> str:
        event_json = self._encoded.get(entry.event.id)
        if event_json is None:
            event_json = json.dumps(event_record(entry.event), separators=(",", ":"), ensure_ascii=False)
            self._encoded[entry.event.id] = event_json
        return '{"d":' + json.dumps(list(entry.destinations)) + ',"e":' + event_json + "}"

    def fit(self, entries: Iterable[Entry]) -> tuple[list[Entry], list[Entry], list[Entry]]:
        """(kept, expired, overflow): drop events older than max_age, then the oldest until under max_bytes."""
        now = self.clock.now_ms()
        ordered = sorted(entries, key=lambda e: e.event.timestamp_ms)
        expired = [e for e in ordered if now - e.event.timestamp_ms > self.max_age_ms]
        kept = [e for e in ordered if now - e.event.timestamp_ms <= self.max_age_ms]
        # The newest that fit, oldest left out first: only what is kept is encoded (a burst's backlog is
        # far larger than the cap, and encoding all of it on every save cost O(backlog)).
        total, fitting = 64, 0
        for entry in reversed(kept):
            total += len(self._encode(entry).encode("utf-8")) + 1
            if total > self.max_bytes:
                break
            fitting += 1
        cut = len(kept) - fitting
        return kept[cut:], expired, kept[:cut]

    def save(self, entries: list[Entry]) -> bool:
        """Write the backlog (remove the record when empty); False when storage refused it."""
        live = {e.event.id for e in entries}
        for stale in [i for i in self._encoded if i not in live]:
            del self._encoded[stale]
        if not entries:
            self.storage.remove(self.key)
            self._written = False
            return True
        text = (f'{{"v":{_VERSION},"tab":{json.dumps(self.tab_id)},"seen":{self.clock.now_ms()},"events":['
                + ",".join(self._encode(e) for e in entries) + "]}")
        self._written = self.storage.set(self.key, text)
        return self._written

    def lost(self) -> bool:
        """True when our record was written and is now gone: another page claimed it."""
        return self._written and self.storage.get(self.key) is None

    def claim(self, alive: Collection[str] | None, previous: str | None = None) -> tuple[list[Entry], int]:
        """Take over other pages' records: `previous` (this tab's last page) and those whose tab is not
        `alive` (or, when liveness is unknown, not seen for `stale_ms`). Returns (entries, corrupt records)."""
        records, corrupt = self._take(JOURNAL_PREFIX, _parse, alive, previous)
        taken: list[Entry] = []
        for record in records:
            for item in record["events"]:
                try:
                    destinations = tuple(d for d in item["d"] if isinstance(d, str))
                    taken.append(Entry(event_from_record(item["e"]), destinations))
                except (ValueError, KeyError, TypeError):
                    corrupt += 1
        return taken, corrupt

    def claim_facts(self, alive: Collection[str] | None,
                    previous: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Take over the sensor's fact records of pages that are gone, like `claim`: (records, corrupt)."""
        return self._take(FACTS_PREFIX, _parse_facts, alive, previous)

    def _take(self, prefix: str, parse: Callable[[str | None], dict[str, Any] | None],
              alive: Collection[str] | None, previous: str | None) -> tuple[list[dict[str, Any]], int]:
        """Other pages' records under `prefix` whose page is gone (see `page_gone`), removed from storage as they
        are taken, and how many records `parse` refused (removed too)."""
        taken: list[dict[str, Any]] = []
        corrupt = 0
        now = self.clock.now_ms()
        for key in self.storage.keys(prefix):
            page = key[len(prefix):]
            if page == self.tab_id:
                continue
            record = parse(self.storage.get(key))
            if record is None:
                corrupt += 1
                self.storage.remove(key)
                continue
            if page_gone(page, int(record["seen"]), alive, previous, now, self.stale_ms):
                self.storage.remove(key)
                taken.append(record)
                self.taken_pages.add(page)
        return taken, corrupt

    def forget_encodings(self) -> None:
        """Events changed under the same ids (a reset's owner): encode them again on the next save."""
        self._encoded.clear()

    def clear(self) -> None:
        self._encoded.clear()
        self._written = False
        self.storage.remove(self.key)


def page_gone(page: str, seen: int, alive: Collection[str] | None, previous: str | None, now: int,
              stale_ms: int) -> bool:
    """Whether a page's records are free to take: it is this tab's previous page, or its lock is not held
    (`alive` = pages holding one), or, when locks are unknown, it was not seen for `stale_ms`."""
    if alive is not None and page in alive:
        return False
    return page == previous or alive is not None or now - seen > stale_ms


def _parse(raw: str | None) -> dict[str, Any] | None:
    """A page's outbox record, or None when it is not one."""
    record = _json(raw)
    if (isinstance(record, dict) and record.get("v") == _VERSION and isinstance(record.get("seen"), int)
            and isinstance(record.get("events"), list)):
        return record
    return None


def _parse_facts(raw: str | None) -> dict[str, Any] | None:
    """A sensor's facts record (docs/design.md §6), or None when it is not one."""
    record = _json(raw)
    if (isinstance(record, dict) and record.get("v") == _VERSION and isinstance(record.get("seen"), (int, float))
            and isinstance(record.get("f"), list) and isinstance(record.get("boot"), dict)):
        return record
    return None


def _json(raw: str | None) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
