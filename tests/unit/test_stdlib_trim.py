"""Unit tests for tracker.build.stdlib (the trimmed python_stdlib.zip), on small zips and on Pyodide's own."""

from __future__ import annotations

import io
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from tracker.build.stdlib import (
    KEEP_FILE,
    TRACED_BEGIN,
    TRACED_END,
    ZIP_TIME,
    StdlibError,
    load_keep,
    main,
    read_keep,
    traced_modules,
    trim_stdlib,
)

ROOT = Path(__file__).resolve().parents[2]
PYODIDE_STDLIB = next((p for p in (ROOT / "node_modules" / "pyodide" / "python_stdlib.zip",
                                   ROOT / "static" / "vendor" / "pyodide" / "python_stdlib.zip") if p.is_file()), None)
needs_pyodide = pytest.mark.skipif(PYODIDE_STDLIB is None, reason="no vendored Pyodide (bash scripts/setup.sh)")

#: A small standard library: (path, content, date).
FILES = [
    ("encodings/__init__.py", b"# codecs\n", (2026, 9, 14, 3, 3, 52)),
    ("encodings/utf_8.py", b"NAME = 'utf-8'\n", (2026, 9, 14, 3, 3, 52)),
    ("encodings/cp1252.py", b"NAME = 'cp1252'\n", (2026, 9, 14, 3, 3, 52)),
    ("json/__init__.py", b"from .decoder import x\n", (2025, 1, 2, 3, 4, 6)),
    ("json/decoder.py", b"x = 1\n", (2025, 1, 2, 3, 4, 6)),
    ("json/tool.py", b"TOOL = True\n", (2025, 1, 2, 3, 4, 6)),
    ("pyodide/__init__.py", b"", (2024, 5, 5, 5, 5, 4)),
    ("pyodide/py.typed", b"", (2024, 5, 5, 5, 5, 4)),
    ("pyodide/ffi/__init__.py", b"FFI = 1\n", (2024, 5, 5, 5, 5, 4)),
    ("pyodide/ffi/wrappers.py", b"W = 2\n", (2024, 5, 5, 5, 5, 4)),
    ("glood_trim_probe.py", b"VALUE = 'from the trimmed zip'\n", (2024, 5, 5, 5, 5, 4)),
    ("xml/__init__.py", b"", (2024, 5, 5, 5, 5, 4)),
    ("xml/dom.py", b"", (2024, 5, 5, 5, 5, 4)),
    ("typing.py", b"T = 0\n", (2024, 5, 5, 5, 5, 4)),
]


def make_zip(files: list[tuple[str, bytes, tuple[int, int, int, int, int, int]]] = FILES,
             directories: bool = True) -> bytes:
    """A deflated zip of `files` in the given order, with directory entries as Pyodide's has them."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        seen: set[str] = set()
        for path, data, date in files:
            if directories and "/" in path and path.rsplit("/", 1)[0] + "/" not in seen:
                seen.add(path.rsplit("/", 1)[0] + "/")
                archive.writestr(zipfile.ZipInfo(path.rsplit("/", 1)[0] + "/", date_time=date), b"")
            archive.writestr(zipfile.ZipInfo(path, date_time=date), data)
    return out.getvalue()


def names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


KEEP = ["encodings", "encodings.utf_8", "json.decoder", "pyodide.ffi.*", "typing", "glood_trim_probe"]


def test_keeps_the_named_modules_and_their_parent_packages():
    """Named modules stay, with the __init__.py of every package above them, and nothing else."""
    kept = [n for n in names(trim_stdlib(make_zip(), KEEP)) if not n.endswith("/")]
    assert kept == ["encodings/__init__.py", "encodings/utf_8.py", "glood_trim_probe.py", "json/__init__.py",
                    "json/decoder.py", "pyodide/__init__.py", "pyodide/ffi/__init__.py", "pyodide/ffi/wrappers.py",
                    "typing.py"]


def test_a_package_line_keeps_only_its_init():
    """`json` keeps json/__init__.py, not the package's other modules."""
    kept = names(trim_stdlib(make_zip(), ["encodings", "json"]))
    assert "json/__init__.py" in kept and "json/decoder.py" not in kept and "json/tool.py" not in kept


