"""One small driver per browser engine, with the same methods, for the engine-neutral journeys in this directory.

- `Firefox`: Debian's Firefox ESR through npm puppeteer-core (WebDriver BiDi, no geckodriver), driven by
  `firefox_bridge.mjs` in a Node process: JSON lines on its stdin/stdout, one command, one answer.
- `WebKit`: WebKitGTK's MiniBrowser (`--automation`) through Selenium's `webdriver.WebKitGTK` and Debian's
  WebKitWebDriver, under an Xvfb of its own on a free display, with a fresh HOME and XDG directories.

`evaluate(source, arg)` takes the text of a JavaScript function of one argument, calls it in the page, awaits
the Promise it may return and gives its value through JSON. Page errors (uncaught exceptions and unhandled
rejections) and console errors are kept per engine until `errors()` drains them: puppeteer's `pageerror` and
`console` events in Firefox; in WebKit (no BiDi, no console log endpoint) a hook the driver injects into each
document once loaded, which keeps what it saw in sessionStorage so a page being left loses nothing.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ENGINES", "Engine", "EngineError", "Firefox", "PageErrors", "WebKit", "launch", "missing"]

ENGINES = ("firefox", "webkit")
FIREFOX = os.environ.get("FIREFOX") or "/usr/bin/firefox-esr"
WEBKIT_DRIVER = os.environ.get("WEBKIT_DRIVER") or "/usr/bin/WebKitWebDriver"
MINIBROWSER = os.environ.get("MINIBROWSER") or "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
XVFB = os.environ.get("XVFB") or shutil.which("Xvfb") or "/usr/bin/Xvfb"
BRIDGE = Path(__file__).with_name("firefox_bridge.mjs")
ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 720
#: A WebKit document's hook: page errors and console errors into sessionStorage (survives the page's end).
ERRORS_KEY = "engines:errors"

T = TypeVar("T")


class EngineError(RuntimeError):
    """A command the browser could not carry out (its message says why)."""


@dataclass
class PageErrors:
    page: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def extend(self, other: PageErrors) -> None:
        self.page.extend(other.page)
        self.console.extend(other.console)


def missing(engine: str) -> str | None:
    """What this machine lacks to run `engine` (None: nothing); scripts/setup.sh --browser installs it."""
    if engine == "firefox":
        needed = [FIREFOX, str(ROOT / "node_modules/puppeteer-core/package.json")]
        if shutil.which("node") is None:
            return "node"
    else:
        needed = [WEBKIT_DRIVER, MINIBROWSER, XVFB]
        try:
            import selenium  # noqa: F401
        except ImportError:
            return "the selenium package"
    absent = [path for path in needed if not os.path.exists(path)]
    return ", ".join(absent) or None


def launch(engine: str) -> Engine:
    return Firefox() if engine == "firefox" else WebKit()


class Engine(ABC):
    """A browser with one page (tab) the tests drive."""

    name: str
    version: str = ""

    @abstractmethod
    def goto(self, url: str, timeout: float = 60.0) -> None:
        """Navigate and wait for the new document's load event."""

    @abstractmethod
    def evaluate(self, source: str, arg: Any = None, timeout: float = 60.0) -> Any:
        """Call the JavaScript function `source` with `arg` in the page; its (awaited) value, through JSON."""

    @abstractmethod
    def click(self, selector: str) -> None:
        """A real click (the engine's mouse input) in the middle of the first element matching `selector`."""

    @abstractmethod
    def wait_for_selector(self, selector: str, timeout: float = 30.0) -> None:
        """Wait until an element matches `selector` in the current document (also across a navigation)."""

    @property
    @abstractmethod
    def url(self) -> str:
        """The current document's URL."""

    @abstractmethod
    def errors(self) -> PageErrors:
        """Page errors and console errors since the last call."""

    @abstractmethod
    def close(self) -> None:
        """End the browser and everything this driver started."""

    def scroll_into_view(self, selector: str) -> None:
        """Scroll the element to the middle of the viewport (instantly)."""
        found = self.evaluate("""(selector) => {
            const el = document.querySelector(selector);
            if (!el) return false;
            el.scrollIntoView({block: 'center', inline: 'nearest', behavior: 'instant'});
            return true;
        }""", selector)
        if not found:
            raise EngineError(f"{self.name}: no element matches {selector!r}")

    def navigate_by(self, action: Callable[[], None], timeout: float = 60.0) -> None:
        """Run `action` (a click, a form post) and wait until a new document has loaded in its place."""
        mark = uuid.uuid4().hex
        self.evaluate("(mark) => { window.__enginesDocument = mark; }", mark)
        action()

        def loaded() -> bool:
            try:
                return bool(self.evaluate("(mark) => window.__enginesDocument !== mark && "
                                          "document.readyState === 'complete'", mark, timeout=10))
            except EngineError:  # the old document went while asked
                return False

        try:
            wait_until(loaded, timeout, f"{self.name}: a new document after the action")
        except AssertionError as exc:
            raise AssertionError(f"{exc} (now at {self.url})") from None
        self._loaded()

    def _loaded(self) -> None:
        """A new document has loaded (a hook, for engines that inject their error capture)."""
        return None

    def reset(self, origin: str) -> None:
        """Leave the current page for an untracked page of `origin` and clear that origin's localStorage and
        sessionStorage: the next page starts as a new visitor (a new client id), with nothing left to adopt."""
        self.goto(origin + "/_collector")
        self._keep_errors()
        self.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")

    def _keep_errors(self) -> None:
        """Take what the page's own error capture kept before its storage is cleared (a hook for engines)."""
        return None


