"""DOM facts recorded by the main-thread sensor, judged into events: renders, MRC views, clicks, cart changes.

The sensor only records what happened and when (epoch milliseconds); everything that decides is here, in
pure Python, so facts that arrive before Python is up (or are replayed by the next page) are judged exactly
as live ones. Event ids are derived from the pageview id and the fact, so judging the same facts twice
gives the same ids (the collectors store an id once). The message contract is in docs/design.md §6.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .cart import (
    CartChange,
    CartMove,
    CartState,
    cart_action,
    cart_line_data,
    judge_answer,
    judge_post,
    parse_body,
    removed_line,
)
from .events import PAGE_TYPES, PageContext, ProductRef, SectionTrack
from .viewability import Viewability

__all__ = ["PageBoot", "PageData", "Emit", "PageJudge", "visible_share", "section_from_dataset", "stable_id",
           "FactError", "PAGE_EVENTS", "is_new_pageview", "PAGE_DATA_GRACE_MS"]

#: The follow-up standard event of a page type, and the page context key its data comes from.
PAGE_EVENTS = {"product": ("product_viewed", "product"), "collection": ("collection_viewed", "collection"),
               "cart": ("cart_viewed", "cart")}
_NAMESPACE = uuid.UUID("5f0c8f43-6a7e-4d1e-9a55-8f1f4b1c2d3e")
#: After a client-side navigation the page events wait this long for the app's new page data (a replaced
#: `#glood-page` tag or `gloodTracker.page(...)`), then go with what is known.
PAGE_DATA_GRACE_MS = 500


def is_new_pageview(current_url: str, new_url: str) -> bool:
    """A client-side URL change is a new page view unless only the fragment changed (or nothing did)."""
    return new_url.split("#", 1)[0] != current_url.split("#", 1)[0]


class FactError(ValueError):
    """A fact that does not have the shape of the contract."""


def stable_id(pageview_id: str, what: str) -> str:
    """The event id of `what` on one pageview: the same every time it is judged."""
    return str(uuid.uuid5(_NAMESPACE, f"{pageview_id}/{what}"))


def visible_share(visible_area: float, element_area: float, root_area: float | None) -> float:
    """Visible share of a section: of the element, or of the viewport when the element is larger than it."""
    area = element_area
    if root_area is not None and root_area > 0:
        area = min(element_area, root_area)
    if area <= 0:
        return 0.0
    return min(1.0, max(0.0, float(visible_area) / area))


@dataclass(frozen=True)
class PageData:
    """What the storefront's `#glood-page` tag says about the page."""

    page_type: str
    raw: dict[str, Any]

    @classmethod
    def parse(cls, text: str | None) -> tuple[PageData, str | None]:
        """(page data, problem): invalid JSON or a non-object is reported and read as an 'other' page."""
        raw: Any = {}
        problem = None
        if text and text.strip():
            try:
                raw = json.loads(text)
            except ValueError as exc:
                raw, problem = {}, f"#glood-page is not valid JSON: {exc}"
            if not isinstance(raw, dict):
                raw, problem = {}, "#glood-page must hold a JSON object"
        page_type = raw.get("page_type")
        return cls(page_type if page_type in PAGE_TYPES else "other", raw), problem

    def get(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key)
        return value if isinstance(value, dict) else {}


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


@dataclass(frozen=True)
class PageBoot:
    """What the sensor knows of its page: ids, time origin, URL and viewport, and the page's own JSON."""

    page_id: str
    pageview_id: str
    t0: float
    url: str = ""
    referrer: str = ""
    title: str = ""
    viewport_width: int | None = None
    viewport_height: int | None = None
    user_agent: str | None = None
    visible: bool = True
    page_json: str | None = None

    @classmethod
    def from_message(cls, raw: Mapping[str, Any]) -> PageBoot:
        """From the sensor's boot record (docs/design.md §6); FactError when it is not one."""
        try:
            page_id, pageview_id, t0 = raw["page"], raw["pv"], raw["t0"]
        except (KeyError, TypeError):
            raise FactError("boot record needs page, pv and t0") from None
        if not (isinstance(page_id, str) and page_id and isinstance(pageview_id, str) and pageview_id
                and isinstance(t0, (int, float)) and not isinstance(t0, bool)):
            raise FactError("boot record: page and pv must be strings, t0 a number")

        def text(key: str) -> str:
            value = raw.get(key)
            return value if isinstance(value, str) else ""

        def size(key: str) -> int | None:
            value = raw.get(key)
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        page_json = raw.get("pd")
        return cls(page_id, pageview_id, float(t0), text("url"), text("ref"), text("title"), size("vw"),
                   size("vh"), text("ua") or None, raw.get("vis") is not False,
                   page_json if isinstance(page_json, str) else None)


