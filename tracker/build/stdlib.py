"""A trimmed `python_stdlib.zip`: only the standard library modules Pyodide's start-up and the tracker import.

Pyodide's `python_stdlib.zip` holds the whole standard library as `.py` sources (~2.5 MB); the worker imports
a small part of it. `trim_stdlib` keeps the modules listed in `stdlib_keep.txt` (next to this file; how that
list is produced is written at its top) and their parent packages, and writes a deterministic zip: entries
sorted, stamped 1980-01-01, mode 0644, made on Unix. Entries are stored uncompressed by default: the zip is
then served with a Content-Encoding (zstd, gzip) that compresses across files, which is smaller on the wire
than per-entry deflate; `deflate=True` deflates each entry instead (for hosts that serve the zip as it is).
`strip=True` also takes the docstrings and comments out of the kept `.py` files (`tracker.build.pystrip`), in
Pyodide's own Python run by Node (`pyodide_stripper`), each result verified there (it compiles, and its AST is
the original's less the docstrings); a file that fails keeps its original text, and without Node or Pyodide
nothing is stripped (a note on stderr).

`python -m tracker.build.stdlib trim SOURCE OUT` writes a trimmed zip, stripped unless `--keep-docstrings`;
`python -m tracker.build.stdlib keep SOURCE TRACE` rewrites the traced section of `stdlib_keep.txt` from a list
of imported modules (the JSON that `tests/pyodide/worker_flow.mjs --modules` writes).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

__all__ = ["KEEP_FILE", "ZIP_TIME", "StdlibError", "StripUnavailable", "Stripper", "pyodide_stripper", "trim_stdlib",
           "read_keep", "load_keep", "stdlib_index", "resolve_keep", "traced_modules", "main"]

KEEP_FILE = Path(__file__).resolve().with_name("stdlib_keep.txt")
_HERE = KEEP_FILE.parent
_REPO = _HERE.parent.parent
#: {path in the zip: source} → {path: stripped source} for the files it stripped (the others stay as they are).
Stripper = Callable[[Mapping[str, str]], Mapping[str, str]]
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: One line of the keep list: a dotted module name (`_sysconfigdata_...` names carry a hyphen), or `package.*`
#: for a whole package tree (every file under it, data files included).
_NAME = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*(\.\*)?$")
#: The markers of the keep list's traced section (rewritten by `keep`); the rest of the file is kept as it is.
TRACED_BEGIN = "# -- traced: begin"
TRACED_END = "# -- traced: end"


class StdlibError(ValueError):
    """The source is not a standard library zip, or the keep list names what it does not hold."""


def read_keep(text: str) -> list[str]:
    """The names of a keep list: one per line, `#` comments and blank lines ignored, order and duplicates kept
    out (sorted, unique). StdlibError for a line that is not a module name."""
    names = set()
    for number, line in enumerate(text.splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if not _NAME.match(name):
            raise StdlibError(f"keep list line {number}: {name!r} is not a module name (or package.*)")
        names.add(name)
    return sorted(names)


def load_keep(path: Path = KEEP_FILE) -> list[str]:
    """The keep list at `path` (by default `stdlib_keep.txt` next to this module)."""
    return read_keep(path.read_text(encoding="utf-8"))


def _open(source_zip: bytes) -> zipfile.ZipFile:
    if not isinstance(source_zip, (bytes, bytearray, memoryview)):
        raise StdlibError(f"source_zip must be bytes, not {type(source_zip).__name__}")
    try:
        return zipfile.ZipFile(io.BytesIO(bytes(source_zip)))
    except zipfile.BadZipFile as error:
        raise StdlibError(f"source_zip is not a zip archive ({error})") from None


def stdlib_index(archive: zipfile.ZipFile) -> dict[str, str]:
    """Module name → path in the zip, for every `.py` file (`pkg/__init__.py` is module `pkg`)."""
    modules: dict[str, str] = {}
    for name in archive.namelist():
        path = PurePosixPath(name)
        if name.endswith("/") or path.suffix != ".py":
            continue
        parts = list(path.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            modules.setdefault(".".join(parts), name)
    return modules


def resolve_keep(archive: zipfile.ZipFile, keep: Iterable[str]) -> list[str]:
    """The paths in `archive` that `keep` calls for, parent packages' `__init__.py` included, sorted.
    StdlibError names every entry of `keep` the archive does not hold."""
    modules = stdlib_index(archive)
    files = [n for n in archive.namelist() if not n.endswith("/")]
    if "encodings" not in modules:
        raise StdlibError("source_zip holds no standard library (no encodings package)")
    chosen: set[str] = set()
    missing = []
    for raw in keep:
        name = raw.strip()
        if not _NAME.match(name):
            raise StdlibError(f"{name!r} is not a module name (or package.*)")
        if name.endswith(".*"):
            package = name[:-2]
            path = modules.get(package)
            if path is None or not path.endswith("/__init__.py"):
                missing.append(name)
                continue
            prefix = path[: -len("__init__.py")]
            chosen.update(f for f in files if f.startswith(prefix))
            name = package
        elif name in modules:
            chosen.add(modules[name])
        else:
            missing.append(name)
            continue
        parts = name.split(".")
        for depth in range(1, len(parts)):  # the parent packages
            parent = modules.get(".".join(parts[:depth]))
            if parent is not None and parent.endswith("/__init__.py"):
                chosen.add(parent)
    if missing:
        raise StdlibError(f"not in source_zip: {', '.join(sorted(missing))} (is the keep list for another "
                          "Pyodide version?)")
    return sorted(chosen)


class StripUnavailable(StdlibError):
    """No Node or no Pyodide to strip with."""


def pyodide_stripper(pyodide_dir: Path | None = None, cache_dir: Path | None = None,
                     timeout: float = 600.0, required: bool = False) -> Stripper:
    """A Stripper that runs `tracker.build.pystrip.strip_files` in the Pyodide at `pyodide_dir` (default
    `node_modules/pyodide`) with Node (`pystrip.mjs`). Results are cached in `cache_dir` (default
    `node_modules/.cache/glood-stdlib-strip/`) by the sha256 of the request, the stripper's code and Pyodide's
    package.json. Failing files are reported on stderr. StripUnavailable when Node or Pyodide is missing or the
    run fails (a plain StdlibError, which trim_stdlib does not pass over, when `required`)."""
    index = pyodide_dir or _REPO / "node_modules" / "pyodide"
    cache = cache_dir or _REPO / "node_modules" / ".cache" / "glood-stdlib-strip"

    def strip(files: Mapping[str, str]) -> Mapping[str, str]:
        try:
            return run(files)
        except StripUnavailable as error:
            if required:
                raise StdlibError(str(error)) from None
            raise

    def run(files: Mapping[str, str]) -> Mapping[str, str]:
        node = shutil.which("node")
        if node is None or not (index / "pyodide.mjs").is_file():
            raise StripUnavailable(f"stripping needs node and Pyodide ({index}): not found")
        from .pystrip import KEEP_DOCSTRINGS
        request = json.dumps({"files": dict(sorted(files.items())), "keep_docstrings": list(KEEP_DOCSTRINGS)},
                             sort_keys=True).encode("utf-8")
        digest = hashlib.sha256(request)
        for part in ((_HERE / "pystrip.py").read_bytes(), (_HERE / "pystrip.mjs").read_bytes(),
                     (index / "package.json").read_bytes()):
            digest.update(hashlib.sha256(part).digest())
        cached = cache / f"{digest.hexdigest()}.json"
        try:
            result = json.loads(cached.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
        if not isinstance(result, dict):
            with tempfile.TemporaryDirectory(prefix="glood-pystrip-") as work:
                asked, answer = Path(work) / "request.json", Path(work) / "result.json"
                asked.write_bytes(request)
                try:
                    done = subprocess.run([node, str(_HERE / "pystrip.mjs"), str(index), str(asked), str(answer)],
                                          capture_output=True, text=True, timeout=timeout)
                except (OSError, subprocess.SubprocessError) as error:
                    raise StripUnavailable(f"stripping in Pyodide failed: {error}") from None
                if done.returncode != 0:
                    raise StripUnavailable(f"stripping in Pyodide failed: {done.stderr.strip()[-2000:]}")
                text = answer.read_text(encoding="utf-8")
            result = json.loads(text)
            try:
                cache.mkdir(parents=True, exist_ok=True)
                partial = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
                partial.write_text(text, encoding="utf-8")
                partial.replace(cached)
            except OSError:
                pass
        for name, reason in sorted(dict(result.get("failed") or {}).items()):
            print(f"stdlib: {name} kept as it is ({reason})", file=sys.stderr)
        stripped = result.get("files")
        if not isinstance(stripped, dict):
            raise StripUnavailable("stripping in Pyodide: no result")
        return {str(k): str(v) for k, v in stripped.items()}

    return strip


def _stripped(archive: zipfile.ZipFile, paths: Sequence[str], stripper: Stripper) -> dict[str, bytes]:
    """The stripped `.py` files of `paths` (UTF-8; others and undecodable ones are left out)."""
    sources: dict[str, str] = {}
    for path in paths:
        if path.endswith(".py"):
            try:
                sources[path] = archive.read(path).decode("utf-8")
            except (UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError):
                continue
    try:
        stripped = stripper(sources)
    except StripUnavailable as error:
        print(f"stdlib: not stripped: {error}", file=sys.stderr)
        return {}
    return {name: text.encode("utf-8") for name, text in stripped.items() if name in sources}


def trim_stdlib(source_zip: bytes, keep: Iterable[str] | None = None, *, deflate: bool = False,
                strip: bool = False, stripper: Stripper | None = None) -> bytes:
    """`source_zip` (Pyodide's python_stdlib.zip) with only the modules `keep` names (default: `stdlib_keep.txt`)
    and their parent packages; a deterministic zip (sorted entries, fixed time and modes). Entries are stored
    (the zip is meant to be served with Content-Encoding) unless `deflate`. With `strip`, the `.py` files lose
    their docstrings and comments through `stripper` (default `pyodide_stripper()`; see the module's doc).
    StdlibError (a ValueError) when the source is not a zip or lacks a kept module."""
    names = load_keep() if keep is None else ([keep] if isinstance(keep, str) else list(keep))
    if not names:
        raise StdlibError("the keep list is empty")
    with _open(source_zip) as archive:
        paths = resolve_keep(archive, names)
        replaced = _stripped(archive, paths, stripper or pyodide_stripper()) if strip else {}
        directories = sorted({str(p) + "/" for path in paths for p in PurePosixPath(path).parents
                              if str(p) != "."})
        out = io.BytesIO()
        method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        with zipfile.ZipFile(out, "w") as trimmed:
            for entry in sorted([*directories, *paths]):
                info = zipfile.ZipInfo(entry, date_time=ZIP_TIME)
                info.create_system = 3
                if entry.endswith("/"):
                    info.external_attr = (0o40755 << 16) | 0x10
                    trimmed.writestr(info, b"")
                    continue
                info.external_attr = 0o100644 << 16
                info.compress_type = method
                try:
                    data = replaced[entry] if entry in replaced else archive.read(entry)
                except (zipfile.BadZipFile, OSError, EOFError) as error:
                    raise StdlibError(f"source_zip: {entry} cannot be read ({error})") from None
                trimmed.writestr(info, data, compress_type=method, compresslevel=9 if deflate else None)
    return out.getvalue()


def traced_modules(source_zip: bytes, imported: Iterable[str]) -> list[str]:
    """Of the modules a traced run imported (`sys.modules`), those the source zip holds, sorted."""
    with _open(source_zip) as archive:
        modules = stdlib_index(archive)
    return sorted({name for name in imported if name in modules})


def _rewrite_traced(text: str, traced: Sequence[str]) -> str:
    lines = text.splitlines()
    try:
        begin = next(i for i, line in enumerate(lines) if line.startswith(TRACED_BEGIN))
        end = next(i for i, line in enumerate(lines) if line.startswith(TRACED_END))
    except StopIteration:
        raise StdlibError(f"the keep list has no '{TRACED_BEGIN}' ... '{TRACED_END}' section") from None
    return "\n".join([*lines[: begin + 1], *traced, *lines[end:]]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.build.stdlib", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    trim = commands.add_parser("trim", help="write a trimmed python_stdlib.zip")
    trim.add_argument("source", type=Path, help="Pyodide's python_stdlib.zip")
    trim.add_argument("out", type=Path)
    trim.add_argument("--keep", type=Path, default=KEEP_FILE, help="the keep list (default: %(default)s)")
    trim.add_argument("--deflate", action="store_true", help="deflate each entry (default: stored)")
    trim.add_argument("--keep-docstrings", action="store_true",
                      help="leave docstrings and comments in (default: stripped, in Pyodide's Python)")
    trim.add_argument("--require-strip", action="store_true",
                      help="fail when stripping cannot run (no Node or Pyodide) instead of leaving it out")
    keep = commands.add_parser("keep", help="rewrite the keep list's traced section from a trace")
    keep.add_argument("source", type=Path, help="Pyodide's python_stdlib.zip")
    keep.add_argument("trace", type=Path, help="JSON list of imported modules (worker_flow.mjs --modules)")
    keep.add_argument("--keep", type=Path, default=KEEP_FILE, help="the keep list (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        source = args.source.read_bytes()
        if args.command == "trim":
            stripper = pyodide_stripper(required=args.require_strip)
            data = trim_stdlib(source, load_keep(args.keep), deflate=args.deflate, strip=not args.keep_docstrings,
                               stripper=stripper)
            args.out.write_bytes(data)
            print(f"{args.out}: {len(data):,} bytes ({len(source):,} before)")
        else:
            imported = json.loads(args.trace.read_text(encoding="utf-8"))
            if not isinstance(imported, list) or not all(isinstance(n, str) for n in imported):
                raise StdlibError(f"{args.trace}: not a JSON list of module names")
            traced = traced_modules(source, imported)
            args.keep.write_text(_rewrite_traced(args.keep.read_text(encoding="utf-8"), traced), encoding="utf-8")
            print(f"{args.keep}: {len(traced)} traced modules")
    except (OSError, ValueError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