def wait_until(check: Callable[[], T], timeout: float, what: str, pause: float = 0.1) -> T:
    """Call `check` until it returns something true; past `timeout` s fail saying `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out ({timeout:g} s) waiting for {what}")
        time.sleep(pause)


class Firefox(Engine):
    """Firefox ESR headless, through puppeteer-core in a Node process running `firefox_bridge.mjs`."""

    name = "firefox"

    def __init__(self) -> None:
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(["node", str(BRIDGE)], cwd=ROOT, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="firefox-bridge", daemon=True)
        self._reader.start()
        self._next_id = 0
        try:
            self.version = str(self._call("launch", timeout=90, executablePath=FIREFOX, width=WIDTH,
                                          height=HEIGHT))
        except BaseException:
            self._kill()
            raise

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._answers.put(line)
        self._answers.put(None)

    def _stderr(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def _call(self, cmd: str, timeout: float = 60.0, **params: Any) -> Any:
        self._next_id += 1
        request_id = self._next_id
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"id": request_id, "cmd": cmd, "timeout": timeout * 1000,
                                                  **params}) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise EngineError(f"firefox bridge is gone: {exc}; {self._stderr()}") from exc
        deadline = time.monotonic() + timeout + 15
        while True:
            try:
                line = self._answers.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise EngineError(f"firefox bridge: no answer to {cmd} in {timeout + 15:g} s") from None
            if line is None:
                raise EngineError(f"firefox bridge exited ({self._process.poll()}): {self._stderr()}")
            answer = json.loads(line)
            if answer.get("id") != request_id:
                continue  # the late answer to a command given up on
            if not answer["ok"]:
                raise EngineError(f"firefox: {cmd} failed: {answer['error']}")
            return answer["value"]

    def goto(self, url: str, timeout: float = 60.0) -> None:
        self._call("goto", timeout, url=url)

    def evaluate(self, source: str, arg: Any = None, timeout: float = 60.0) -> Any:
        return self._call("evaluate", timeout, source=source, arg=arg)

    def click(self, selector: str) -> None:
        self._call("click", selector=selector)

    def wait_for_selector(self, selector: str, timeout: float = 30.0) -> None:
        self._call("waitForSelector", timeout, selector=selector)

    @property
    def url(self) -> str:
        return str(self._call("url"))

    def errors(self) -> PageErrors:
        value = self._call("errors")
        return PageErrors(page=list(value["page"]), console=list(value["console"]))

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                self._call("close", timeout=30)
        except EngineError:
            pass
        finally:
            self._kill()

    def _kill(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.close()
                self._process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(10)
        self._reader.join(10)
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._log.close()


# Injected into each WebKit document once it has loaded: what Playwright's pageerror and console events give.
WEBKIT_HOOK = """
if (!window.__enginesHook) {
  window.__enginesHook = true;
  const KEY = '__KEY__';
  const keep = (kind, text) => {
    try {
      const all = JSON.parse(sessionStorage.getItem(KEY) || '{"page": [], "console": []}');
      all[kind].push(`${text} [${location.pathname}${location.search}, ${Math.round(performance.now())} ms]`);
      sessionStorage.setItem(KEY, JSON.stringify(all));
    } catch (e) {}
  };
  const where = (e) => e && e.filename ? ` (${e.filename}:${e.lineno})` : '';
  window.addEventListener('error', (e) => keep('page', `${e.message}${where(e)}`));
  window.addEventListener('unhandledrejection', (e) => {
    const r = e.reason;
    keep('page', `unhandled rejection: ${r && r.stack ? r.stack.split('\\n')[0] : r}`);
  });
  const error = console.error;
  console.error = function (...args) {
    keep('console', args.map(String).join(' '));
    return error.apply(this, args);
  };
}
""".replace("__KEY__", ERRORS_KEY)


def _end_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it ends (Linux prctl PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class WebKit(Engine):
    """WebKitGTK's MiniBrowser through Selenium and WebKitWebDriver, under an Xvfb of its own."""

    name = "webkit"

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        self._home = tempfile.mkdtemp(prefix="engines-webkit-")
        self._xvfb: subprocess.Popen[bytes] | None = None
        self._closed = False
        self._pending = PageErrors()
        try:
            display = self._start_xvfb()
            home = Path(self._home)
            env = {**os.environ, "DISPLAY": display, "HOME": str(home),
                   "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
                   "XDG_DATA_HOME": str(home / ".local/share"), "XDG_RUNTIME_DIR": str(home / "run"),
                   "NO_AT_BRIDGE": "1", "GDK_BACKEND": "x11"}
            env.pop("WAYLAND_DISPLAY", None)
            for key in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
                Path(env[key]).mkdir(parents=True, mode=0o700, exist_ok=True)
            options = Options()
            options.binary_location = MINIBROWSER
            options.add_argument("--automation")
            self._driver_log = home / "webkitwebdriver.log"
            service = Service(executable_path=WEBKIT_DRIVER, env=env, log_output=str(self._driver_log))
            with warnings.catch_warnings():
                # selenium 4.52's WebKitGTK class hands RemoteWebDriver its service URL as a string, the path
                # selenium itself deprecated (pytest turns warnings into errors here).
                warnings.filterwarnings("ignore", "setting remote_server_addr in RemoteConnection",
                                        DeprecationWarning)
                self.driver = webdriver.WebKitGTK(options=options, service=service)
            self.driver.set_page_load_timeout(60)
            self.driver.set_script_timeout(60)
            self._fit_viewport()
            self.version = str(self.driver.capabilities.get("browserVersion", ""))
            atexit.register(self.close)
        except BaseException:
            self._stop_xvfb()
            shutil.rmtree(self._home, ignore_errors=True)
            raise

    def _start_xvfb(self) -> str:
        """Xvfb on the first free display (it writes the number it took to a pipe: -displayfd). It ends with this
        process even when no teardown runs (MiniBrowser, a GTK program, ends with its display)."""
        read_end, write_end = os.pipe()
        try:
            self._xvfb = subprocess.Popen(
                [XVFB, "-displayfd", str(write_end), "-screen", "0", f"{WIDTH + 200}x{HEIGHT + 300}x24",
                 "-nolisten", "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=_end_with_parent)
            os.close(write_end)
            write_end = -1
            number = b""
            deadline = time.monotonic() + 30
            while not number.endswith(b"\n"):
                ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(read_end, 64) if ready else b""
                if not chunk:
                    raise EngineError(f"Xvfb did not start (exit code {self._xvfb.poll()})")
                number += chunk
            return ":" + number.decode().strip()
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)

    def _stop_xvfb(self) -> None:
        if self._xvfb is not None and self._xvfb.poll() is None:
            self._xvfb.terminate()
            try:
                self._xvfb.wait(10)
            except subprocess.TimeoutExpired:
                self._xvfb.kill()
                self._xvfb.wait(10)

    def _fit_viewport(self) -> None:
        """Size the window so the page's viewport is WIDTH x HEIGHT (the window has a toolbar around it)."""
        self.driver.set_window_size(WIDTH, HEIGHT)
        inner = self.driver.execute_script("return [window.innerWidth, window.innerHeight]")
        self.driver.set_window_size(2 * WIDTH - inner[0], 2 * HEIGHT - inner[1])

    def _script(self, script: str, *args: Any) -> Any:
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.execute_script(script, *args)
        except WebDriverException as exc:
            raise EngineError(f"webkit: {exc.msg or exc}") from exc

    def _loaded(self) -> None:
        self._script(WEBKIT_HOOK)

    def goto(self, url: str, timeout: float = 60.0) -> None:
        from selenium.common.exceptions import WebDriverException

        self._drain()
        self.driver.set_page_load_timeout(timeout)
        try:
            self.driver.get(url)
        except WebDriverException as exc:
            raise EngineError(f"webkit: goto {url}: {exc.msg or exc}") from exc
        self._loaded()

    def evaluate(self, source: str, arg: Any = None, timeout: float = 60.0) -> Any:
        self.driver.set_script_timeout(timeout)
        text = self._script(f"""const arg = arguments[0];
            return Promise.resolve(({source})(arg)).then(v => JSON.stringify(v === undefined ? null : v));""",
                            arg)
        return None if text is None else json.loads(text)

    def click(self, selector: str) -> None:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By

        self._drain()  # the click may leave the page
        try:
            self.driver.find_element(By.CSS_SELECTOR, selector).click()
        except WebDriverException as exc:
            raise EngineError(f"webkit: click {selector}: {exc.msg or exc}") from exc

    def wait_for_selector(self, selector: str, timeout: float = 30.0) -> None:
        def found() -> bool:
            try:
                return bool(self._script("return document.querySelector(arguments[0]) !== null", selector))
            except EngineError:  # between two documents
                return False

        wait_until(found, timeout, f"webkit: {selector!r} at {self.driver.current_url}", pause=0.2)
        self._loaded()

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    def _keep_errors(self) -> None:
        self._drain()

    def _drain(self) -> None:
        """Move what the current document's hook kept into this driver (before the document may go)."""
        try:
            raw = self._script(f"const v = sessionStorage.getItem('{ERRORS_KEY}'); "
                               f"sessionStorage.removeItem('{ERRORS_KEY}'); return v;")
        except EngineError:
            return
        if raw:
            kept = json.loads(raw)
            self._pending.extend(PageErrors(page=kept["page"], console=kept["console"]))

    def errors(self) -> PageErrors:
        self._drain()
        drained, self._pending = self._pending, PageErrors()
        return drained

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - closing what may be half gone; Xvfb and the profile go anyway
            pass
        finally:
            self._stop_xvfb()
            shutil.rmtree(self._home, ignore_errors=True)