@dataclass(frozen=True)
class Emit:
    """An event the facts call for: its name, data, time and stable id."""

    name: str
    data: dict[str, Any]
    custom: dict[str, Any]
    timestamp_ms: int
    id: str


@dataclass
class _Section:
    track: SectionTrack
    rendered: bool = False


@dataclass
class PageJudge:
    """Judges one page's facts, in order, into events. `snapshot()` / `restore` carry its state across pages."""

    boot: PageBoot
    ratio: float = 0.5
    duration_ms: float = 1000.0
    pageview_id: str = ""
    started: bool = False
    problems: list[str] = field(default_factory=list)
    #: Set by a client-side navigation: when its page events started waiting for the app's page data.
    pending_since: float | None = None
    #: While pending: events judged meanwhile, and the sections of the old route not yet seen leaving.
    held: list[Emit] = field(default_factory=list)
    survivors: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pageview_id = self.pageview_id or self.boot.pageview_id
        self.data, problem = PageData.parse(self.boot.page_json)
        if problem:
            self.problems.append(problem)
        self.sections: dict[int, _Section] = {}
        self.viewability: Viewability[int] = Viewability(self.ratio, self.duration_ms, self.boot.visible)
        self.page = self._context()
        #: The cart as last known: the page context's, then each AJAX Cart API answer's.
        self.cart = CartState.from_context(self.data.raw.get("cart"))

    def _context(self) -> PageContext:
        product = self.data.get("product")
        customer = self.data.get("customer")
        return PageContext(
            url=self.boot.url, page_type=self.data.page_type, pageview_id=self.pageview_id,
            product_id=_opt_str(product.get("id")), variant_id=_opt_str(product.get("variant_id")),
            viewport_width=self.boot.viewport_width, viewport_height=self.boot.viewport_height,
            user_agent=self.boot.user_agent, customer_id=_opt_str(customer.get("id")))

    # -- the page itself ------------------------------------------------------------------

    def start(self) -> list[Emit]:
        """page_viewed (and product/collection/cart_viewed) at the page's time origin, once per pageview."""
        if self.started:
            return []
        self.started = True
        ts = int(self.boot.t0)
        out = [self._emit("page_viewed", {"page_type": self.page.page_type, "url": self.boot.url,
                                          "title": self.boot.title, "referrer": self.boot.referrer},
                          {}, ts, "page_viewed")]
        follow = PAGE_EVENTS.get(self.page.page_type)
        if follow is not None:
            name, key = follow
            out.append(self._emit(name, {key: self.data.get(key)}, {}, ts, name))
        return out

    def _emit(self, name: str, data: dict[str, Any], custom: dict[str, Any], ts: float, what: str) -> Emit:
        return Emit(name, data, custom, int(ts), stable_id(self.pageview_id, what))

    # -- facts -----------------------------------------------------------------------------

    def apply(self, fact: Mapping[str, Any]) -> list[Emit]:
        """Judge one fact (views that fell due before it come first); FactError for a malformed one."""
        kind, seq, ts = fact.get("k"), fact.get("s"), fact.get("t")
        if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(ts, (int, float)) \
                or isinstance(ts, bool):
            raise FactError(f"fact needs an integer s and a numeric t: {dict(fact)!r}"[:300])
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise FactError(f"unknown fact kind {kind!r}")
        out = self.due(ts)
        out.extend(handler(self, fact, seq, float(ts)))
        return self._hold_while_pending(out)

    def _hold_while_pending(self, emits: list[Emit]) -> list[Emit]:
        """After a client-side navigation, until the route's page data is known, events wait (so that they
        carry the new route's page type); they go, in order, right after the page events."""
        if self.pending_since is None:
            return emits
        self.held.extend(emits)
        return []

    def due(self, now_ms: float) -> list[Emit]:
        """Page events that waited long enough for page data, and views that met the rule by `now_ms`,
        stamped with the moment they did."""
        out = []
        if self.pending_since is not None and now_ms >= self.pending_since + PAGE_DATA_GRACE_MS:
            out += self._release()
        views = []
        for key in self.viewability.due(now_ms):
            section = self.sections.get(key)
            moment = self.viewability.met_at(key)
            if section is not None:
                views.append(self._emit("glood:section:view", {}, {"track": section.track.to_json()},
                                        moment if moment is not None else now_ms, f"{key}/view"))
        return out + self._hold_while_pending(views)

    def _release(self) -> list[Emit]:
        """The navigation's page events, renders of the sections that outlived the old route (those removed
        meanwhile are not rendered again), then what waited."""
        self.pending_since = None
        survivors = [key for key in self.survivors if key in self.sections]
        out = self.start() + self._renders(survivors, self.boot.t0) + self.held
        self.held, self.survivors = [], []
        return out

    def _renders(self, keys: list[int], ts: float) -> list[Emit]:
        return [self._emit("glood:section:render", {}, {"track": self.sections[key].track.to_json()}, ts,
                           f"{key}/render") for key in keys]

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self.viewability.next_deadline(),
                                 None if self.pending_since is None else self.pending_since + PAGE_DATA_GRACE_MS)
                     if d is not None]
        return min(deadlines) if deadlines else None

    def _section_fact(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        key = _key(fact)
        track = section_from_dataset(fact.get("a"), fact.get("p"))
        if key in self.sections:
            return []
        self.sections[key] = _Section(track, rendered=True)
        return [self._emit("glood:section:render", {}, {"track": track.to_json()}, ts, f"{key}/render")]

    def _gone(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        key = _key(fact)
        self.sections.pop(key, None)
        self.viewability.forget(key)
        return []

    def _intersection(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        key = _key(fact)
        areas = fact.get("r")
        if not (isinstance(areas, list) and len(areas) == 3
                and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in areas)):
            raise FactError("io fact needs r = [visible area, element area, root area]")
        if key in self.sections:
            self.viewability.update(key, visible_share(areas[0], areas[1], areas[2]), ts)
        return []

    def _visibility(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        self.viewability.set_page_visible(fact.get("v") is True, ts)
        return []

    def _click(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        section = self.sections.get(_key(fact))
        product = _product(fact.get("p"))
        if section is None or product is None:
            return []
        track = section.track.with_products((product,))
        return [self._emit("glood:section:click", {}, {"track": track.to_json()}, ts, f"{seq}/click")]

    def _cart_add(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        variant = _opt_str(fact.get("v"))
        quantity = _quantity(fact.get("q"))
        product = _product(fact.get("p"))
        section = self.sections.get(_key(fact)) if fact.get("i") else None
        out = []
        if section is not None and product is not None:
            acted = ProductRef(product.product_id, variant or product.variant_id, quantity)
            out.append(self._emit("glood:section:add_to_cart", {},
                                  {"track": section.track.with_products((acted,)).to_json()}, ts, f"{seq}/section_add"))
        out.append(self._emit("product_added_to_cart", {"cartLine": {
            "merchandise": {"id": variant, "product": {"id": product.product_id if product else None}},
            "quantity": quantity}}, {}, ts, f"{seq}/cart_add"))
        return out

    def _cart_change(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        change = CartChange(line=_opt_str(fact.get("l")), variant_id=_opt_str(fact.get("v")),
                            quantity=_opt_str(fact.get("q")))
        removed = removed_line(self.data.get("cart"), change)
        if removed is None:
            return []
        return [self._emit("product_removed_from_cart", removed, {}, ts, f"{seq}/cart_remove")]

    def _ajax(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        """A `fetch` or XHR to the AJAX Cart API and its answer: the cart's moves when the store took it (2xx)."""
        url = fact.get("u")
        action = cart_action(url) if isinstance(url, str) else None
        if action is None:
            return []
        moves = judge_answer(self.cart, action, parse_body(fact.get("b")), fact.get("st"), fact.get("r"))
        key = fact.get("i")
        section = self.sections.get(key) if isinstance(key, int) and not isinstance(key, bool) and key else None
        return self._cart_moves(moves, section.track if section else None, _product(fact.get("p")), seq, ts)

    def _post(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        """A cart form post the previous page made (it left with it), judged here: what changed between that page's
        cart (`pd`) and this one's. This page being the post's own answer (a refusal page) is nothing."""
        url = fact.get("u")
        action = cart_action(url) if isinstance(url, str) else None
        if action is None or cart_action(self.boot.url) is not None:
            return []
        before, _problem = PageData.parse(fact.get("pd") if isinstance(fact.get("pd"), str) else None)
        moves = judge_post(action, parse_body(fact.get("b")), before.raw.get("cart"), self.data.raw.get("cart"))
        attrs = fact.get("a")
        track = section_from_dataset(attrs, []) if isinstance(attrs, dict) and attrs.get("gloodSection") else None
        return self._cart_moves(moves, track, _product(fact.get("p")), seq, ts)

    def _cart_moves(self, moves: list[CartMove], track: SectionTrack | None, product: ProductRef | None, seq: int,
                    ts: float) -> list[Emit]:
        """product_added_to_cart / product_removed_from_cart per move (and a section's add to cart when the add
        came from inside a section)."""
        out = []
        for index, move in enumerate(moves):
            what = f"{seq}/{index}/cart_{move.kind}"
            if move.kind == "add" and track is not None:
                acted = ProductRef(move.line.product_id or (product.product_id if product else ""),
                                   move.line.variant_id, move.quantity)
                out.append(self._emit("glood:section:add_to_cart", {},
                                      {"track": track.with_products((acted,)).to_json()}, ts, f"{what}/section"))
            name = "product_added_to_cart" if move.kind == "add" else "product_removed_from_cart"
            out.append(self._emit(name, cart_line_data(move.line, move.quantity), {}, ts, what))
        return out

    def _restored(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        """The page came back from the back/forward cache: a new pageview, its sections rendered again."""
        pageview_id = fact.get("pv")
        if not isinstance(pageview_id, str) or not pageview_id:
            raise FactError("show fact needs pv")
        return self._new_pageview(pageview_id, ts)

    def _url(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        """A client-side URL change (History or Navigation API): a new pageview unless only the hash changed.
        Its page events wait up to PAGE_DATA_GRACE_MS for the app's page data."""
        url = fact.get("url")
        if not isinstance(url, str):
            raise FactError("url fact needs url")
        if not is_new_pageview(self.boot.url, url):
            return []
        title = fact.get("title")
        self.boot = PageBoot(**{**self.boot.__dict__, "url": url, "referrer": self.boot.url,
                                "title": title if isinstance(title, str) else ""})
        page_json = fact.get("pd")
        if isinstance(page_json, str):
            self._take_page_data(page_json, route=True)
        out = self._new_pageview(stable_id(self.pageview_id, f"{seq}/pageview"), ts, wait=True)
        return out

    def _page_data(self, fact: Mapping[str, Any], seq: int, ts: float) -> list[Emit]:
        """The app's page data changed (a new `#glood-page` or `gloodTracker.page(...)`): later events use it;
        page events waiting after a navigation go now."""
        page_json = fact.get("pd")
        if page_json is not None and not isinstance(page_json, str):
            raise FactError("pd fact needs pd text")
        self._take_page_data(page_json, route=self.pending_since is not None)
        return [] if self.pending_since is None else self._release()

    def _take_page_data(self, page_json: str | None, *, route: bool) -> None:
        """New page data. Its cart replaces the one the judge knows for a new route (a client-side navigation's data),
        or when none was known; an update in place (an app redrawing its cart after an AJAX call) does not: it may
        be recorded before the call's own answer, which must still be compared with the cart before it."""
        self.data, problem = PageData.parse(page_json)
        if problem:
            self.problems.append(problem)
        self.page = self._context()
        if "cart" in self.data.raw and (route or not self.cart.known):
            self.cart = CartState.from_context(self.data.raw["cart"])

    def _new_pageview(self, pageview_id: str, ts: float, *, wait: bool = False) -> list[Emit]:
        """A new page view of the same document: new ids, page events (now, or once page data came), the
        sections still there rendered again and their views re-armed."""
        self.pageview_id = pageview_id
        self.boot = PageBoot(**{**self.boot.__dict__, "t0": ts, "pageview_id": pageview_id})
        self.page = self._context()
        self.started = False
        self.viewability = Viewability(self.ratio, self.duration_ms, self.viewability.page_visible)
        if wait:
            self.pending_since = ts
            self.held, self.survivors = [], list(self.sections)
            return []
        self.pending_since = None
        return self.start() + self._renders(list(self.sections), ts)

    # -- state across pages ------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The judge's state as JSON, for the sensor to keep with unjudged facts (docs/design.md §6)."""
        return {"pv": self.pageview_id, "started": self.started, "pending": self.pending_since, "t0": self.boot.t0,
                "held": [e.__dict__ for e in self.held], "survivors": list(self.survivors),
                "url": self.boot.url, "ref": self.boot.referrer, "title": self.boot.title,
                "pd": json.dumps(self.data.raw),
                "sections": [[k, _track_json(s.track)] for k, s in self.sections.items()],
                "view": self.viewability.snapshot(), "cart": self.cart.snapshot()}

    @classmethod
    def restore(cls, boot: PageBoot, state: Any, *, ratio: float, duration_ms: float) -> PageJudge:
        """A judge in the state `snapshot()` described (a fresh one when `state` is not such a record)."""
        judge = cls(boot, ratio, duration_ms)
        if not isinstance(state, dict):
            return judge
        pageview_id = state.get("pv")
        if isinstance(pageview_id, str) and pageview_id:
            judge.pageview_id = pageview_id
        # Where the page was when the state was taken (a client-side navigation may have moved it).
        moved = {field: state[key] for key, field, kind in (("t0", "t0", (int, float)), ("url", "url", str),
                                                          ("ref", "referrer", str), ("title", "title", str))
                 if isinstance(state.get(key), kind) and not isinstance(state.get(key), bool)}
        judge.boot = PageBoot(**{**boot.__dict__, **moved, "pageview_id": judge.pageview_id})
        if isinstance(state.get("pd"), str):
            judge.data, _ = PageData.parse(state["pd"])
        judge.page = judge._context()
        judge.started = state.get("started") is True
        pending = state.get("pending")
        judge.pending_since = float(pending) if isinstance(pending, (int, float)) and not isinstance(pending, bool) \
            else None
        for item in state.get("sections") or []:
            try:
                key, raw = item
                judge.sections[int(key)] = _Section(_track_from_json(raw), rendered=True)
            except (TypeError, ValueError, KeyError):
                judge.problems.append("a stored section could not be read")
        judge.viewability.restore(state.get("view"))
        judge.cart = CartState.restore(state.get("cart")) or CartState.from_context(judge.data.raw.get("cart"))
        try:
            judge.held = [Emit(**item) for item in state.get("held") or []]
            judge.survivors = [int(k) for k in state.get("survivors") or []]
        except (TypeError, ValueError):
            judge.problems.append("stored waiting events could not be read")
        return judge


_HANDLERS = {
    "sec": PageJudge._section_fact, "gone": PageJudge._gone, "io": PageJudge._intersection,
    "vis": PageJudge._visibility, "click": PageJudge._click, "add": PageJudge._cart_add,
    "chg": PageJudge._cart_change, "ajax": PageJudge._ajax, "post": PageJudge._post,
    "show": PageJudge._restored, "url": PageJudge._url, "pd": PageJudge._page_data,
}


def _key(fact: Mapping[str, Any]) -> int:
    key = fact.get("i")
    if not isinstance(key, int) or isinstance(key, bool):
        raise FactError(f"{fact.get('k')} fact needs an integer section key i")
    return key


def _product(raw: Any) -> ProductRef | None:
    if not isinstance(raw, list) or not raw or _opt_str(raw[0]) is None:
        return None
    return ProductRef(str(raw[0]), _opt_str(raw[1]) if len(raw) > 1 else None)


def _quantity(raw: Any) -> int:
    try:
        return max(1, int(str(raw).strip())) if raw is not None else 1
    except ValueError:
        return 1


def section_from_dataset(dataset: Any, products: Any) -> SectionTrack:
    """`customData.track` of a section from its `data-glood-*` attributes (as `el.dataset` names them)."""
    attrs = dataset if isinstance(dataset, dict) else {}

    def attr(name: str) -> str | None:
        return _opt_str(attrs.get(name))

    parent_id = attr("gloodParentProductId")
    refs = tuple(p for p in (_product(item) for item in (products if isinstance(products, list) else []))
                 if p is not None)
    return SectionTrack(
        section=attr("gloodSection") or "",
        section_serve_id=attr("gloodServeId"),
        request_id=attr("gloodRequestId"),
        recommendation_type=attr("gloodRecommendationType"),
        page=attr("gloodPage"),
        parent=ProductRef(parent_id, attr("gloodParentVariantId")) if parent_id else None,
        products=refs,
    )


def _track_json(track: SectionTrack) -> dict[str, Any]:
    return {"section": track.section, "serve": track.section_serve_id, "request": track.request_id,
            "type": track.recommendation_type, "page": track.page,
            "parent": [track.parent.product_id, track.parent.variant_id] if track.parent else None,
            "products": [[p.product_id, p.variant_id] for p in track.products]}


def _track_from_json(raw: Any) -> SectionTrack:
    if not isinstance(raw, dict) or not isinstance(raw.get("section"), str):
        raise ValueError("not a stored section")
    parent = _product(raw.get("parent"))
    products = tuple(p for p in (_product(i) for i in raw.get("products") or []) if p is not None)
    return SectionTrack(raw["section"], _opt_str(raw.get("serve")), _opt_str(raw.get("request")),
                        _opt_str(raw.get("type")), _opt_str(raw.get("page")), parent, products)
