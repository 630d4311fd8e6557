"""`python -m tracker build --out dist/`: the files a merchant hosts (see `tracker.build`);
`python -m tracker protocol-js`: static/tracker/protocol.js, the JSDoc mirror of tracker/core/protocol.py. Not
shipped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import Options, Sources, build, is_current
from .build.minify import MinifyError

#: The JSDoc mirror of tracker/core/protocol.py, in a source checkout.
PROTOCOL_JS = Path(__file__).resolve().parent.parent / "static" / "tracker" / "protocol.js"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("build", help="write the tracker's hosted files, embed.html and manifest.json")
    command.add_argument("--out", type=Path, default=Path("dist"), help="output directory (default: %(default)s)")
    command.add_argument("--base-url", default="/dist/",
                         help="where the output is hosted, an absolute path or URL on the store's origin "
                              "(default: %(default)s)")
    command.add_argument("--full-stdlib", action="store_true",
                         help="ship Pyodide's standard library as it is (no trimming)")
    command.add_argument("--keep-docstrings", action="store_true",
                         help="trim the standard library without stripping its docstrings and comments")
    command.add_argument("--if-stale", action="store_true",
                         help="build only when the output is missing or its sources changed (scripts/setup.sh)")
    protocol = commands.add_parser("protocol-js", help="print static/tracker/protocol.js (JSDoc typedefs and codes)")
    protocol.add_argument("--write", action="store_true", help="write it instead of printing it")
    args = parser.parse_args(argv)
    if args.command == "protocol-js":
        from .core.protocol import jsdoc
        if args.write:
            PROTOCOL_JS.write_text(jsdoc(), encoding="utf-8")
        else:
            sys.stdout.write(jsdoc())
        return 0
    options = Options(base_url=args.base_url, full_stdlib=args.full_stdlib, keep_docstrings=args.keep_docstrings)
    if args.if_stale and is_current(args.out, Sources.default(), options):
        print(f"{args.out}/manifest.json is current")
        return 0
    try:
        manifest = build(args.out, options=options)
    except MinifyError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    total = 0
    for name, entry in sorted(manifest["files"].items()):
        total += entry["bytes"]
        encodings = ", ".join(f"{k} {v['bytes']:,}" for k, v in (entry.get("encodings") or {}).items())
        print(f"{name:<22} {entry['bytes']:>11,} B  {entry['url']}" + (f"  ({encodings})" if encodings else ""))
    print(f"{args.out}/manifest.json: tracker {manifest['version']}, Pyodide {manifest['pyodide']}, "
          f"stdlib {manifest['stdlib']}, {len(manifest['files'])} files, {total:,} B, "
          f"{manifest.get('build_seconds', 0):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
