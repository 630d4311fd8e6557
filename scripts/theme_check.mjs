// Shopify's theme linter (@shopify/theme-check-node, pinned in package.json) on a theme app extension, offline.
//
//   node scripts/theme_check.mjs <extension directory>
//
// Prints one JSON object: {"offenses": [{check, severity, path, line, message}], "checks": <how many ran>}; exits 0
// when there are no offenses of any severity, 1 when there are, 2 when the linter could not run. The directory
// holds shopify.extension.toml, so theme-check applies its "theme-check:theme-app-extension" configuration (as
// Shopify's CLI does before a deploy). Offline: the linter's wish to download the latest Liquid docs from GitHub is
// answered "offline" at once, and its docs cache points at an empty directory, so it always uses the docs and
// schemas bundled with the pinned package (the same result on every machine).
// @ts-check
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const root = process.argv[2];
if (!root) {
  console.error("usage: node scripts/theme_check.mjs <extension directory>");
  process.exit(2);
}
const cache = mkdtempSync(path.join(tmpdir(), "theme-check-docs-"));
process.env.XDG_CACHE_HOME = cache; // read by env-paths when the docs updater loads (below)
const require = createRequire(import.meta.url);
const downloader = require("@shopify/theme-check-docs-updater/dist/themeLiquidDocsDownloader");
const offline = async () => { throw new Error("offline: the bundled Liquid docs are used") };
downloader.downloadResource = offline;
downloader.downloadThemeLiquidDocs = offline;
const { themeCheckRun, Severity } = require("@shopify/theme-check-node");

try {
  const directory = path.resolve(root);
  const run = await themeCheckRun(directory);
  const offenses = run.offenses.map((offense) => ({
    check: offense.check,
    severity: Object.keys(Severity).find((name) => Severity[name] === offense.severity) ?? String(offense.severity),
    path: path.relative(directory, new URL(offense.uri).pathname),
    line: offense.start.line + 1,
    message: offense.message,
  }));
  console.log(JSON.stringify({ offenses, checks: run.config.checks.length, context: run.config.context }));
  process.exitCode = offenses.length ? 1 : 0;
} catch (error) {
  console.error(`theme-check did not run: ${error instanceof Error ? error.stack : error}`);
  process.exitCode = 2;
} finally {
  rmSync(cache, { recursive: true, force: true });
}