def test_a_star_line_keeps_the_whole_tree_with_data_files():
    """`pyodide.*` keeps every file under pyodide/ (py.typed too)."""
    kept = names(trim_stdlib(make_zip(), ["encodings", "pyodide.*"]))
    expected = {"pyodide/__init__.py", "pyodide/py.typed", "pyodide/ffi/__init__.py", "pyodide/ffi/wrappers.py"}
    assert expected <= set(kept)


def test_output_is_deterministic():
    """The same input and keep list give the same bytes, whatever the source's entry order and dates."""
    shuffled = [(p, d, (2030, 12, 31, 23, 59, 58)) for p, d, _ in reversed(FILES)]
    first = trim_stdlib(make_zip(), KEEP)
    assert first == trim_stdlib(make_zip(), list(reversed(KEEP)))
    assert first == trim_stdlib(make_zip(shuffled, directories=False), KEEP)


def test_entries_are_sorted_with_fixed_times_and_modes():
    """Entries come sorted, stamped 1980-01-01, made on Unix, files 0644 and directories 0755."""
    with zipfile.ZipFile(io.BytesIO(trim_stdlib(make_zip(), KEEP))) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {ZIP_TIME}
    assert {i.create_system for i in infos} == {3}
    for info in infos:
        assert info.external_attr >> 16 == (0o40755 if info.is_dir() else 0o100644)


def test_entries_are_stored_by_default_and_deflated_on_request():
    """Stored entries (for Content-Encoding on the wire) by default; `deflate=True` deflates them."""
    for deflate, method in ((False, zipfile.ZIP_STORED), (True, zipfile.ZIP_DEFLATED)):
        with zipfile.ZipFile(io.BytesIO(trim_stdlib(make_zip(), KEEP, deflate=deflate))) as archive:
            assert {i.compress_type for i in archive.infolist() if not i.is_dir()} == {method}
            assert archive.read("json/decoder.py") == b"x = 1\n"


def test_the_trimmed_zip_is_importable_with_zipimport(tmp_path, monkeypatch):
    """A module of the trimmed zip imports from it through zipimport (as Pyodide's sys.path uses the zip)."""
    path = tmp_path / "python_stdlib.zip"
    path.write_bytes(trim_stdlib(make_zip(), KEEP))
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.delitem(sys.modules, "glood_trim_probe", raising=False)
    import glood_trim_probe  # type: ignore[import-not-found]

    assert glood_trim_probe.VALUE == "from the trimmed zip"
    assert glood_trim_probe.__file__.startswith(str(path))


def test_not_a_zip_raises_a_clear_error():
    """Bytes that are not a zip raise StdlibError (a ValueError) saying so."""
    with pytest.raises(StdlibError, match="not a zip archive"):
        trim_stdlib(b"PK\x03\x04 but nothing else", KEEP)
    with pytest.raises(ValueError, match="not a zip archive"):
        trim_stdlib(b"", KEEP)


def test_non_bytes_input_raises():
    """A path or text instead of the zip's bytes is refused by type."""
    with pytest.raises(StdlibError, match="must be bytes"):
        trim_stdlib("python_stdlib.zip", KEEP)  # type: ignore[arg-type]


def test_a_zip_without_a_standard_library_raises():
    """A zip with no encodings package is not a standard library."""
    with pytest.raises(StdlibError, match="no standard library"):
        trim_stdlib(make_zip([("hello.py", b"", ZIP_TIME)]), ["hello"])


