"""The events explorer's recommendation funnel: of the sections served, how many were rendered, viewable
(viewed), clicked and added to cart, per store (classic pages, the headless app), per section and per request.

A *serve* is one section of one request: what a store page rendered from `recommend()` or what the sections
stand-in answered, recorded when it was served (`store_db.Serve`). Section events name their serve by
`requestId` and `section` (Glood's `customData.track`; Genlook's `request_id` and `section_id`). Each stage
counts the serves with at least one such event; events naming no recorded serve are counted apart
(`unmatched`), so the funnel never rises past what was served. Whatever the database holds, the answer is
built: ids are read as text, clipped, and the JSON stays within FUNNEL_MAX_BYTES.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .api import Rejection, json_error, whole_number
from .pages import _page
from .settings import app_state
from .store_db import DESTINATIONS, Database, Serve
from .templating import macro

__all__ = ["STAGES", "STAGE_LABELS", "STORES", "EVENT_STAGES", "MAX_TEXT", "MAX_SECTION_ROWS", "DEFAULT_REQUESTS",
           "MAX_REQUESTS", "FUNNEL_MAX_BYTES", "store_of", "funnel", "funnel_bytes", "funnel_svg", "funnel_routes"]

STAGES: tuple[str, ...] = ("served", "rendered", "viewed", "clicked", "added_to_cart")
STAGE_LABELS = {"served": "Served", "rendered": "Rendered", "viewed": "Viewable", "clicked": "Clicked",
                "added_to_cart": "Added to cart"}
#: The stores a serve or an event belongs to, by its page's path: `/headless/...` is the headless app.
STORES: tuple[str, ...] = ("classic", "headless")
STORE_TITLES = {"classic": "Classic store", "headless": "Headless store (/headless/)"}
HEADLESS_PATH = "/headless"
#: The stage each section event marks, per destination.
EVENT_STAGES: dict[str, dict[str, str]] = {
    "glood": {"glood:section:render": "rendered", "glood:section:view": "viewed",
              "glood:section:click": "clicked", "glood:section:add_to_cart": "added_to_cart"},
    "genlook": {"section:render": "rendered", "section:view": "viewed", "section:click": "clicked",
                "section:add_to_cart": "added_to_cart"},
}
#: Longest id or URL shown (characters); per store at most MAX_SECTION_ROWS sections are listed.
MAX_TEXT = 200
MAX_SECTION_ROWS = 100
DEFAULT_REQUESTS = 50
MAX_REQUESTS = 200
#: The JSON answer's bound in bytes: requests past it are left out (and counted).
FUNNEL_MAX_BYTES = 1024 * 1024
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def store_of(url: Any) -> str:
    """"headless" when the page's path is /headless or under it, else "classic" (also for no URL)."""
    if not isinstance(url, str):
        return "classic"
    try:
        path = urlsplit(url).path
    except ValueError:
        return "classic"
    return "headless" if path == HEADLESS_PATH or path.startswith(HEADLESS_PATH + "/") else "classic"


