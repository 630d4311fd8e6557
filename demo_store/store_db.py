"""SQLite storage: carts, visits, received events (deduplicated), rejection counts, armed faults and the
recommendation sections served (for the funnel)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["DESTINATIONS", "StoredEvent", "Visit", "Fault", "Serve", "SectionEvent", "LineLimit", "Database",
           "utc_now", "lenient_json", "token_digest"]

DESTINATIONS: tuple[str, ...] = ("glood", "genlook")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cart_lines (
    token TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    added_seq INTEGER NOT NULL,
    PRIMARY KEY (token, variant_id)
);
CREATE TABLE IF NOT EXISTS visits (
    visit_id TEXT PRIMARY KEY,
    shop_domain TEXT NOT NULL,
    client_id TEXT,
    user_id TEXT,
    channel TEXT,
    page_url TEXT,
    created_at TEXT NOT NULL,
    customer_id TEXT,
    page_type TEXT,
    token_sha256 TEXT,
    expires_at REAL
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    event_id TEXT NOT NULL,
    name TEXT NOT NULL,
    session_id TEXT,
    client_id TEXT,
    page_url TEXT,
    request_id INTEGER NOT NULL REFERENCES requests (id),
    event TEXT NOT NULL,
    context TEXT,
    deliveries INTEGER NOT NULL DEFAULT 1,
    UNIQUE (destination, event_id)
);
CREATE TABLE IF NOT EXISTS serves (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    section_id TEXT NOT NULL,
    recommendation_type TEXT,
    products INTEGER NOT NULL,
    source TEXT NOT NULL,
    page_type TEXT,
    page_url TEXT,
    served_at TEXT NOT NULL,
    UNIQUE (request_id, section_id)
);
CREATE TABLE IF NOT EXISTS rejections (
    destination TEXT NOT NULL,
    status INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (destination, status)
);
"""

#: Columns added to `visits` after its first version: added to an older database file when it is opened.
_VISIT_COLUMNS = {"customer_id": "TEXT", "page_type": "TEXT", "token_sha256": "TEXT", "expires_at": "REAL"}
_VISIT_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS visits_token ON visits (token_sha256)"

#: Armed faults live in a TEMP table: private to the connection, so to one app instance, and gone on restart.
_TEMP_SCHEMA = """
CREATE TEMP TABLE IF NOT EXISTS faults (
    destination TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    remaining INTEGER NOT NULL CHECK (remaining > 0),
    status INTEGER NOT NULL,
    retry_after INTEGER,
    PRIMARY KEY (destination, endpoint)
);
"""