def test_a_kept_module_the_zip_lacks_raises_naming_it():
    """Every kept name the source does not hold is named in the error (a typo never drops a module quietly)."""
    with pytest.raises(StdlibError, match="not in source_zip: asyncio, json.nope"):
        trim_stdlib(make_zip(), ["encodings", "json.nope", "asyncio"])
    with pytest.raises(StdlibError, match="typing.*"):
        trim_stdlib(make_zip(), ["encodings", "typing.*"])  # a module, not a package


def test_bad_keep_lines_and_an_empty_list_raise():
    """A keep line that is not a module name, or an empty list, is refused."""
    with pytest.raises(StdlibError, match="line 2"):
        read_keep("json\nnot a module\n")
    with pytest.raises(StdlibError, match="not a module name"):
        trim_stdlib(make_zip(), ["encodings", "../etc/passwd"])
    with pytest.raises(StdlibError, match="empty"):
        trim_stdlib(make_zip(), [])


def test_read_keep_ignores_comments_and_blank_lines():
    """Comments (whole-line or trailing) and blank lines are not names; names come sorted and unique."""
    assert read_keep("# head\n\njson  # why\nasyncio\njson\n_pyodide.*\n") == ["_pyodide.*", "asyncio", "json"]


def test_traced_modules_keeps_only_what_the_zip_holds():
    """A trace's built-in and tracker modules are dropped; stdlib ones (packages too) stay."""
    assert traced_modules(make_zip(), ["sys", "_json", "json", "json.decoder", "tracker.core", "typing"]) == [
        "json", "json.decoder", "typing"]


def test_keep_command_rewrites_only_the_traced_section(tmp_path):
    """`keep` replaces what is between the traced markers and leaves the rest of the file as it was."""
    source, trace, keep = tmp_path / "stdlib.zip", tmp_path / "trace.json", tmp_path / "keep.txt"
    source.write_bytes(make_zip())
    trace.write_text('["sys", "typing", "json.decoder"]', encoding="utf-8")
    keep.write_text(f"# head\n{TRACED_BEGIN}\nold\n{TRACED_END}\nencodings.utf_8\n", encoding="utf-8")
    assert main(["keep", str(source), str(trace), "--keep", str(keep)]) == 0
    assert keep.read_text(encoding="utf-8") == (f"# head\n{TRACED_BEGIN}\njson.decoder\ntyping\n{TRACED_END}\n"
                                                "encodings.utf_8\n")
    out = tmp_path / "trimmed.zip"
    assert main(["trim", str(source), str(out), "--keep", str(keep)]) == 0
    assert "json/decoder.py" in names(out.read_bytes())
    assert main(["trim", str(tmp_path / "missing.zip"), str(out)]) == 2


def test_the_keep_file_has_its_traced_section_and_essentials():
    """stdlib_keep.txt parses, has a non-empty traced section, and names what Pyodide's start-up needs."""
    text = KEEP_FILE.read_text(encoding="utf-8")
    traced = text.split(TRACED_BEGIN, 1)[1].split(TRACED_END, 1)[0]
    assert len(read_keep(traced.split("\n", 1)[1])) > 100
    keep = set(load_keep())
    assert {"encodings", "encodings.utf_8", "encodings.cp437", "asyncio", "json", "re", "datetime", "uuid",
            "email.utils", "pyodide.webloop", "_pyodide.*", "importlib.metadata"} <= keep


@needs_pyodide
def test_pyodides_zip_trimmed_keeps_what_the_tracker_needs():
    """Trimming Pyodide's zip keeps start-up's and the tracker's modules (and their packages)."""
    assert PYODIDE_STDLIB is not None
    kept = set(names(trim_stdlib(PYODIDE_STDLIB.read_bytes())))
    for path in ("encodings/__init__.py", "encodings/utf_8.py", "encodings/aliases.py", "encodings/cp437.py",
                 "asyncio/__init__.py", "asyncio/base_events.py", "json/__init__.py", "json/decoder.py",
                 "re/__init__.py", "re/_parser.py", "datetime.py", "uuid.py", "email/__init__.py", "email/utils.py",
                 "email/_parseaddr.py", "urllib/parse.py", "dataclasses.py", "typing.py", "random.py",
                 "_pyodide/__init__.py", "_pyodide/_base.py", "pyodide/__init__.py", "pyodide/webloop.py",
                 "pyodide/ffi/__init__.py", "pyodide/_package_loader.py", "importlib/metadata/__init__.py",
                 "zipfile/__init__.py", "shutil.py", "traceback.py", "linecache.py", "tokenize.py", "site.py"):
        assert path in kept, path


