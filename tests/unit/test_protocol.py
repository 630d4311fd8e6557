"""The protocol's one definition (tracker/core/protocol.py) and its mirrors: the JSDoc typedefs the page's code is
type-checked against, the codes relay.js uses, and docs/design.md §6."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from tracker.__main__ import PROTOCOL_JS
from tracker.core import protocol

ROOT = Path(__file__).resolve().parents[2]


def test_the_jsdoc_mirror_is_generated_from_the_definition():
    assert PROTOCOL_JS.read_text(encoding="utf-8") == protocol.jsdoc(), \
        "static/tracker/protocol.js is stale: run `python -m tracker protocol-js --write`"


def test_relay_uses_the_definitions_codes():
    relay = (ROOT / "static" / "tracker" / "relay.js").read_text(encoding="utf-8")
    found = dict(re.findall(r"\b(BEACON_ACCEPTED|NOT_SENT|BEACON_REFUSED) = (-?\d+)", relay))
    assert {name: int(value) for name, value in found.items()} == protocol.CODES


def _section_6() -> str:
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    return design[design.index("## 6."):design.index("## 7.")]


def _row(text: str, kind: str) -> str:
    """The table row of §6 whose first cell names `kind`."""
    for line in text.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2 and f"`{kind}`" in cells[1]:
            return line
    raise AssertionError(f"docs/design.md §6 has no row for `{kind}`")


def _fields(kind: type) -> list[str]:
    return [name for name in typing.get_type_hints(kind) if name not in ("t", "s", "k")]


def test_design_section_6_documents_every_message_and_fact_with_its_fields():
    text = _section_6()
    for table in (protocol.TO_WORKER, protocol.TO_PAGE, protocol.FACTS):
        for kind, definition in table.items():
            row = _row(text, kind)
            missing = [f for f in _fields(definition) if f"`{f}`" not in row]
            assert missing == [], f"§6's row for `{kind}` does not name {missing}"
