"""A small HTML reader for the demo store's unit tests: elements in order, JSON script tags, inline scripts."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

__all__ = ["Page"]


class Page(HTMLParser):
    """Elements (tag, attributes) in document order, and the text of JSON script tags by id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.json: dict[str, Any] = {}
        self.inline_scripts: list[str] = []
        self._script: dict[str, str | None] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is None:
            return
        if self._script.get("type") == "application/json":
            self.json[str(self._script["id"])] = json.loads(data)
        elif not self._script.get("src"):
            self.inline_scripts.append(data)

    def find(self, tag: str | None = None, **attrs: str | bool) -> list[dict[str, str | None]]:
        """Elements with these attribute values (True: the attribute is there, whatever its value)."""
        return [a for t, a in self.elements if (tag is None or t == tag)
                and all(k.replace("_", "-") in a if v is True else a.get(k.replace("_", "-")) == v
                        for k, v in attrs.items())]

    def one(self, tag: str | None = None, **attrs: str | bool) -> dict[str, str | None]:
        (found,) = self.find(tag, **attrs)
        return found

    def scripts(self) -> list[str]:
        """The `src` of every external script, in order."""
        return [str(a["src"]) for t, a in self.elements if t == "script" and a.get("src")]

    def index(self, element_id: str) -> int:
        return next(i for i, (_t, a) in enumerate(self.elements) if a.get("id") == element_id)
