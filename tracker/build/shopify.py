"""The Shopify deliverable of a build: a complete theme app extension (`dist/shopify/`), deployable as it is by a
Shopify app (`shopify app deploy` with this directory under the app's `extensions/`).

- `shopify.extension.toml` — `type = "theme"`;
- `blocks/glood-tracker.liquid` — the app embed block (`"target": "head"`): the config tag from the block's
  settings and the inline sensor (`embed.liquid_block`), its schema's labels translated (`t:` keys);
- `locales/en.default.schema.json` — those labels in English (the theme editor's language);
- `locales/en.default.json` — the storefront's strings: none (the block shows nothing), so an empty object.

The runtime (relay, worker, Pyodide, standard library, wheel, lockfile) is not in `assets/`: it stays on the
build's `--base-url` (a CDN), named by absolute URLs. Shopify's limits for a theme app extension rule `assets/`
out: 10 MB for all its files together (the wasm alone is ~9 MB, the whole runtime ~13 MB), and only .js, .css,
.json, .jpg, .jpeg, .png, .svg and .wasm files in `assets/` (no .mjs, .zip or .whl). Liquid may total 100 KB in an
extension (the block is ~10 KB, the sensor inlined), a locale file 15 KB, a block 25 settings. `check_limits`
refuses an extension past them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

__all__ = ["EXTENSION_DIR", "BLOCK", "SCHEMA_TRANSLATIONS", "translated_schema", "extension_files", "check_limits"]

#: Where the extension goes in the build's output (its root: the directory that holds shopify.extension.toml).
EXTENSION_DIR = "shopify"
BLOCK = "blocks/glood-tracker.liquid"
EXTENSION_NAME = "glood-tracker"
#: Shopify's limits for a theme app extension (shopify.dev, theme app extension configuration).
MAX_TOTAL_BYTES = 10 * 1024 * 1024
MAX_LIQUID_BYTES = 100 * 1024
MAX_LOCALE_BYTES = 15 * 1024
MAX_SETTINGS = 25
ASSET_SUFFIXES = frozenset({".js", ".css", ".json", ".jpg", ".jpeg", ".png", ".svg", ".wasm"})
TOP_LEVEL = frozenset({"assets", "blocks", "snippets", "locales"})

#: The theme editor's English for the block's `t:` keys (locales/en.default.schema.json).
SCHEMA_TRANSLATIONS: dict[str, Any] = {
    "blocks": {"glood_tracker": {
        "name": "Glood tracker",
        "settings": {
            "shop_domain": {"label": "Shop domain",
                            "info": "your-store.myshopify.com; empty = this shop's permanent domain"},
            "glood_url": {"label": "Glood API base URL"},
            "genlook_url": {"label": "Genlook events endpoint"},
            "glood_public_token": {"label": "Glood public token",
                                   "info": "Public by definition (it is in the page): never a server secret"},
        },
    }},
}
_KEYS = ("label", "info")


def translated_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` (the block's, in English) with its name and each setting's label and info as `t:` keys of
    SCHEMA_TRANSLATIONS; a text missing there is an error (the two are kept in step here)."""
    block = SCHEMA_TRANSLATIONS["blocks"]["glood_tracker"]
    prefix = "t:blocks.glood_tracker"
    if len(schema.get("settings", [])) > MAX_SETTINGS:
        raise ValueError(f"{len(schema['settings'])} settings in the block, over Shopify's {MAX_SETTINGS}")
    if schema.get("name") != block["name"]:
        raise ValueError(f"the block's name {schema.get('name')!r} has no translation")
    out: dict[str, Any] = {**schema, "name": f"{prefix}.name", "settings": []}
    for setting in schema.get("settings", []):
        texts = block["settings"].get(setting["id"], {})
        copy = dict(setting)
        for key in _KEYS:
            if key in setting:
                if texts.get(key) != setting[key]:
                    raise ValueError(f"setting {setting['id']!r}: its {key} {setting[key]!r} has no translation")
                copy[key] = f"{prefix}.settings.{setting['id']}.{key}"
        out["settings"].append(copy)
    return out


def _toml() -> str:
    return "\n".join([
        "# Glood storefront tracker: theme app extension, made by `python -m tracker build`. Do not edit: rebuild.",
        f'name = "{EXTENSION_NAME}"',
        'type = "theme"',
        "",
    ])


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def extension_files(block: str) -> dict[str, bytes]:
    """The extension's files (paths relative to its root) around the app embed block's Liquid text."""
    files = {
        "shopify.extension.toml": _toml().encode("utf-8"),
        BLOCK: block.encode("utf-8"),
        "locales/en.default.schema.json": _json(SCHEMA_TRANSLATIONS),
        "locales/en.default.json": _json({}),
    }
    check_limits(files)
    return files


def check_limits(files: Mapping[str, bytes]) -> None:
    """Refuse (ValueError, saying which) an extension that Shopify would refuse: a directory other than assets,
    blocks, snippets and locales, an asset type it does not take, or a size past its limits."""
    problems: list[str] = []
    total = sum(len(data) for data in files.values())
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{total} bytes in all, over Shopify's {MAX_TOTAL_BYTES}")
    liquid = sum(len(data) for path, data in files.items() if path.endswith(".liquid"))
    if liquid > MAX_LIQUID_BYTES:
        problems.append(f"{liquid} bytes of Liquid, over Shopify's {MAX_LIQUID_BYTES}")
    for path, data in files.items():
        parts = PurePosixPath(path).parts
        if len(parts) == 1:
            if path != "shopify.extension.toml":
                problems.append(f"{path}: only shopify.extension.toml may be at the top")
        elif parts[0] not in TOP_LEVEL:
            problems.append(f"{path}: only {', '.join(sorted(TOP_LEVEL))} directories are allowed")
        elif parts[0] == "assets" and PurePosixPath(path).suffix not in ASSET_SUFFIXES:
            problems.append(f"{path}: assets may only be {', '.join(sorted(ASSET_SUFFIXES))} files")
        elif parts[0] == "locales" and len(data) > MAX_LOCALE_BYTES:
            problems.append(f"{path}: {len(data)} bytes, over Shopify's {MAX_LOCALE_BYTES} per locale file")
    if problems:
        raise ValueError("the theme app extension would be refused: " + "; ".join(problems))
