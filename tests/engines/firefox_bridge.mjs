// Firefox ESR driven by puppeteer-core (WebDriver BiDi, no geckodriver) for tests/engines/drivers.py.
// Speaks JSON lines on stdin/stdout: one command {"id", "cmd", ...} in, one answer {"id", "ok", "value" or
// "error"} out, in order. Page errors and console errors are kept until an "errors" command drains them.
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

let browser = null;
let page = null;
let errors = { page: [], console: [] };

function where(location) {
  return location && location.url ? ` (${location.url}:${location.lineNumber ?? "?"})` : "";
}

function watch(p) {
  p.on("pageerror", (error) => {
    const stack = String(error && error.stack || "").split("\n").find((line) => line.includes("://")) || "";
    errors.page.push(`${error && error.message || String(error)}${stack ? ` @ ${stack.trim()}` : ""}`);
  });
  p.on("console", (message) => {
    if (message.type() === "error") errors.console.push(message.text() + where(message.location()));
  });
}

// The page returns JSON text (undefined as null), awaiting a Promise the function returns.
function wrapped(source) {
  // eslint-disable-next-line no-new-func -- Node side only: the page gets the text (BiDi script.callFunction)
  return new Function(`return async (arg) => { const v = await (${source})(arg);
    return JSON.stringify(v === undefined ? null : v); }`)();
}

const commands = {
  async launch({ executablePath, width, height, args }) {
    browser = await puppeteer.launch({
      browser: "firefox", executablePath, headless: true, args: args || [],
      defaultViewport: { width, height },
    });
    const pages = await browser.pages();
    page = pages.length ? pages[0] : await browser.newPage();
    await page.setViewport({ width, height });
    watch(page);
    return await browser.version();
  },
  async goto({ url, timeout }) {
    await page.goto(url, { waitUntil: "load", timeout });
    return page.url();
  },
  async evaluate({ source, arg }) {
    const text = await page.evaluate(wrapped(source), arg ?? null);
    return text === undefined ? null : JSON.parse(text);
  },
  async click({ selector }) {
    await page.click(selector);
    return null;
  },
  async waitForSelector({ selector, timeout }) {
    await page.waitForSelector(selector, { timeout });
    return null;
  },
  async url() {
    return page.url();
  },
  async errors() {
    const drained = errors;
    errors = { page: [], console: [] };
    return drained;
  },
  async close() {
    if (browser) await browser.close();
    browser = null;
    return null;
  },
};

const send = (answer) => process.stdout.write(JSON.stringify(answer) + "\n");
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let request;
  try {
    request = JSON.parse(line);
    const run = commands[request.cmd];
    if (!run) throw new Error(`unknown command ${request.cmd}`);
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${request.cmd}: no result in ${request.timeout} ms`)),
                         request.timeout || 60000);
    });
    try {
      send({ id: request.id, ok: true, value: await Promise.race([run(request), late]) });
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    send({ id: request && request.id, ok: false, error: String(error && error.stack || error) });
  }
  if (request && request.cmd === "close") break;
}
if (browser) await browser.close();
process.exit(0);
