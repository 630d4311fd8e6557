"""The main-thread cost of the sensor's fetch and XMLHttpRequest wrappers (docs/design.md §6, "Cart changes"), per
call, in Debian's Chromium: `python -m bench.cart_wrapper [--calls N]` prints the figures (no assertion: a timing
is a figure, not a test; the target is 0.1 ms a call).

A tiny local HTTP server answers every path with a cart line's JSON (no demo store: what is measured is the page's
JavaScript and the browser's handling of the answers). Two pages of that server, one with the sensor inlined (a
stub relay, no worker: its facts are dropped after each round as the worker's judging would) and one without.
In each, N calls one at a time, each awaited with its body read, as a theme makes them:

- fetch to another path (`/api/x`): the wrapper's URL test only;
- fetch to a cart path (`/cart/add.js`, a urlencoded body): the URL test, the body's copy, the answer's
  `clone()` and text, and the `ajax` fact;
- XMLHttpRequest to a cart path (the send wrapper, its load listener, the answer's text and the fact).

Main-thread cost = Chromium's own account of the renderer main thread's busy time (CDP `Performance.getMetrics`
`TaskDuration`) over the round, per call; the sensor's cost per call is the page with it less the page without
(median of the rounds after a warm-up round). Wall time per call is printed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import CDPSession, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
LINE = json.dumps({"id": 1, "variant_id": 1, "product_id": 1, "quantity": 1, "price": 4900}).encode()
RELAY = (b"export default (sensor) => { window.__facts = () => sensor.facts.filter(f => f.k == 'ajax').length;"
         b" window.__judged = () => sensor.facts.splice(0) };")  # (what a hold that judged every fact does)
RUN = """async ([mode, calls]) => {
  const one = mode == 'xhr' ? () => new Promise(resolve => {
      const xhr = new XMLHttpRequest(); xhr.open('POST', '/cart/add.js'); xhr.onloadend = resolve; xhr.send('id=1');
    })
    : (url => () => fetch(url, {method: 'POST', body: 'id=1&quantity=1'}).then(r => r.json()))(
        mode == 'cart' ? '/cart/add.js' : '/api/x');
  const start = performance.now();
  for (let i = 0; i < calls; i++) await one();
  await new Promise(resolve => setTimeout(resolve, 50));  // the sensor's last reactions
  const facts = window.__facts ? window.__facts() : 0;
  if (window.__judged) window.__judged();
  return {wall: performance.now() - start - 50, facts};
}"""


def page_html(with_sensor: bool) -> bytes:
    sensor = (ROOT / "static" / "tracker" / "sensor.js").read_text()
    runtime = json.dumps({"relay": "/relay.js", "version": "bench", "rc": False, "gpc": False})
    tag = f"<script data-runtime='{runtime}'>{sensor}</script>" if with_sensor else ""
    html = f"<!doctype html><html><head><meta charset=utf-8>{tag}<title>bench</title></head><body></body></html>"
    return html.encode()


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?")[0]
        body, kind = ((page_html(True), "text/html") if path == "/with.html"
                      else (page_html(False), "text/html") if path == "/without.html"
                      else (RELAY, "text/javascript") if path == "/relay.js" else (LINE, "application/json"))
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def busy_ms(cdp: CDPSession) -> float:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["TaskDuration"]) * 1000


def measure(page: Page, cdp: CDPSession, mode: str, calls: int, rounds: int) -> tuple[float, float]:
    """Median main-thread busy ms and wall ms per call over `rounds` (after a warm-up round)."""
    page.evaluate(RUN, [mode, min(calls, 200)])
    busy, wall = [], []
    for _ in range(rounds):
        before = busy_ms(cdp)
        result = page.evaluate(RUN, [mode, calls])
        busy.append((busy_ms(cdp) - before) / calls)
        wall.append(result["wall"] / calls)
        if mode != "other" and page.url.endswith("/with.html"):
            assert result["facts"] == calls, result  # every cart call recorded, once
    return statistics.median(busy), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from tests.e2e.conftest import CHROMIUM, OFFLINE_ARGS

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    figures: dict[tuple[str, str], tuple[float, float]] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS)
            for which in ("without", "with"):
                page = browser.new_page()
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                page.goto(f"{base}/{which}.html")
                if which == "with":
                    page.wait_for_function("() => window.__facts !== undefined")
                for mode in ("other", "cart", "xhr"):
                    figures[(which, mode)] = measure(page, cdp, mode, args.calls, args.rounds)
                page.close()
            browser.close()
    finally:
        server.shutdown()
    print(f"{args.calls} calls a round, one at a time, median of {args.rounds} rounds (Chromium {CHROMIUM}); "
          "main-thread busy / wall, µs a call:")
    for mode, label in (("other", "fetch, another path"), ("cart", "fetch, a cart path"),
                        ("xhr", "XMLHttpRequest, a cart path")):
        (bare_busy, bare_wall), (busy, wall) = figures[("without", mode)], figures[("with", mode)]
        print(f"  {label:28} without {bare_busy * 1000:7.1f} / {bare_wall * 1000:7.1f}   with {busy * 1000:7.1f} / "
              f"{wall * 1000:7.1f}   the sensor's: {(busy - bare_busy) * 1000:+7.1f} µs main thread")


if __name__ == "__main__":
    main()
