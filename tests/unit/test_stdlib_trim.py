"""Unit tests for tracker.build.stdlib (the trimmed python_stdlib.zip), on small zips and on Pyodide's own."""

from __future__ import annotations

import io
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
