"""Docstrings and comments out of Python sources, line numbers kept, each result checked by the AST.

Used by `tracker.build.stdlib.trim_stdlib(strip=True)` on the kept standard library modules, which are Python
3.14 sources (Pyodide 314): the build's CPython may be older and may not tokenize or parse them the way 3.14
does, so `pyodide_stripper` runs `strip_files` inside Pyodide's own Python in Node (`pystrip.mjs`). This module
imports only the standard library so that it can be copied into Pyodide as it is.

What `strip_source` removes:

- every COMMENT token (found with `tokenize`, so a `#` inside a string or an f-string is never touched), except
  a coding declaration on the first two lines; the whitespace before a removed comment goes with it;
- the docstring of the module and of every class and function (the first statement of the body, a plain `str`
  constant, found with `ast`): its lines are emptied, or it becomes `pass` when it is the body's only statement
  or shares a line with other code.

Line breaks are never removed (a docstring's lines become empty lines), so tracebacks and `linecache` keep
the line numbers of the upstream source, and the text of a multi-line string is never changed.

`verify` accepts a result only when it compiles and its AST (no positions) equals the original's with the
docstrings dropped and `pass` statements ignored; `strip_files` keeps the original of any file that fails.
"""

from __future__ import annotations

import ast
import io
import json
import re
import sys
import tokenize
import warnings
from collections.abc import Iterable, Mapping

__all__ = ["KEEP_DOCSTRINGS", "strip_source", "verify", "strip_files", "strip_files_json"]

#: Files (paths in the zip; a prefix ending in `/` for a directory) whose docstrings are read at run time and
#: so are kept (comments are still removed). `_pyodide/`: `_pyodide.docstring.get_cmeth_docstring` turns the
#: docstrings of `_pyodide._core_docs` into the `__doc__` of the JsProxy types' C methods at start-up. Other
#: `__doc__` uses in the kept modules copy or assign docstrings (functools.wraps, typing, enum, dataclasses,
#: urllib.parse and selectors assign their own strings) and accept None.
KEEP_DOCSTRINGS = ("_pyodide/",)
_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+")
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _docstring(node: ast.AST) -> ast.Expr | None:
    body = getattr(node, "body", None)
    if isinstance(node, _DOCUMENTED) and body:
        first = body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value,
                                                                                                 str):
            return first
    return None


