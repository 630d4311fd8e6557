"""The build's Shopify theme app extension (`dist/shopify/`): Shopify's own theme linter
(@shopify/theme-check-node, pinned; `scripts/theme_check.mjs` runs it offline) finds no offence in it, its layout
is one Shopify deploys, and its app embed block names the runtime on the build's CDN."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tracker.build import Options, Sources, build
from tracker.build.shopify import (
    ASSET_SUFFIXES,
    BLOCK,
    EXTENSION_DIR,
    MAX_LIQUID_BYTES,
    MAX_LOCALE_BYTES,
    check_limits,
)

REPO = Path(__file__).resolve().parents[2]
THEME_CHECK = REPO / "scripts" / "theme_check.mjs"
CDN = "https://cdn.example/glood/"


def lint(root: Path) -> tuple[int, dict[str, Any]]:
    """Run Shopify's theme linter on `root`: (exit code, its JSON report)."""
    node = shutil.which("node")
    assert node, "node is needed to run Shopify's theme linter (bash scripts/setup.sh installs it)"
    result = subprocess.run([node, str(THEME_CHECK), str(root)], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), f"theme-check did not run: {result.stderr}"
    return result.returncode, json.loads(result.stdout)


@pytest.fixture(scope="module")
def extension(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build for a CDN base URL; its extension directory. Seeded with the repository build's Pyodide files
    (content-addressed) so the wasm's brotli variant is not made again."""
    out = tmp_path_factory.mktemp("dist")
    if (REPO / "dist" / "pyodide").is_dir():
        shutil.copytree(REPO / "dist" / "pyodide", out / "pyodide", dirs_exist_ok=True)
    build(out, Sources.default(), Options(base_url=CDN))
    return out / EXTENSION_DIR


def _schema(liquid: str) -> dict[str, Any]:
    match = re.search(r"{% schema %}(.*){% endschema %}", liquid, re.S)
    assert match, "the block has no schema"
    return dict(json.loads(match.group(1)))


def test_shopifys_theme_linter_finds_no_offence(extension: Path) -> None:
    code, report = lint(extension)
    assert report["context"] == "app", "linted as a theme, not as a theme app extension"
    assert report["offenses"] == [] and code == 0, json.dumps(report["offenses"], indent=2)


def test_the_linter_does_report_offences(extension: Path, tmp_path: Path) -> None:
    """The harness is no rubber stamp: a block Shopify refuses (an `include`) fails it."""
    copy = tmp_path / "extension"
    shutil.copytree(extension, copy)
    block = copy / BLOCK
    block.write_text(block.read_text(encoding="utf-8").replace("{% schema %}", "{% include 'x' %}{% schema %}", 1),
                     encoding="utf-8")
    code, report = lint(copy)
    assert code == 1 and {"AppBlockValidTags", "MissingTemplate"} <= {o["check"] for o in report["offenses"]}


def test_the_layout_is_a_theme_app_extension(extension: Path) -> None:
    files = {p.relative_to(extension).as_posix(): p.read_bytes() for p in extension.rglob("*") if p.is_file()}
    check_limits(files)
    assert tomllib.loads(files["shopify.extension.toml"].decode())["type"] == "theme"
    assert set(files) >= {"shopify.extension.toml", BLOCK, "locales/en.default.json", "locales/en.default.schema.json"}
    assert all(Path(p).suffix in ASSET_SUFFIXES for p in files if p.startswith("assets/"))
    assert sum(len(d) for p, d in files.items() if p.endswith(".liquid")) <= MAX_LIQUID_BYTES
    assert all(len(d) <= MAX_LOCALE_BYTES for p, d in files.items() if p.startswith("locales/"))


def test_the_embed_block_targets_head_with_translated_settings(extension: Path) -> None:
    liquid = (extension / BLOCK).read_text(encoding="utf-8")
    schema = _schema(liquid)
    assert schema["target"] == "head"
    assert [s["id"] for s in schema["settings"]] == ["shop_domain", "glood_url", "genlook_url", "glood_public_token"]
    translations = json.loads((extension / "locales/en.default.schema.json").read_text(encoding="utf-8"))
    keys = [schema["name"], *(s[k] for s in schema["settings"] for k in ("label", "info") if k in s)]
    for key in keys:
        assert key.startswith("t:"), key
        value: Any = translations
        for part in key[2:].split("."):
            value = value[part]
        assert isinstance(value, str) and value
    # The config from the block's settings, the sensor inline (today's embed).
    assert "block.settings.shop_domain" in liquid and 'id="glood-tracker-config"' in liquid
    assert "{% raw %}" in liquid and "gloodTracker" in liquid
    assert CDN + "tracker/relay." in liquid, "the relay is not named on the CDN"


def test_check_limits_refuses_what_shopify_refuses() -> None:
    with pytest.raises(ValueError, match="assets may only be"):
        check_limits({"assets/pyodide.asm.mjs": b"x"})
    with pytest.raises(ValueError, match="only assets, blocks, locales, snippets"):
        check_limits({"pyodide/pyodide.mjs": b"x"})
    with pytest.raises(ValueError, match="bytes of Liquid"):
        check_limits({"blocks/a.liquid": b"x" * (MAX_LIQUID_BYTES + 1)})
    with pytest.raises(ValueError, match="in all"):
        check_limits({"assets/pyodide.asm.wasm": b"x" * (10 * 1024 * 1024 + 1)})
