"""The one definition of what crosses between the page (sensor.js, relay.js) and the worker (worker.mjs, Python).

Every message kind and field, both directions, and every fact kind, as TypedDicts; the answer codes; the record a
leaving page keeps. `static/tracker/protocol.js` holds the same as JSDoc typedefs, generated from this module
(`python -m tracker protocol-js --write`; a test keeps it in step), and the page's code is
type-checked against it (`tsc --checkJs`). `validate` checks a message against its definition: tests run it on
every message of a real browser session. docs/design.md §6 explains what each one means.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, Union

__all__ = ["BEACON_ACCEPTED", "NOT_SENT", "BEACON_REFUSED", "TO_WORKER", "TO_PAGE", "FACTS", "RECORD",
           "validate", "validate_fact", "jsdoc"]

#: `ans` status codes besides HTTP statuses and null (a network failure): the beacon was queued by the browser;
#: not sent (its events are in the sensor's ledger already, or went with a taken record); `sendBeacon` refused it
#: (the keepalive quota was full: the worker fetches the body itself).
BEACON_ACCEPTED = 0
NOT_SENT = -1
BEACON_REFUSED = -2
CODES = {"BEACON_ACCEPTED": BEACON_ACCEPTED, "NOT_SENT": NOT_SENT, "BEACON_REFUSED": BEACON_REFUSED}

Json = Any
Product = tuple[str, str | None]


# -- the page's start-up facts and the runtime ---------------------------------------------------------------

class PageStart(TypedDict):
    """Captured when the page starts (pd and title at DOMContentLoaded; t0 and vis again at a prerender's
    activation), never when it is left."""
    page: str
    pv: str
    t0: float
    url: str
    ref: str
    title: str
    vw: int
    vh: int
    ua: str
    vis: bool
    pd: str | None


class EmbedRuntime(TypedDict):
    """The embed's `data-runtime`: what the inline sensor needs itself (relay.js's URL, the version, consent first,
    Global Privacy Control honoured)."""
    relay: str
    version: str
    rc: bool
    gpc: bool


class BuildRuntime(TypedDict):
    """The build's runtime files, written into relay.js by the build."""
    worker: str
    pyodide: str
    index: str
    lock: str
    stdlib: str
    wheel: str


class Runtime(EmbedRuntime, BuildRuntime):
    """What the worker boots from (the boot message's `rt`): relay.js's build files and the embed's `data-runtime`."""


class Signals(TypedDict):
    shopify: str | None
    loading: bool
    gpc: bool
    sale: bool | None
    webdriver: bool
    ua: str


# -- facts: what the sensor saw, in order ------------------------------------------------------------------------

class _Fact(TypedDict):
    s: int
    t: float


class SecFact(_Fact):
    k: Literal["sec"]
    i: int
    a: dict[str, str]
    p: list[Product]


class GoneFact(_Fact):
    k: Literal["gone"]
    i: int


class IoFact(_Fact):
    k: Literal["io"]
    i: int
    r: tuple[float, float, float]


class VisFact(_Fact):
    k: Literal["vis"]
    v: bool


class ClickFact(_Fact):
    k: Literal["click"]
    i: int
    p: Product | None
    b: int


class CartFact(_Fact):
    k: Literal["add", "chg"]
    i: int
    p: Product | None
    v: str | None
    q: str | None
    l: str | None  # noqa: E741 - the wire's name


class AjaxFact(_Fact):
    """A `fetch` or XMLHttpRequest to the AJAX Cart API (`/cart/add|change|update|clear`, `.js` or not, any locale
    prefix) and its answer, raw: judged in tracker/core/cart.py."""
    k: Literal["ajax"]
    u: str
    #: The request body: text (JSON, urlencoded), a FormData's [name, value] entries (a file's value is {}), or null.
    b: str | list[tuple[str, Json]] | None
    #: The answer's status (0: no answer) and text (null when not read as text).
    st: int
    r: str | None
    i: int
    p: Product | None


class PostFact(_Fact):
    """A cart form post the previous page of this tab left with, recorded by the next page (which judges it against
    its own cart): the form's action, entries, section attributes, product and the posting page's context."""
    k: Literal["post"]
    u: str
    b: list[tuple[str, Json]]
    a: dict[str, str] | None
    p: Product | None
    pd: str | None


