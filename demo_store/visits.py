"""Glood's visits as the stand-ins see them: the `x-shop` header, the shop's public token, and the per-visit
tokens init issues (random, stored as a SHA-256 digest with an expiry) that authenticate a visit's events."""

from __future__ import annotations

import hmac
import secrets
import time

from starlette.requests import Request

from .api import Rejection
from .settings import AppState
from .store_db import Visit

__all__ = ["now", "new_token", "bearer_token", "require_shop", "require_public_token", "authorize_visit",
           "authorized_visit", "check_visit"]

#: Sent with every 401: the credential is a bearer token.
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def now() -> float:
    """The clock of token expiry, epoch seconds (tests replace it)."""
    return time.time()


def new_token() -> str:
    """A visit token: 256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive); None when there is no
    such header or it names another scheme."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _unauthorized(message: str) -> Rejection:
    return Rejection(401, message, _CHALLENGE)


def require_shop(request: Request, state: AppState) -> None:
    """Glood's init and sections need `x-shop`, the shop's domain: 400 when it is missing or names another shop
    (compared without case, as domains are)."""
    given = request.headers.get("x-shop", "").strip()
    if not given:
        raise Rejection(400, "x-shop: header is required (the shop's myshopify domain)")
    shop = state.settings.shop_domain
    if given.lower() != shop.lower():
        raise Rejection(400, f"x-shop: {given[:80]!r} is not this store's shop ({shop})")


def require_public_token(request: Request, state: AppState) -> None:
    """When the store has a public token, init needs it as `Authorization: Bearer <public token>` (401)."""
    expected = state.settings.glood_public_token
    if not expected:
        return
    given = bearer_token(request)
    if given is None:
        raise _unauthorized("missing bearer token (the shop's public token)")
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")):
        raise _unauthorized("invalid bearer token (not the shop's public token)")


def authorize_visit(request: Request, state: AppState) -> None:
    """When the store has a public token, Glood events need `Authorization: Bearer <visit token>`: a token init
    issued and not expired (401 otherwise, before the body is read). The visit is kept for `check_visit`."""
    request.state.visit = None
    if not state.settings.glood_public_token:
        return
    given = bearer_token(request)
    if given is None:
        raise _unauthorized("missing bearer token (the visit token from init)")
    visit = state.db.visit_by_token(given)
    if visit is None:
        raise _unauthorized("invalid bearer token (not a visit token issued by init)")
    if visit.expires_at is None or now() >= visit.expires_at:
        raise _unauthorized("visit token expired (call init for a new visit)")
    request.state.visit = visit


def authorized_visit(request: Request) -> Visit | None:
    """The visit `authorize_visit` found for this request (None when no token is required)."""
    visit: Visit | None = getattr(request.state, "visit", None)
    return visit


def check_visit(request: Request, session_id: str, shop: str) -> None:
    """An authorized event must be for the token's own visit and shop (401: the token is another visit's)."""
    visit = authorized_visit(request)
    if visit is None:
        return
    if session_id != visit.visit_id:
        raise _unauthorized("session_id: the bearer token was issued for another visit")
    if shop.lower() != visit.shop_domain.lower():
        raise _unauthorized("shop_domain: the bearer token was issued for another shop")
