"""The ingestion APIs the tracker delivers to, one `Destination` each: all the pipeline knows of an API.

A destination says where its requests go (URL, headers), when its events may leave (its rule for the visit id
from Glood's init), and how queued events become request bodies in its wire format within its batch limits.
`Pipeline` runs one loop over its destinations (`DEFAULT_DESTINATIONS`); adding an API is adding one
`Destination` here (wire formats: docs/design.md §4; CONTRIBUTING.md, "Adding a destination").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from .batching import Body, genlook_bodies, glood_bodies
from .config import Config
from .encoders import genlook_context, genlook_item, glood_body
from .events import Event
from .session import Identity

__all__ = ["Destination", "VisitRule", "Target", "Stamped", "Headers", "GLOOD", "GENLOOK", "DEFAULT_DESTINATIONS",
           "fetch_headers", "glood_headers"]

#: HTTP headers of a request, in order; none means a beacon can carry it.
Headers = tuple[tuple[str, str], ...]
#: A queued event and what it goes under: the visit id (None: no visit) and the visitor's anonymous ids.
Stamped = tuple[Event, str | None, Identity]


class VisitRule(Enum):
    """How a destination waits for the visit id from Glood's init."""

    #: Never sent without a visit id (Glood: `session_id` is required).
    REQUIRED = "required"
    #: Waits for a visit id, so that one event carries the same session everywhere, unless init keeps failing:
    #: then it goes without one (Genlook, without `$session_id`).
    PREFERRED = "preferred"


@dataclass(frozen=True)
class Target:
    """What every body of one destination shares in one flush: whose it is, where it goes, the batch limits."""

    destination: str
    url: str
    headers: Headers
    #: Most events in one body, and most bytes.
    max_events: int
    max_bytes: int


#: Stamped events to request bodies in a destination's wire format, oldest first, within the target's limits.
Encoder = Callable[[Sequence[Stamped], Config, Target], Iterator[Body]]


@dataclass(frozen=True)
class Destination:
    """One ingestion API. `name` keys its queue, retry state and stats (`sent_<name>`, `refused_<name>`, ...)
    and is the `d` of the requests the sensor sends."""

    name: str
    #: The events endpoint, from the merchant's config.
    url: Callable[[Config], str]
    visit: VisitRule
    #: The request headers, from the config and the visit's token (None when init gave none).
    headers: Callable[[Config, str | None], Headers]
    encode: Encoder
    #: Most events one body may carry (at most `max_body_bytes` bytes, for every destination).
    max_events: Callable[[Config], int]

    def may_send(self, visit: bool, init_failing: bool) -> bool:
        """Whether events may leave now: `visit`, a visit id is known; `init_failing`, init keeps failing."""
        return visit or (self.visit is VisitRule.PREFERRED and init_failing)

    def target(self, config: Config, token: str | None = None) -> Target:
        """Where this destination's bodies go under `config` (and the visit's `token`), within which limits."""
        return Target(self.name, self.url(config), self.headers(config, token), self.max_events(config),
                      config.max_body_bytes)

    def bodies(self, stamped: Sequence[Stamped], config: Config, token: str | None = None) -> Iterator[Body]:
        """The request bodies for `stamped` events, oldest first. The events are encoded at once; the bodies
        are cut as they are asked for."""
        return self.encode(stamped, config, self.target(config, token))

    def size(self, event: Event, session_id: str, identity: Identity, config: Config) -> int:
        """Bytes of the request that would carry `event` alone (the pipeline refuses an event that does not fit)."""
        return sum(body.size for body in self.bodies([(event, session_id, identity)], config))


def fetch_headers(config: Config) -> Headers:
    """Headers mean a fetch (a beacon carries none): with `transport: "fetch"`, a JSON content type."""
    return (("Content-Type", "application/json"),) if config.transport == "fetch" else ()


def glood_headers(config: Config, token: str | None) -> Headers:
    """With a public token the shop authenticates: events go by fetch with the visit's token and x-shop."""
    if not config.glood_public_token:
        return fetch_headers(config)
    bearer = (("Authorization", f"Bearer {token}"),) if token else ()
    return (*bearer, ("x-shop", config.shop_domain), ("Content-Type", "application/json"))


def _glood_encode(stamped: Sequence[Stamped], config: Config, target: Target) -> Iterator[Body]:
    """Glood's `HeadlessEventsRequest`: one event a body, its visit id as `session_id`."""
    pairs = [(event.id, glood_body(event, session_id=session_id or "", identity=identity, config=config))
             for event, session_id, identity in stamped]
    return glood_bodies(pairs, url=target.url, headers=target.headers, destination=target.destination)


def _genlook_encode(stamped: Sequence[Stamped], config: Config, target: Target) -> Iterator[Body]:
    """Genlook's tracking batch: events of one page view share a body and its `context` (`$session_id`)."""
    triples = [(event.id, genlook_item(event), genlook_context(event, session_id=session_id, identity=identity))
               for event, session_id, identity in stamped]
    return genlook_bodies(triples, url=target.url, max_events=target.max_events, max_bytes=target.max_bytes,
                          headers=target.headers, destination=target.destination)


GLOOD = Destination("glood", url=lambda config: config.glood_events_url, visit=VisitRule.REQUIRED,
                    headers=glood_headers, encode=_glood_encode, max_events=lambda config: 1)
GENLOOK = Destination("genlook", url=lambda config: config.genlook_url, visit=VisitRule.PREFERRED,
                      headers=lambda config, token: fetch_headers(config), encode=_genlook_encode,
                      max_events=lambda config: config.genlook_max_events)
#: Every event is queued for each of these, in this order (round-robin within a flush).
DEFAULT_DESTINATIONS: tuple[Destination, ...] = (GLOOD, GENLOOK)