class CallFact(_Fact):
    k: Literal["call"]
    m: Literal["track", "consent", "identify", "reset", "refused"]
    a: str
    e: NotRequired[str]


class ShowFact(_Fact):
    k: Literal["show"]
    pv: str


class UrlFact(_Fact):
    k: Literal["url"]
    url: str
    title: str
    pd: str | None


class PageDataFact(_Fact):
    k: Literal["pd"]
    pd: str | None


Fact = (SecFact | GoneFact | IoFact | VisFact | ClickFact | CartFact | AjaxFact | PostFact | CallFact | ShowFact
        | UrlFact | PageDataFact)
FACTS: dict[str, type] = {"sec": SecFact, "gone": GoneFact, "io": IoFact, "vis": VisFact, "click": ClickFact,
                          "add": CartFact, "chg": CartFact, "ajax": AjaxFact, "post": PostFact, "call": CallFact,
                          "show": ShowFact, "url": UrlFact,
                          "pd": PageDataFact}


# -- sensor -> worker ----------------------------------------------------------------------------------------------

class Boot(TypedDict):
    t: Literal["boot"]
    rt: Runtime
    page: PageStart
    quiet: int
    cfg: str | None
    ov: dict[str, Json] | None
    prev: str | None
    store: dict[str, str]
    dbg: bool
    sig: Signals
    #: The inspector is on (`?glood_inspect=1`): the worker posts `dbg` messages (docs/inspector.md).
    insp: NotRequired[bool]


class FactsMessage(TypedDict):
    t: Literal["facts"]
    f: list[Fact]


Answer = tuple[int, int | None, str | None]


class Ans(TypedDict):
    """Answers to `send`: [request, status (a code above, null, or HTTP), Retry-After text]."""
    t: Literal["ans"]
    a: list[Answer]


class Hide(TypedDict):
    t: Literal["hide"]
    sent: list[tuple[str, list[str]]]
    dup: int


class Taken(TypedDict):
    t: Literal["taken"]
    upto: int
    at: float


class Ask(TypedDict):
    t: Literal["ask"]
    n: int
    m: Literal["flush", "pending", "status", "stop"]


class Re(TypedDict):
    t: Literal["re"]
    n: int
    v: NotRequired[Json]


class Fail(TypedDict):
    t: Literal["fail"]
    k: str


class Bye(TypedDict):
    t: Literal["bye"]


# -- the memory snapshot's maker (static/tracker/worker.mjs; never Python's) ------------------------------------------

class SnapshotRuntime(TypedDict):
    """The build's runtime files as absolute URLs (resolved against the page's URL by the tracker's worker)."""
    pyodide: str
    index: str
    lock: str
    stdlib: str
    wheel: str


class Maker(TypedDict):
    """After the first ready with consent, the tracker's worker asks the page to start the memory snapshot's maker,
    a throwaway worker of its own (worker.mjs again), for this build's runtime and Cache Storage key: a worker
    started from the tracker's worker could hold that worker's thread in its constructor for good (Firefox ESR),
    and with it everything the tracker had not sent yet."""
    t: Literal["maker"]
    abs: SnapshotRuntime
    key: str


class MakeSnapshot(TypedDict):
    """The page to the maker it started: make and store the snapshot (the `maker` message's runtime and key)."""
    t: Literal["make-snapshot"]
    abs: SnapshotRuntime
    key: str


class Made(TypedDict):
    """The maker's report, to the page, which hands it to the tracker's worker as it came (status().boot: `made`,
    and `make`: its timings and sizes, or the error); or the page's own, "left", when it ended the maker because
    it was left (pagehide)."""
    t: Literal["made"]
    made: Literal["stored", "refused", "failed", "left"]
    make: dict[str, Json]


TO_WORKER: dict[str, type] = {"boot": Boot, "facts": FactsMessage, "ans": Ans, "hide": Hide, "taken": Taken,
                              "ask": Ask, "re": Re, "fail": Fail, "bye": Bye, "make-snapshot": MakeSnapshot,
                              "made": Made}


# -- worker -> sensor ----------------------------------------------------------------------------------------------

class Ready(TypedDict):
    t: Literal["ready"]
    v: str


class ErrorMessage(TypedDict):
    t: Literal["error"]