def _column(line: str, byte_offset: int) -> int:
    """`ast` columns are UTF-8 byte offsets; the character offset in `line`."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace"))


def strip_source(source: str, *, docstrings: bool = True) -> str:
    """`source` without comments and (when `docstrings`) docstrings, with the same number of lines. Raises
    SyntaxError (or tokenize.TokenError) when this Python cannot parse `source`."""
    lines = io.StringIO(source, newline="").readlines()  # only \n, \r\n, \r end a line, as for ast
    tree = ast.parse(source)
    # (start row, start column, end row, end column, replacement); rows from 1, columns in characters.
    edits: list[tuple[int, int, int, int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        (row, col), (end_row, end_col) = token.start, token.end
        if row <= 2 and _CODING.match(lines[row - 1]):
            continue
        prefix = lines[row - 1][:col]
        edits.append((row, len(prefix.rstrip(" \t\f")), end_row, end_col, ""))
    if docstrings:
        for node in ast.walk(tree):
            doc = _docstring(node)
            if doc is None or doc.end_lineno is None or doc.end_col_offset is None:
                continue
            row, end_row = doc.lineno, doc.end_lineno
            col, end_col = _column(lines[row - 1], doc.col_offset), _column(lines[end_row - 1], doc.end_col_offset)
            alone = (not lines[row - 1][:col].strip()
                     and (not (rest := lines[end_row - 1][end_col:].strip()) or rest.startswith("#")))
            sole = len(getattr(node, "body", ())) == 1
            replacement = "pass" if sole or not alone else ""
            edits.append((row, col, end_row, end_col, replacement))
    if not edits:
        return source
    edits.sort()
    for (_, _, end_row, end_col, _), (row, col, _, _, _) in zip(edits, edits[1:], strict=False):
        if (row, col) < (end_row, end_col):
            raise ValueError(f"overlapping edits at line {row}")
    for row, col, end_row, end_col, replacement in reversed(edits):
        first, last = lines[row - 1], lines[end_row - 1]
        head = first[:col] + replacement
        if not replacement:
            head = head.rstrip(" \t\f")
        tail = last[end_col:].rstrip("\r\n")
        code = head + tail if tail.strip() else head
        lines[row - 1] = (code if code.strip() else "") + _ending(first)
        for other in range(row, end_row):  # a multi-line docstring's other lines: empty
            lines[other] = _ending(lines[other])
    return "".join(lines)


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


class _Normal(ast.NodeTransformer):
    """Drops docstrings (when asked) and `pass` statements, so that a stripped tree compares equal."""

    def __init__(self, docstrings: bool) -> None:
        self.docstrings = docstrings

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if self.docstrings and _docstring(node) is not None:
            body = getattr(node, "body")  # noqa: B009 (a _DOCUMENTED node)
            setattr(node, "body", body[1:])  # noqa: B010
        return super().generic_visit(node)

    def visit_Pass(self, node: ast.Pass) -> None:
        return None


def _normal(source: str, filename: str, docstrings: bool) -> str:
    return ast.dump(_Normal(docstrings).visit(ast.parse(source, filename)), include_attributes=False)


def verify(original: str, stripped: str, filename: str = "<stripped>", *, docstrings: bool = True) -> str | None:
    """None when `stripped` compiles and means what `original` does (docstrings aside, when `docstrings`);
    otherwise why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings the original has too
            compile(stripped, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return f"does not compile: {error}"
    if stripped.count("\n") != original.count("\n"):
        return "the line count changed"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if _normal(original, filename, docstrings) != _normal(stripped, filename, docstrings):
                return "its AST differs from the original's"
    except (SyntaxError, ValueError, RecursionError) as error:
        return f"cannot compare ASTs: {error}"
    return None


def _keeps_docstrings(name: str, keep: Iterable[str]) -> bool:
    return any(name == k or (k.endswith("/") and name.startswith(k)) for k in keep)


def strip_files(files: Mapping[str, str], keep_docstrings: Iterable[str] = KEEP_DOCSTRINGS
                ) -> tuple[dict[str, str], dict[str, str]]:
    """(stripped sources by name, reasons by name for the files kept as they are). Only files that changed and
    passed `verify` are in the first."""
    keep = tuple(keep_docstrings)
    stripped: dict[str, str] = {}
    failed: dict[str, str] = {}
    for name, source in sorted(files.items()):
        docstrings = not _keeps_docstrings(name, keep)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = strip_source(source, docstrings=docstrings)
        except (SyntaxError, ValueError, tokenize.TokenError, RecursionError) as error:
            failed[name] = f"cannot strip: {type(error).__name__}: {error}"
            continue
        if result == source:
            continue
        reason = verify(source, result, name, docstrings=docstrings)
        if reason is None:
            stripped[name] = result
        else:
            failed[name] = reason
    return stripped, failed


def strip_files_json(source: str, target: str) -> None:
    """`strip_files` from a JSON file (`{"files": {name: text}, "keep_docstrings": [...]}`) to a JSON file
    (`{"files": ..., "failed": ..., "python": sys.version}`): what `pystrip.mjs` runs inside Pyodide."""
    with open(source, encoding="utf-8") as handle:
        request = json.load(handle)
    stripped, failed = strip_files(request["files"], request.get("keep_docstrings", KEEP_DOCSTRINGS))
    with open(target, "w", encoding="utf-8") as handle:
        json.dump({"files": stripped, "failed": failed, "python": sys.version}, handle)
