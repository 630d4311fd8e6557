"""`python -m demo_store`: serve the demo store with uvicorn (configured by `serving.server_config`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from .app import Settings, create_app
from .cdn import create_cdn_app
from .live import LiveServer
from .serving import HEADER_TIMEOUT, MAX_CONNECTIONS_PER_CLIENT, connection_budget, server_config
from .settings import GENLOOK_EVENTS_PATH

__all__ = ["parse_args", "settings_from_args", "store_origins", "main"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo_store",
                                     description="The demo store with the tracker and stand-in collectors.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--db", default="var/demo.sqlite3",
                        help="SQLite file for carts and events (default: %(default)s)")
    parser.add_argument("--glood-url", default="",
                        help='Glood API base the tracker delivers to ("" = this store, the default)')
    parser.add_argument("--genlook-url", default=GENLOOK_EVENTS_PATH,
                        help="Genlook endpoint the tracker delivers to (default: %(default)s)")
    parser.add_argument("--glood-public-token", default=None, metavar="TOKEN",
                        help="a public token (rendered into every page): Glood's init then requires it as a bearer "
                             "token and Glood events require the visit token init issued (default: none, no tokens)")
    parser.add_argument("--analytics-disabled", action="store_true",
                        help="init answers config.analytics_enabled = false: the tracker sends nothing")
    parser.add_argument("--filter-bots", action="store_true",
                        help="the tracker sends nothing for automated browsers and crawlers (its filter_bots)")
    parser.add_argument("--consent-banner", action="store_true",
                        help="ask visitors for analytics consent first (a Shopify Customer Privacy API stand-in)")
    parser.add_argument("--shop-domain", default="demo-store.myshopify.com", help="shop domain (default: %(default)s)")
    parser.add_argument("--allowed-host", action="append", default=[], metavar="HOST[:PORT]",
                        help="also serve requests for this Host (besides 127.0.0.1, localhost and [::1]; "
                             "repeatable; '*' = any host)")
    parser.add_argument("--header-timeout", type=float, default=HEADER_TIMEOUT, metavar="SECONDS",
                        help="close connections whose request line and headers take longer (default: %(default)s)")
    parser.add_argument("--body-timeout", type=float, default=Settings.body_timeout, metavar="SECONDS",
                        help="answer 408 to requests whose body takes longer (default: %(default)s)")
    parser.add_argument("--max-connections", type=int, default=None, metavar="N",
                        help="connections open at once; past it the one idle longest is closed, or the new one "
                             f"answered 503 (default: {connection_budget()}, as the open-files limit allows)")
    parser.add_argument("--max-connections-per-client", type=int, default=MAX_CONNECTIONS_PER_CLIENT, metavar="N",
                        help="the same, from one client address (default: %(default)s)")
    parser.add_argument("--max-requests", type=int, default=Settings.max_requests, metavar="N",
                        help="requests running at once; others wait for a slot (default: %(default)s)")
    parser.add_argument("--max-requests-per-client", type=int, default=Settings.max_requests_per_client, metavar="N",
                        help="requests of one client address running at once (default: %(default)s)")
    parser.add_argument("--queue-timeout", type=float, default=Settings.queue_timeout, metavar="SECONDS",
                        help="how long a request waits for a slot before it is answered 503 (default: %(default)s)")
    parser.add_argument("--dist-dir", default=None, metavar="DIR",
                        help="where the tracker's build goes, served under /dist/ (default: dist/)")
    parser.add_argument("--cdn-port", type=int, default=None, metavar="PORT",
                        help="also serve the tracker's build on this port, as a CDN (another origin, CORS for this "
                             "store's origins), build it with --base-url http://HOST:PORT/ and load the tracker "
                             "from there")
    parser.add_argument("--full-stdlib", action="store_true",
                        help="ship Pyodide's standard library untrimmed (python -m tracker build --full-stdlib)")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The store's Settings from the command line."""
    return Settings(db_path=args.db, shop_domain=args.shop_domain, glood_url=args.glood_url,
                    genlook_url=args.genlook_url, glood_public_token=args.glood_public_token or None,
                    analytics_enabled=not args.analytics_disabled, consent_banner=args.consent_banner,
                    allowed_hosts=tuple(args.allowed_host),
                    tracker_overrides={"filter_bots": True} if args.filter_bots else {},
                    dist_dir=Path(args.dist_dir) if args.dist_dir else None, full_stdlib=args.full_stdlib,
                    dist_url=f"http://{_url_host(args.host)}:{args.cdn_port}/" if args.cdn_port else "",
                    body_timeout=args.body_timeout, max_requests=args.max_requests,
                    max_requests_per_client=args.max_requests_per_client, queue_timeout=args.queue_timeout)


def _url_host(host: str) -> str:
    """`host` as it goes in a URL: an IPv6 address in brackets; any interface (0.0.0.0, ::) as 127.0.0.1."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def store_origins(host: str, port: int, allowed_hosts: list[str]) -> list[str]:
    """The origins the store's pages can have: the loopback names and `host`, and each --allowed-host (on `port`
    unless the entry names one; "*" adds nothing: any host cannot be listed)."""
    names = [_url_host(host), "127.0.0.1", "localhost", "[::1]"]
    origins = [f"http://{name}:{port}" for name in dict.fromkeys(names)]
    for entry in allowed_hosts:
        entry = entry.strip()
        if entry and entry != "*":
            origins.append(f"http://{entry}" if ":" in entry.rsplit("]", 1)[-1] else f"http://{entry}:{port}")
    return origins


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = settings_from_args(args)
    url = f"http://{_url_host(args.host)}:{args.port}"
    app = create_app(settings)  # builds the tracker's dist/ first when missing or stale
    cdn: LiveServer | None = None
    if args.cdn_port:
        # The CDN in a thread of its own (two uvicorn servers in one loop would fight over the signal handlers).
        cdn_app = create_cdn_app(settings.tracker_dist_dir, store_origins(args.host, args.port, args.allowed_host))
        cdn = LiveServer(cdn_app, "cdn", host=args.host, port=args.cdn_port)
        print(f"Tracker's build on {settings.dist_url}  (a CDN: CORS for this store's origins)", flush=True)
    print(f"Demo store on {url}/  (received events: {url}/_collector)", flush=True)
    try:
        uvicorn.Server(server_config(app, args.host, args.port, header_timeout=args.header_timeout,
                                     max_connections=args.max_connections,
                                     max_connections_per_client=args.max_connections_per_client)).run()
    finally:
        if cdn is not None:
            cdn.stop()


if __name__ == "__main__":
    main()