@needs_pyodide
def test_pyodides_zip_trimmed_drops_what_nothing_imports():
    """xml, unittest, multiprocessing, _pyrepl, http, email's parsers and most codecs are left out; it shrinks."""
    assert PYODIDE_STDLIB is not None
    source = PYODIDE_STDLIB.read_bytes()
    trimmed = trim_stdlib(source, deflate=True)
    kept = names(trimmed)
    for prefix in ("xml/", "unittest/", "multiprocessing/", "_pyrepl/", "http/", "xmlrpc/", "wsgiref/", "sqlite3/",
                   "email/mime/", "email/parser.py", "encodings/cp1252.py", "encodings/mac_roman.py", "pdb.py",
                   "doctest.py", "pydoc.py", "argparse.py", "pyodide/console.py"):
        assert not any(n.startswith(prefix) for n in kept), prefix
    assert len(trimmed) < len(source) * 0.4


# -- stripping docstrings and comments (tracker/build/pystrip.py, trim_stdlib(strip=True)) ---------------------

SOURCE = '''\
# -*- coding: utf-8 -*-
"""The module's docstring,
on two lines."""
from __future__ import annotations

import re  # a trailing comment

HASH = "# not a comment"
PATTERN = re.compile(r"""
    \\#[ ]x  # inside a raw multi-line string: kept
""")
TEXT = f"{HASH!r} # in an f-string"


class Empty(Exception):
    """Only a docstring: becomes pass."""


class Point:
    """Two lines
    of docstring."""

    x = 1  # comment

    def norm(self):
        "A one-line docstring."
        # a comment line
        return abs(self.x)


def one_liner(): "doc"; return 1


async def waits():
    """Async."""
    return None


def keeps_later_strings():
    value = 1
    """Not a docstring (not the first statement): kept."""
    return value
'''


def _strip(source: str, **kwargs: bool) -> str:
    from tracker.build.pystrip import strip_source
    return strip_source(source, **kwargs)


def test_strip_removes_comments_and_docstrings_keeping_every_line():
    """Comments and the docstrings of the module, classes and functions go; line numbers stay."""
    stripped = _strip(SOURCE)
    assert stripped.count("\n") == SOURCE.count("\n")
    assert "docstring," not in stripped and "of docstring" not in stripped
    assert "a comment line" not in stripped and "trailing comment" not in stripped
    assert "Async." not in stripped and "# comment" not in stripped
    lines = stripped.splitlines()
    assert lines[0] == "# -*- coding: utf-8 -*-"  # a coding declaration stays
    assert lines[5] == "import re"  # the space before a removed comment goes too
    assert "    pass" in lines[15]  # class Empty: its only statement was the docstring
    assert lines[30] == 'def one_liner(): pass; return 1'
    namespace: dict[str, object] = {}
    exec(compile(stripped, "<stripped>", "exec"), namespace)
    assert namespace["Point"].__doc__ is None and namespace["Empty"].__doc__ is None  # type: ignore[attr-defined]
    assert namespace["HASH"] == "# not a comment"
    assert namespace["TEXT"] == "'# not a comment' # in an f-string"
    assert "inside a raw multi-line string: kept" in namespace["PATTERN"].pattern  # type: ignore[attr-defined]
    assert namespace["one_liner"]() == 1  # type: ignore[operator]
    assert "Not a docstring" in stripped