def utc_now() -> str:
    """RFC 3339 UTC with milliseconds: 2026-04-16T10:29:58.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lenient_json(text: str) -> Any:
    """Stored JSON text as data; text that does not parse (or nests past the recursion limit) as the string."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def token_digest(token: str) -> str:
    """What is stored of a visit token: its SHA-256 (hex). The token itself is only ever in init's answer."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _text(data: bytes) -> str:
    """SQLite TEXT as str: bytes that are not UTF-8 (a file written by something else) become U+FFFD."""
    return data.decode("utf-8", "replace")


class LineLimit(Exception):
    """Adding would take a cart line past its maximum quantity; nothing was changed."""

    def __init__(self, current: int, maximum: int) -> None:
        super().__init__(f"the line holds {current}, at most {maximum} allowed")
        self.current = current
        self.maximum = maximum


@dataclass(frozen=True)
class StoredEvent:
    """One event of an accepted request, with the fields the collector filters on."""

    event_id: str
    name: str
    session_id: str | None
    client_id: str | None
    page_url: str | None
    event: dict[str, Any]
    context: dict[str, Any] | None = None


@dataclass(frozen=True)
class Serve:
    """One section of one serve: what a page or the sections stand-in answered (`source` "page" or "api")."""

    request_id: str
    section_id: str
    recommendation_type: str | None
    products: int
    source: str
    page_type: str | None = None
    page_url: str | None = None
    served_at: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Serve:
        return cls(row["request_id"], row["section_id"], row["recommendation_type"], int(row["products"] or 0),
                   row["source"], row["page_type"], row["page_url"], row["served_at"])


@dataclass(frozen=True)
class SectionEvent:
    """What the funnel needs of one stored section event: its name, page, and the section and request it names
    (as stored: any JSON scalar, or None when the event does not say or is not JSON)."""

    name: str
    page_url: str | None
    section: Any
    request_id: Any


#: Where a section event keeps its section id and request id, per destination (Glood's customData.track,
#: Genlook's snake_case properties).
_SECTION_PATHS = {"glood": ("$.customData.track.section", "$.customData.track.requestId"),
                  "genlook": ("$.properties.section_id", "$.properties.request_id")}


@dataclass(frozen=True)
class Fault:
    """Failures armed for one collector endpoint: the next `remaining` POSTs answer `status`."""

    destination: str
    endpoint: str
    remaining: int
    status: int
    retry_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"destination": self.destination, "endpoint": self.endpoint, "remaining": self.remaining,
                "status": self.status, "retry_after": self.retry_after}


@dataclass(frozen=True)
class Visit:
    """A visit opened by Glood's init: its ids, where it started, and until when its token is valid (epoch
    seconds; `token_sha256` is the digest of the token, see `token_digest`)."""

    visit_id: str
    shop_domain: str
    client_id: str | None
    user_id: str | None
    customer_id: str | None = None
    page_type: str | None = None
    page_url: str | None = None
    token_sha256: str | None = None
    expires_at: float | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Visit:
        return cls(row["visit_id"], row["shop_domain"], row["client_id"], row["user_id"], row["customer_id"],
                   row["page_type"], row["page_url"], row["token_sha256"], row["expires_at"])


class Database:
    """One shared connection guarded by a lock (works for files and for ":memory:")."""

    def __init__(self, path: str) -> None:
        if path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                     uri=path.startswith("file:"))
        self._conn.row_factory = sqlite3.Row
        self._conn.text_factory = _text
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        # WAL: durable across crashes of the store, one fsync per checkpoint.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._migrate()
        self._conn.executescript(_TEMP_SCHEMA)

    def _migrate(self) -> None:
        """Bring a database file written by an older store up to date (new `visits` columns, the token index)."""
        with self._transaction() as conn:
            present = {row["name"] for row in conn.execute("PRAGMA table_info(visits)")}
            for column, kind in _VISIT_COLUMNS.items():
                if column not in present:
                    conn.execute(f"ALTER TABLE visits ADD COLUMN {column} {kind}")
            conn.execute(_VISIT_INDEX)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock for one write transaction: commit, or roll back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- carts ----------------------------------------------------------------------------

    def cart_lines(self, token: str) -> list[tuple[str, int]]:
        """(variant id, quantity) in the order lines were first added."""
        rows = self._query("SELECT variant_id, quantity FROM cart_lines WHERE token = ? ORDER BY added_seq",
                           (token,))
        return [(r["variant_id"], r["quantity"]) for r in rows]

    def add_to_cart(self, token: str, variant_id: str, quantity: int, maximum: int | None = None) -> int:
        """Add `quantity` to the variant's line (a new line at the end): the line's quantity after. With
        `maximum`, raise LineLimit (changing nothing) when the line would hold more."""
        with self._transaction() as conn:
            row = conn.execute("SELECT quantity FROM cart_lines WHERE token = ? AND variant_id = ?",
                               (token, variant_id)).fetchone()
            current = 0 if row is None else int(row["quantity"])
            if maximum is not None and current + quantity > maximum:
                raise LineLimit(current, maximum)
            conn.execute(
                "INSERT INTO cart_lines (token, variant_id, quantity, added_seq) "
                "VALUES (?, ?, ?, (SELECT COALESCE(MAX(added_seq), 0) + 1 FROM cart_lines WHERE token = ?)) "
                "ON CONFLICT (token, variant_id) DO UPDATE SET quantity = quantity + excluded.quantity",
                (token, variant_id, quantity, token))
        return current + quantity

    def set_cart_quantity(self, token: str, variant_id: str, quantity: int) -> None:
        with self._transaction() as conn:
            if quantity <= 0:
                conn.execute("DELETE FROM cart_lines WHERE token = ? AND variant_id = ?", (token, variant_id))
            else:
                conn.execute("UPDATE cart_lines SET quantity = ? WHERE token = ? AND variant_id = ?",
                             (quantity, token, variant_id))

    # -- visits ---------------------------------------------------------------------------

    def add_visit(self, visit: Visit) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO visits (visit_id, shop_domain, client_id, user_id, customer_id, page_type,"
                         " page_url, token_sha256, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (visit.visit_id, visit.shop_domain, visit.client_id, visit.user_id, visit.customer_id,
                          visit.page_type, visit.page_url, visit.token_sha256, visit.expires_at, utc_now()))

    def visit(self, visit_id: str) -> Visit | None:
        rows = self._query("SELECT * FROM visits WHERE visit_id = ?", (visit_id,))
        return Visit.from_row(rows[0]) if rows else None

    def visit_by_token(self, token: str) -> Visit | None:
        """The visit whose token this is (expired or not: the caller decides), or None."""
        rows = self._query("SELECT * FROM visits WHERE token_sha256 = ?", (token_digest(token),))
        return Visit.from_row(rows[0]) if rows else None

    def latest_visit(self, shop_domain: str, *, user_id: str | None = None, client_id: str | None = None,
                     valid_at: float) -> Visit | None:
        """The newest visit of this shop for `user_id` (else `client_id`) whose token is still valid at `valid_at`."""
        for column, value in (("user_id", user_id), ("client_id", client_id)):
            if value:
                rows = self._query(f"SELECT * FROM visits WHERE shop_domain = ? AND {column} = ? AND expires_at > ?"
                                   " ORDER BY expires_at DESC, rowid DESC LIMIT 1", (shop_domain, value, valid_at))
                if rows:
                    return Visit.from_row(rows[0])
        return None

    # -- events ---------------------------------------------------------------------------

    def store_events(self, destination: str, raw_body: str, events: Iterable[StoredEvent]) -> None:
        """Store one accepted request in one transaction; a repeated event id only counts a delivery."""
        with self._transaction() as conn:
            request_id = conn.execute("INSERT INTO requests (destination, received_at, body) VALUES (?, ?, ?)",
                                      (destination, utc_now(), raw_body)).lastrowid
            for e in events:
                conn.execute(
                    "INSERT INTO events (destination, event_id, name, session_id, client_id, page_url, request_id,"
                    " event, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (destination, event_id) DO UPDATE SET deliveries = deliveries + 1",
                    (destination, e.event_id, e.name, e.session_id, e.client_id, e.page_url, request_id,
                     json.dumps(e.event), None if e.context is None else json.dumps(e.context)))

    def events(self, destination: str | None = None, *, name: str | None = None, session_id: str | None = None,
               client_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Stored events, newest first, as the collector's JSON objects (stored text that no longer parses is
        listed as the string it is; see `lenient_json`)."""
        filters = {"e.destination": destination, "e.name": name, "e.session_id": session_id,
                   "e.client_id": client_id}
        where = [f"{column} = ?" for column, value in filters.items() if value]
        params = [value for value in filters.values() if value]
        rows = self._query(
            "SELECT e.*, r.received_at, r.body FROM events e JOIN requests r ON r.id = e.request_id"
            + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.seq DESC LIMIT ?",
            [*params, limit])
        return [{"destination": r["destination"], "event_id": r["event_id"], "name": r["name"],
                 "session_id": r["session_id"], "client_id": r["client_id"], "page_url": r["page_url"],
                 "received_at": r["received_at"], "deliveries": r["deliveries"], "body": lenient_json(r["body"]),
                 "event": lenient_json(r["event"]),
                 "context": None if r["context"] is None else lenient_json(r["context"])} for r in rows]

    def section_events(self, destination: str, names: Iterable[str]) -> list[SectionEvent]:
        """The stored events of `destination` called one of `names`, oldest first, with their section and request
        ids read by SQLite (text that is not JSON, or a path that is missing, reads as None)."""
        section_path, request_path = _SECTION_PATHS[destination]
        wanted = list(names)
        if not wanted:
            return []
        rows = self._query(
            "SELECT name, page_url,"
            " CASE WHEN json_valid(event) THEN json_extract(event, ?) END AS section,"
            " CASE WHEN json_valid(event) THEN json_extract(event, ?) END AS request"
            f" FROM events WHERE destination = ? AND name IN ({', '.join('?' for _ in wanted)}) ORDER BY seq",
            [section_path, request_path, destination, *wanted])
        return [SectionEvent(r["name"], r["page_url"], r["section"], r["request"]) for r in rows]

    # -- serves ----------------------------------------------------------------------------

    def record_serves(self, serves: Iterable[Serve]) -> None:
        """Remember what was served (one row per request and section; a repeat is ignored)."""
        with self._transaction() as conn:
            for s in serves:
                conn.execute(
                    "INSERT INTO serves (request_id, section_id, recommendation_type, products, source, page_type,"
                    " page_url, served_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (request_id, section_id) DO NOTHING",
                    (s.request_id, s.section_id, s.recommendation_type, s.products, s.source, s.page_type,
                     s.page_url, s.served_at or utc_now()))

    def serves(self) -> list[Serve]:
        """Every recorded serve, oldest first."""
        return [Serve.from_row(r) for r in self._query("SELECT * FROM serves ORDER BY seq")]

    def count_rejection(self, destination: str, status: int) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT INTO rejections VALUES (?, ?, 1) "
                         "ON CONFLICT (destination, status) DO UPDATE SET count = count + 1",
                         (destination, status))

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per destination: accepted events, duplicate deliveries, rejected requests (total and by status);
        Glood also counts its visits (inits)."""
        out: dict[str, dict[str, Any]] = {
            d: {"accepted": 0, "duplicates": 0, "rejected": 0, "rejected_by_status": {}} for d in DESTINATIONS}
        out["glood"]["visits"] = int(self._query("SELECT COUNT(*) FROM visits")[0][0])
        for r in self._query("SELECT destination, COUNT(*) AS n, SUM(deliveries - 1) AS dup FROM events "
                             "GROUP BY destination"):
            out[r["destination"]].update(accepted=r["n"], duplicates=r["dup"])
        for r in self._query("SELECT destination, status, count FROM rejections ORDER BY status"):
            bucket = out[r["destination"]]
            bucket["rejected"] += r["count"]
            bucket["rejected_by_status"][str(r["status"])] = r["count"]
        return out

    def reset_events(self) -> None:
        """Forget received events, rejection counts and recorded serves (carts and visits stay)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM serves")
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM requests")
            conn.execute("DELETE FROM rejections")

    # -- injected faults ------------------------------------------------------------------
    # The TEMP table is private to this connection, which only ever runs under the lock:
    # the lock alone makes each operation atomic (no write lock on the shared file needed).

    def arm_fault(self, fault: Fault) -> None:
        """Arm (or replace) the fault of `fault`'s endpoint; `remaining` 0 disarms it."""
        with self._lock:
            self._conn.execute("DELETE FROM temp.faults WHERE destination = ? AND endpoint = ?",
                               (fault.destination, fault.endpoint))
            if fault.remaining > 0:
                self._conn.execute("INSERT INTO temp.faults VALUES (?, ?, ?, ?, ?)",
                                   (fault.destination, fault.endpoint, fault.remaining, fault.status,
                                    fault.retry_after))

    def faults(self) -> list[Fault]:
        """The armed faults, by destination and endpoint."""
        rows = self._query("SELECT * FROM temp.faults ORDER BY destination, endpoint")
        return [Fault(r["destination"], r["endpoint"], r["remaining"], r["status"], r["retry_after"]) for r in rows]

    def take_fault(self, destination: str, endpoint: str) -> Fault | None:
        """Use up one failure of the endpoint's armed fault: that fault with the failures left after this one,
        or None when nothing is armed. The last failure disarms it."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM temp.faults WHERE destination = ? AND endpoint = ?",
                                     (destination, endpoint)).fetchone()
            if row is None:
                return None
            left = row["remaining"] - 1
            if left > 0:
                self._conn.execute("UPDATE temp.faults SET remaining = ? WHERE destination = ? AND endpoint = ?",
                                   (left, destination, endpoint))
            else:
                self._conn.execute("DELETE FROM temp.faults WHERE destination = ? AND endpoint = ?",
                                   (destination, endpoint))
        return Fault(destination, endpoint, left, row["status"], row["retry_after"])

    def disarm_faults(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM temp.faults")