class Request(TypedDict):
    """A body to send: `d` destination, `u` URL, `x` body text, `h` headers (a keepalive fetch) or null (a
    beacon), `i` its events' ids."""
    d: str
    u: str
    x: str
    h: dict[str, str] | None
    i: list[str]


class SendRequest(Request):
    n: int


class HoldRequest(Request):
    f: bool


class Send(TypedDict):
    t: Literal["send"]
    b: list[SendRequest]


class Hold(TypedDict):
    t: Literal["hold"]
    upto: int
    b: list[HoldRequest]
    w: list[tuple[str, str | None]]
    st: dict[str, Json]
    c: Literal["granted", "pending", "denied"]
    all: bool
    ack: list[str]
    fb: int


class Snap(TypedDict):
    t: Literal["snap"]
    n: int


class Store(TypedDict):
    t: Literal["store"]
    n: int
    w: list[tuple[str, str | None]]


class Claim(TypedDict):
    """Adoption took these pages' records: the page holds Web Locks `names` (glood_tracker:claimed:<page>) while it
    lives and answers `re` once they are granted (relay.js; let go at pagehide)."""
    t: Literal["claim"]
    n: int
    names: list[str]


class Reply(TypedDict):
    t: Literal["reply"]
    n: int
    v: Json


class Log(TypedDict):
    t: Literal["log"]
    l: Literal["log", "warn", "error"]  # noqa: E741 - the wire's name
    m: str


class Debug(TypedDict):
    """The inspector's debug channel, only when the boot message's `insp` is true: `k` what
    (tracker/core/debugchannel.py DebugKind), `at` when, `pv` the page view, `v` what it carries."""
    t: Literal["dbg"]
    k: Literal["boot", "fact", "event", "dropped", "refused", "waiting", "body", "outcome", "hidden", "consent",
               "state"]
    at: float
    pv: str
    v: dict[str, Json]


TO_PAGE: dict[str, type] = {"ready": Ready, "error": ErrorMessage, "send": Send, "hold": Hold, "snap": Snap,
                            "store": Store, "claim": Claim, "reply": Reply, "log": Log, "dbg": Debug, "maker": Maker,
                            "made": Made}


# -- the record a leaving page keeps (localStorage glood_tracker:facts:<page id>) -----------------------------------

class Record(TypedDict):
    v: Literal[1]
    seen: float
    boot: PageStart
    st: NotRequired[dict[str, Json] | None]
    f: list[Fact]
    x: int
    sent: NotRequired[list[str]]
    dup: NotRequired[int]
    quiet: NotRequired[int]


RECORD = Record


# -- checking ----------------------------------------------------------------------------------------------------

def validate(message: Any, direction: Literal["to_worker", "to_page"]) -> list[str]:
    """What is wrong with `message` as a message in `direction` (an empty list: nothing)."""
    kinds = TO_WORKER if direction == "to_worker" else TO_PAGE
    if not isinstance(message, Mapping):
        return [f"not an object: {type(message).__name__}"]
    kind = message.get("t")
    if kind not in kinds:
        return [f"unknown message {kind!r}"]
    return _check(message, kinds[kind], kind)


def validate_fact(fact: Any) -> list[str]:
    """What is wrong with `fact` as a fact of the sensor."""
    if not isinstance(fact, Mapping) or fact.get("k") not in FACTS:
        return [f"unknown fact {fact!r:.80}"]
    return _check(fact, FACTS[fact["k"]], f"fact {fact['k']}")


def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind, globalns=vars(sys.modules[__name__]), include_extras=True)