def test_strip_can_keep_docstrings():
    """docstrings=False removes only comments."""
    stripped = _strip(SOURCE, docstrings=False)
    assert '"""The module\'s docstring,' in stripped and "A one-line docstring." in stripped
    assert "a comment line" not in stripped and stripped.count("\n") == SOURCE.count("\n")


def test_verify_accepts_the_stripped_source_and_rejects_a_changed_one():
    """verify(): compiles, same line count, and the same AST less docstrings and pass statements."""
    from tracker.build.pystrip import verify
    stripped = _strip(SOURCE)
    assert verify(SOURCE, stripped) is None
    assert verify(SOURCE, stripped.replace("return abs(self.x)", "return self.x")) == \
        "its AST differs from the original's"
    assert verify(SOURCE, stripped.replace('HASH = "# not a comment"', 'HASH = ""')) is not None
    assert "does not compile" in str(verify(SOURCE, stripped.replace("return 1", "return (1")))
    assert verify(SOURCE, stripped + "\n") == "the line count changed"
    assert verify(SOURCE, SOURCE, docstrings=False) is None


def test_strip_files_keeps_the_original_of_a_file_that_fails(monkeypatch):
    """A file that does not parse, or whose stripped text does not verify, is left out (kept as it is) with the
    reason; files under KEEP_DOCSTRINGS lose only their comments."""
    from tracker.build import pystrip
    files = {"good.py": SOURCE, "bad.py": "def broken(:\n", "_pyodide/_core_docs.py": SOURCE,
             "clean.py": "x = 1\n"}
    stripped, failed = pystrip.strip_files(files)
    assert set(stripped) == {"good.py", "_pyodide/_core_docs.py"} and set(failed) == {"bad.py"}
    assert "A one-line docstring." in stripped["_pyodide/_core_docs.py"]
    assert "A one-line docstring." not in stripped["good.py"] and "# comment" not in stripped["_pyodide/_core_docs.py"]
    real = pystrip.strip_source
    monkeypatch.setattr(pystrip, "strip_source", lambda source, **kw: real(source, **kw).replace("x = 1", "x = 2"))
    stripped, failed = pystrip.strip_files({"good.py": SOURCE})
    assert stripped == {} and failed == {"good.py": "its AST differs from the original's"}


def _local_stripper(files):
    from tracker.build.pystrip import strip_files
    return strip_files(files)[0]


def test_trim_with_strip_replaces_only_the_stripped_python_files():
    """strip=True puts the stripper's texts in place of the .py files; other files and failures stay as they
    are, and the zip is as deterministic as ever."""
    files = [*FILES, ("glood_strip_probe.py", SOURCE.encode(), (2024, 5, 5, 5, 5, 4)),
             ("pyodide/ffi/broken.py", b"def broken(:  # kept\n", (2024, 5, 5, 5, 5, 4))]
    keep = [*KEEP, "glood_strip_probe"]
    data = trim_stdlib(make_zip(files), keep, strip=True, stripper=_local_stripper)
    assert data == trim_stdlib(make_zip(files), keep, strip=True, stripper=_local_stripper)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        probe = archive.read("glood_strip_probe.py").decode()
        assert probe == _strip(SOURCE)
        assert archive.read("pyodide/ffi/broken.py") == b"def broken(:  # kept\n"
        assert archive.read("encodings/__init__.py") == b"\n"  # was "# codecs"
        assert archive.read("json/decoder.py") == b"x = 1\n"
    assert names(data) == names(trim_stdlib(make_zip(files), keep))


def test_trim_without_a_stripper_leaves_the_files_as_they_are(capsys):
    """When stripping cannot run (no Node or Pyodide), the zip is the unstripped one, with a note on stderr;
    with required=True (`trim --require-strip`) it is an error."""
    from tracker.build.stdlib import StripUnavailable, pyodide_stripper

    def unavailable(files):
        raise StripUnavailable("no node")

    assert trim_stdlib(make_zip(), KEEP, strip=True, stripper=unavailable) == trim_stdlib(make_zip(), KEEP)
    assert "not stripped: no node" in capsys.readouterr().err
    missing = pyodide_stripper(Path("/nonexistent-pyodide"), required=True)
    with pytest.raises(StdlibError, match="needs node and Pyodide"):
        trim_stdlib(make_zip(), KEEP, strip=True, stripper=missing)


