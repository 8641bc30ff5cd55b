#!/usr/bin/env python3
"""Checks every #include under src/ against the layering matrix in README.md.

The matrix is the table between <!-- layering:begin --> and <!-- layering:end --> in README's
architecture section: one row per folder, the folders it may include (its own always) and the
outside headers it must never include (glob patterns: a GPU device must not pull gRPC into the
engine, the guest runtime must not link the RPC layer, ...). The table is the single source:
README shows it to people, this test holds the code to it.

A file in a folder the matrix lacks fails too, so a new folder is a decision written down.

Usage: layering_test.py [--root DIR] [--plant FILE=HEADER]
  --plant pretends FILE (relative to src/) also includes HEADER ("<...>" for an outside one);
  the test must then fail
  (ctest runs one planted violation with WILL_FAIL to prove the checker bites).
"""
import argparse
import fnmatch
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def read_matrix(readme):
    text = readme.read_text(encoding="utf-8")
    m = re.search(r"<!-- layering:begin -->(.*?)<!-- layering:end -->", text, re.S)
    if not m:
        sys.exit(f"{readme}: no <!-- layering:begin --> ... <!-- layering:end --> table")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue  # header, separator or prose
        names = lambda c: [x.strip().strip("`") for x in c.split(",") if x.strip().strip("`") not in ("", "—", "-")]
        folder = cells[0].strip("`")
        rows[folder] = (set(names(cells[1])) | {folder}, names(cells[2]))
    if not rows:
        sys.exit(f"{readme}: the layering table has no rows")
    return rows


def folder_of(path, folders):
    """The longest matrix folder that path (relative to src/) lies in, or None."""
    best = None
    for f in folders:
        if f == "*":
            continue
        if path == f or path.startswith(f + "/"):
            if best is None or len(f) > len(best):
                best = f
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    ap.add_argument("--plant", action="append", default=[])
    args = ap.parse_args()
    root = pathlib.Path(args.root)
    matrix = read_matrix(root / "README.md")
    src = root / "src"

    planted = {}
    for p in args.plant:
        f, _, h = p.partition("=")
        kind = "<" if h.startswith("<") else '"'
        planted.setdefault(f, []).append((kind, h.strip('<>"')))

    problems = []
    n_files = n_includes = 0
    for file in sorted(src.rglob("*")):
        if file.suffix not in (".h", ".cpp", ".cc") or not file.is_file():
            continue
        rel = file.relative_to(src).as_posix()
        here = folder_of(rel, matrix)
        if here is None:
            problems.append(f"{rel}: its folder is not in README's layering table")
            continue
        allowed, never = matrix[here]
        n_files += 1
        includes = INCLUDE.findall(file.read_text(encoding="utf-8", errors="replace")) + planted.get(rel, [])
        for kind, header in includes:
            n_includes += 1
            target = folder_of(header, matrix) if kind == '"' else None
            if target is not None:
                if "*" not in allowed and target not in allowed:
                    problems.append(f"{rel}: includes \"{header}\" ({target}/), which {here}/ may not use")
                continue
            for pat in never:
                if fnmatch.fnmatch(header, pat) or fnmatch.fnmatch(header.split("/")[0], pat):
                    problems.append(f"{rel}: includes {header}, which {here}/ must never include ({pat})")
    for f in planted:
        if not (src / f).is_file():
            problems.append(f"--plant: no file src/{f}")

    print(f"layering: {n_files} files, {n_includes} includes, {len(matrix)} folders in the matrix")
    for p in problems:
        print("  " + p)
    if problems:
        print(f"layering: {len(problems)} violation(s)")
        return 1
    print("layering: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