def _check(value: Any, expected: Any, where: str) -> list[str]:
    origin = typing.get_origin(expected)
    args = typing.get_args(expected)
    if expected is Any:
        return []
    if typing.is_typeddict(expected):
        if not isinstance(value, Mapping):
            return [f"{where}: not an object"]
        hints = _hints(expected)
        problems = []
        for key, hint in hints.items():
            optional = typing.get_origin(hint) is NotRequired
            hint = typing.get_args(hint)[0] if optional else hint
            if key not in value:
                if not optional:
                    problems.append(f"{where}: no {key!r}")
                continue
            if key == "f" and hint == list[Fact]:
                problems += [p for i, fact in enumerate(value[key]) for p in
                             [f"{where}.f[{i}]: {x}" for x in validate_fact(fact)]] if isinstance(value[key], list) \
                    else [f"{where}.f: not a list"]
                continue
            problems += _check(value[key], hint, f"{where}.{key}")
        extra = set(value) - set(hints)
        if extra:
            problems.append(f"{where}: unknown field(s) {sorted(extra)}")
        return problems
    if origin is Literal:
        return [] if value in args and type(value) is type(args[list(args).index(value)]) \
            else [f"{where}: {value!r:.60} not one of {args}"]
    if origin in (Union, types.UnionType):
        for option in args:
            if not _check(value, option, where):
                return []
        return [f"{where}: {value!r:.60} is none of {expected}"]
    if expected is type(None):
        return [] if value is None else [f"{where}: {value!r:.60} is not null"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [p for i, item in enumerate(value) for p in _check(item, args[0], f"{where}[{i}]")]
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            return [f"{where}: not a list of {len(args)}"]
        return [p for i, (item, hint) in enumerate(zip(value, args, strict=True))
                for p in _check(item, hint, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, Mapping):
            return [f"{where}: not an object"]
        return [p for key, item in value.items() for p in _check(item, args[1], f"{where}.{key}")]
    if expected is bool:
        return [] if isinstance(value, bool) else [f"{where}: {value!r:.60} is not a boolean"]
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r:.60} is not a number"]
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r:.60} is not an integer"]
    if expected is str:
        return [] if isinstance(value, str) else [f"{where}: {value!r:.60} is not a string"]
    raise TypeError(f"{where}: no check for {expected!r}")


# -- the JSDoc mirror ------------------------------------------------------------------------------------------

def _js(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return "any"
    if typing.is_typeddict(hint):
        return str(hint.__name__)
    if origin is Literal:
        return "|".join(f'"{a}"' if isinstance(a, str) else str(a).lower() for a in args)
    if origin in (Union, types.UnionType):
        return "(" + "|".join(_js(a) for a in args) + ")"
    if hint is type(None):
        return "null"
    if origin is list:
        return f"Array<{_js(args[0])}>"
    if origin is tuple:
        return "[" + ", ".join(_js(a) for a in args) + "]"
    if origin is dict:
        return f"Object<string, {_js(args[1])}>"
    return str({bool: "boolean", float: "number", int: "number", str: "string"}[hint])


def _typedef(kind: type) -> str:
    fields = []
    for key, hint in _hints(kind).items():
        optional = typing.get_origin(hint) is NotRequired
        hint = typing.get_args(hint)[0] if optional else hint
        fields.append(f"{key}{'?' if optional else ''}: {_js(hint)}")
    doc = (kind.__doc__ or "").strip().replace("\n", " ")
    doc = " ".join(doc.split())
    lines = ["/**"]
    if doc and not doc.startswith(kind.__name__ + "("):
        lines.append(f" * {doc}")
    lines.append(f" * @typedef {{{{{', '.join(fields)}}}}} {kind.__name__}")
    lines.append(" */")
    return "\n".join(lines)


def jsdoc() -> str:
    """static/tracker/protocol.js: the typedefs and codes of this module, for the page's code and `tsc`."""
    kinds: list[type] = list(dict.fromkeys([PageStart, EmbedRuntime, BuildRuntime, Runtime, Signals, SnapshotRuntime,
                                            *FACTS.values(), *TO_WORKER.values(), Request, SendRequest, HoldRequest,
                                            *TO_PAGE.values(), Record]))
    out = ["// Generated by `python -m tracker protocol-js --write` from tracker/core/protocol.py (the one definition",
           "// of the messages between the page and the worker, docs/design.md §6): do not edit; a test keeps it",
           "// in step.",
           "", *(_typedef(k) for k in kinds), "",
           f"/** @typedef {{{' | '.join(sorted({k.__name__ for k in FACTS.values()}))}}} Fact */",
           f"/** @typedef {{{' | '.join(k.__name__ for k in TO_WORKER.values())}}} ToWorker */",
           f"/** @typedef {{{' | '.join(k.__name__ for k in TO_PAGE.values())}}} ToPage */",
           "/** @typedef {[number, number | null, string | null]} Answer */",
           "", "// `ans` status codes besides HTTP statuses and null (a network failure).",
           *(f"export const {name} = {value};" for name, value in CODES.items()), ""]
    return "\n".join(out)