def test_trim_command_strips_unless_told_not_to(tmp_path, monkeypatch):
    """`trim` strips by default; `--keep-docstrings` leaves the files as they are."""
    from tracker.build import stdlib
    monkeypatch.setattr(stdlib, "pyodide_stripper", lambda **kw: _local_stripper)
    files = [*FILES, ("glood_strip_probe.py", SOURCE.encode(), (2024, 5, 5, 5, 5, 4))]
    (tmp_path / "source.zip").write_bytes(make_zip(files))
    (tmp_path / "keep.txt").write_text("\n".join([*KEEP, "glood_strip_probe"]) + "\n")
    for flags, expected in (([], _strip(SOURCE)), (["--keep-docstrings"], SOURCE)):
        out = tmp_path / "out.zip"
        assert main(["trim", str(tmp_path / "source.zip"), str(out), "--keep", str(tmp_path / "keep.txt"),
                     *flags]) == 0
        with zipfile.ZipFile(out) as archive:
            assert archive.read("glood_strip_probe.py").decode() == expected


NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None or PYODIDE_STDLIB is None or
                                not (ROOT / "node_modules" / "pyodide" / "pyodide.mjs").is_file(),
                                reason="needs node and node_modules/pyodide (bash scripts/setup.sh)")


@needs_node
def test_pyodide_stripper_runs_in_python_3_14(tmp_path, capsys):
    """pyodide_stripper strips in Pyodide's Python: 3.14-only syntax (PEP 758's unparenthesized except, a
    t-string) is stripped and verified there; a file that does not parse is left out and named on stderr."""
    from tracker.build.stdlib import pyodide_stripper
    modern = ('"""doc"""\ntry:\n    pass  # c\nexcept ValueError, TypeError:\n    pass\n'
              'def f(x):\n    """doc"""\n    return t"{x}"  # template\n')
    strip = pyodide_stripper(cache_dir=tmp_path)
    result = strip({"modern.py": modern, "bad.py": "def (:\n"})
    assert result == {"modern.py": "\ntry:\n    pass\nexcept ValueError, TypeError:\n    pass\n"
                                   "def f(x):\n\n    return t\"{x}\"\n"}
    assert "bad.py kept as it is" in capsys.readouterr().err
    assert list(tmp_path.glob("*.json"))  # cached: a second call does not start node
    assert strip({"modern.py": modern, "bad.py": "def (:\n"}) == result


@needs_node
def test_pyodides_zip_stripped_in_pyodide_keeps_every_module(capsys):
    """The kept standard library, stripped in Pyodide: every .py file is still there, nearly all of them
    smaller (none fails verification), `_pyodide`'s docstrings stay, and the zip shrinks by more than a quarter."""
    assert PYODIDE_STDLIB is not None
    source = PYODIDE_STDLIB.read_bytes()
    plain, stripped = trim_stdlib(source), trim_stdlib(source, strip=True)
    assert "kept as it is" not in capsys.readouterr().err
    assert names(plain) == names(stripped) and len(stripped) < len(plain) * 0.75
    with zipfile.ZipFile(io.BytesIO(plain)) as before, zipfile.ZipFile(io.BytesIO(stripped)) as after:
        smaller = [n for n in before.namelist() if n.endswith(".py") and len(after.read(n)) < len(before.read(n))]
        assert len(smaller) > 150
        assert b'"""' in after.read("_pyodide/_core_docs.py")
        assert after.read("asyncio/tasks.py").count(b"\n") == before.read("asyncio/tasks.py").count(b"\n")