def _text(value: Any) -> str | None:
    """A stored id as text (numbers as written, booleans as JSON), clipped to MAX_TEXT; None for none or ""."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        text = str(value)
    text = _SURROGATE.sub("\ufffd", text)[:MAX_TEXT]
    return text or None


def _rates(counts: Mapping[str, int]) -> dict[str, float | None]:
    served = counts["served"]
    return {stage: (round(counts[stage] / served, 4) if served else None) for stage in STAGES}


@dataclass
class _Unit:
    """One serve and the section events that name it (per stage)."""

    serve: Serve
    store: str
    events: Counter[str] = field(default_factory=Counter)


def _tally(units: Iterable[_Unit]) -> tuple[dict[str, int], dict[str, int]]:
    """(serves reaching each stage, section events per stage) of `units`."""
    counts = dict.fromkeys(STAGES, 0)
    events = dict.fromkeys(STAGES[1:], 0)
    for unit in units:
        counts["served"] += 1
        for stage in STAGES[1:]:
            counts[stage] += unit.events[stage] > 0
            events[stage] += unit.events[stage]
    return counts, events


def _section_rows(units: list[_Unit], unmatched: Counter[str]) -> tuple[list[dict[str, Any]], int]:
    by_section: dict[str, list[_Unit]] = {}
    for unit in units:
        by_section.setdefault(unit.serve.section_id, []).append(unit)
    names = set(by_section) | set(unmatched)
    order = sorted(names, key=lambda s: (-len(by_section.get(s, ())), -unmatched[s], s))
    rows = []
    for section in order[:MAX_SECTION_ROWS]:
        members = by_section.get(section, [])
        counts, events = _tally(members)
        kinds = [u.serve.recommendation_type for u in members if u.serve.recommendation_type]
        rows.append({"section": _text(section), "recommendation_type": _text(kinds[-1]) if kinds else None,
                     "counts": counts, "rates": _rates(counts), "events": events, "unmatched": unmatched[section]})
    return rows, max(0, len(order) - MAX_SECTION_ROWS)


def _request_row(request_id: str, members: list[_Unit]) -> dict[str, Any]:
    first = members[0].serve
    counts, events = _tally(members)
    return {"request_id": _text(request_id), "store": members[0].store, "source": _text(first.source),
            "page_type": _text(first.page_type), "page_url": _text(first.page_url), "served_at": _text(first.served_at),
            "counts": counts, "rates": _rates(counts), "events": events,
            "sections": [{"section": _text(u.serve.section_id),
                          "recommendation_type": _text(u.serve.recommendation_type),
                          "products": u.serve.products,
                          "events": {stage: u.events[stage] for stage in STAGES[1:]}} for u in members]}


def funnel(db: Database, destination: str = "glood", *, store: str | None = None,
           limit: int = DEFAULT_REQUESTS) -> dict[str, Any]:
    """The funnel of what `destination` received: per store its totals and sections, and the newest `limit`
    requests (of `store` only, when given)."""
    stages_of = EVENT_STAGES[destination]
    units: dict[tuple[str, str], _Unit] = {}
    for serve in db.serves():
        key = (_text(serve.request_id) or "", _text(serve.section_id) or "")
        units.setdefault(key, _Unit(serve, store_of(serve.page_url)))
    unmatched: dict[str, Counter[str]] = {s: Counter() for s in STORES}
    unmatched_sections: dict[str, Counter[str]] = {s: Counter() for s in STORES}
    for event in db.section_events(destination, stages_of):
        stage = stages_of[event.name]
        section, request_id = _text(event.section), _text(event.request_id)
        unit = units.get((request_id, section)) if section and request_id else None
        if unit is not None:
            unit.events[stage] += 1
            continue
        where = store_of(event.page_url)
        unmatched[where][stage] += 1
        if section:
            unmatched_sections[where][section] += 1
    stores = []
    for name in STORES if store is None else (store,):
        members = [u for u in units.values() if u.store == name]
        counts, events = _tally(members)
        sections, omitted = _section_rows(members, unmatched_sections[name])
        stores.append({"store": name, "counts": counts, "rates": _rates(counts), "events": events,
                       "unmatched": {stage: unmatched[name][stage] for stage in STAGES[1:]},
                       "sections": sections, "sections_omitted": omitted})
    by_request: dict[str, list[_Unit]] = {}
    for (request_id, _section), unit in units.items():
        if store is None or unit.store == store:
            by_request.setdefault(request_id, []).append(unit)
    newest = list(reversed(by_request.items()))
    requests = [_request_row(request_id, members) for request_id, members in newest[:limit]]
    return {"destination": destination, "stages": list(STAGES), "stores": stores, "requests": requests,
            "requests_total": len(newest), "requests_omitted": len(newest) - len(requests)}


def funnel_bytes(data: dict[str, Any], max_bytes: int = FUNNEL_MAX_BYTES) -> bytes:
    """`data` (see `funnel`) as compact JSON of at most `max_bytes`: the requests that do not fit are left out,
    newest kept, and counted in `requests_omitted`."""

    def encode(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    requests = [encode(r) for r in data["requests"]]
    head = {k: v for k, v in data.items() if k not in ("requests", "requests_omitted")}
    base = encode(head)
    kept: list[bytes] = []
    used = len(base) + len(',"requests":[],"requests_omitted":') + 12
    for item in requests:
        if used + len(item) + 1 > max_bytes:
            break
        kept.append(item)
        used += len(item) + 1
    omitted = data["requests_omitted"] + len(requests) - len(kept)
    return base[:-1] + b',"requests":[' + b",".join(kept) + b'],"requests_omitted":' + str(omitted).encode() + b"}"


# -- the chart --------------------------------------------------------------------------------------------

def _percent(rate: float | None) -> str:
    """A rate as a whole percentage ("42%"), "" when there is none."""
    return "" if rate is None else f"{rate * 100:.0f}%"


def funnel_svg(counts: Mapping[str, int], *, title: str, width: int = 420, bar_height: int = 16,
               gap: int = 5, label_width: int = 96, value_width: int = 96) -> Markup:
    """A horizontal bar chart of the stages (bars to scale with the largest count; each labelled with its count
    and its share of what was served), as standalone SVG markup (templates/macros.html's `funnel_chart`)."""
    top = max([1, *(int(counts.get(stage, 0)) for stage in STAGES)])
    served = int(counts.get("served", 0))
    area = max(1, width - label_width - value_width)
    bars = []
    for index, stage in enumerate(STAGES):
        value = int(counts.get(stage, 0))
        y = index * (bar_height + gap)
        bar = round(area * value / top, 1)
        share = _percent(value / served if served else None)
        bars.append({"stage": stage, "label": STAGE_LABELS[stage], "value": value, "y": y, "width": bar,
                     "baseline": y + round(bar_height * 0.75, 1), "value_x": round(label_width + bar + 6, 1),
                     "share": f" · {share}" if share else ""})
    chart = {"title": title, "width": width, "height": len(STAGES) * (bar_height + gap) - gap,
             "font_size": max(9, round(bar_height * 0.7)), "label_width": label_width, "bar_height": bar_height,
             "bars": bars}
    return macro("funnel_chart", chart)


# -- routes -----------------------------------------------------------------------------------------------

def _params(request: Request) -> tuple[str, str | None, int]:
    """(destination, store or None, limit) from the query; Rejection(400) naming a bad one."""
    query = request.query_params
    destination = query.get("destination") or "glood"
    if destination not in DESTINATIONS:
        raise Rejection(400, f"destination: must be one of {', '.join(DESTINATIONS)}")
    store = query.get("store") or None
    if store is not None and store not in STORES:
        raise Rejection(400, f"store: must be one of {', '.join(STORES)}")
    text = query.get("limit") or str(DEFAULT_REQUESTS)
    limit = whole_number(text)
    if limit is None or not 1 <= limit <= MAX_REQUESTS:
        raise Rejection(400, f"limit: must be an integer from 1 to {MAX_REQUESTS}")
    return destination, store, limit


async def funnel_json(request: Request) -> Response:
    """`GET /_collector/funnel.json?destination=glood|genlook&store=classic|headless&limit=` (see `funnel`)."""
    try:
        destination, store, limit = _params(request)
    except Rejection as exc:
        return json_error(exc.status, exc.message)
    data = funnel(app_state(request).db, destination, store=store, limit=limit)
    return Response(funnel_bytes(data), media_type="application/json", headers={"Cache-Control": "no-store"})


def _short_url(url: str | None) -> str:
    """A page URL as the requests table shows it: its path and query (the URL as it is when it has no path)."""
    where = url or ""
    try:
        split = urlsplit(where)
    except ValueError:
        return where
    return split.path + (f"?{split.query}" if split.query else "") if split.path else where


async def funnel_page(request: Request) -> Response:
    """The funnel as a page: per store a chart of every section and one per section, then the newest requests.
    Bad query values fall back to the defaults (the JSON form refuses them)."""
    try:
        destination, store, limit = _params(request)
    except Rejection:
        destination, store, limit = "glood", None, DEFAULT_REQUESTS
    data = funnel(app_state(request).db, destination, store=store, limit=limit)
    return _page(request, "funnel.html", title="Recommendation funnel", context={"page_type": "other"},
                 tracked=False, data=data, destination=destination, destinations=DESTINATIONS, stages=STAGES,
                 labels=STAGE_LABELS, store_titles=STORE_TITLES, chart=funnel_svg, percent=_percent,
                 short_url=_short_url)


def funnel_routes() -> list[Route]:
    return [Route("/_collector/funnel", funnel_page), Route("/_collector/funnel.json", funnel_json)]
