"""The demo store's HTML: Jinja2 templates in demo_store/templates/, autoescaped.

Every `{{ value }}` is escaped unless it is `Markup`, and only this package makes `Markup`: the JSON script tags
(`json_script`: JSON whose `<`, `>` and `&` are \\u-escaped, so it cannot end its tag), the tracker's embed (made
by `tracker.build.embed` from escaped parts; it must stay byte-identical, the page's CSP hashes its inline
script) and what the templates' own macros render. No template uses `|safe`.

Escaping is done by `finalize` with the standard library's `html.escape(quote=True)` before Jinja2's autoescape
sees the value (which then leaves that `Markup` as it is): the pages keep the exact bytes they had when they were
built by hand (`&quot;` and `&#x27;`, not MarkupSafe's `&#34;` and `&#39;`), which is also what static/store.js's
`renderSection` writes for the same section (tests/unit/test_demo_sections.py compares them byte for byte).
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from tracker.build import embed

from .catalog import format_money

__all__ = ["TEMPLATES", "environment", "render", "macro", "json_script"]

TEMPLATES = Path(__file__).parent / "templates"


def _escaped(value: Any) -> Any:
    """`finalize`: every value as escaped text (`Markup` as it is)."""
    if hasattr(value, "__html__"):
        return value
    return Markup(escape(str(value), quote=True))


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template, whatever its name
    finalize=_escaped,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,
)
environment.globals["money"] = format_money


def render(template: str, /, **context: Any) -> str:
    """A page (or a page's part) from `template` (a file name under templates/)."""
    return environment.get_template(template).render(context)


def macro(name: str, /, *args: Any, **kwargs: Any) -> Markup:
    """One of templates/macros.html's macros, rendered (a section, a product card, a funnel chart)."""
    rendered = getattr(environment.get_template("macros.html").module, name)(*args, **kwargs)
    return Markup(rendered)


def json_script(element_id: str, data: Any) -> Markup:
    """A `<script type="application/json">` tag (the build's own: `<`, `>` and `&` in the JSON are \\u-escaped so it
    cannot end the tag)."""
    return Markup(embed.json_script(element_id, data))
