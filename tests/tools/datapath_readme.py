#!/usr/bin/env python3
"""datapath/README.md names, for each stage of each journey, the files and
functions a reader follows (issue 17, outcome 7). This keeps it true:

- every function named in a stage's "in order" cell is defined (a function
  body, not a prototype) in one of the files the row lists, or in a header
  (static inline);
- every listed file exists, and the count in front of the list is its length;
- every other function the page names (prose, lists) is defined somewhere.

A name that no longer exists, or moved to a file the row does not list, fails
the test with the row. Usage: datapath_readme.py SOURCE_ROOT
"""
import os
import re
import sys

LIB = ("ngtcp2_", "nghttp3_", "nghttp2_", "io_uring_", "gnutls_", "SSL_", "EVP_")
# C keywords and words the page puts in backticks that are not functions
NOT_FUNCS = {"writev", "sendmsg", "recvmsg", "shutdown", "getsockname", "accept", "connect"}
SRC_DIRS = ("datapath", "ring", "crypto", "control", "tls", "ini")

DEF_RE = re.compile(r"^(?![ \t#/*])[A-Za-z_][\w \t\*]*?\b([a-z_][a-z0-9_]*)\s*\(([^;{}]*?)\)\s*(?:[A-Z_]+(?:\([^)]*\))?\s*)*\{",
                    re.M | re.S)


def definitions(root):
    defs = {}
    for d in SRC_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, d)):
            for n in names:
                if not n.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for m in DEF_RE.finditer(text):
                    defs.setdefault(m.group(1), set()).add(rel)
    return defs


def names_in(cell):
    out = []
    for tok in re.findall(r"`([^`]+)`", cell):
        tok = tok.strip()
        if "->" in tok or "." in tok or "/" in tok or " " in tok:
            continue  # a field (ops->read), a file, or a phrase
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", tok):
            continue  # constants, flags, numbers
        if tok.startswith(LIB) or tok in NOT_FUNCS:
            continue
        out.append(tok)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    page = os.path.join(root, "datapath", "README.md")
    with open(page, encoding="utf-8") as f:
        lines = f.read().splitlines()
    defs = definitions(root)
    errors = []
    rows = 0
    in_table_names = set()
    for no, line in enumerate(lines, 1):
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4:
            continue
        m = re.fullmatch(r"\**(\d+)\**:\s*(.+)", cells[2])
        if not m:
            continue
        rows += 1
        files = [x.strip() for x in re.split(r",\s*", re.sub(r"\s*\(.*?\)", "", m.group(2)))]
        files = [x for x in files if x]
        if int(m.group(1)) != len(files):
            errors.append(f"README.md:{no}: says {m.group(1)} files, lists {len(files)}: {files}")
        for fl in files:
            if not os.path.isfile(os.path.join(root, fl)):
                errors.append(f"README.md:{no}: no file {fl}")
        for name in names_in(cells[3]):
            in_table_names.add(name)
            where = defs.get(name)
            if not where:
                errors.append(f"README.md:{no}: `{name}` is defined nowhere (stale name?)")
                continue
            if not any(w in files or w.endswith(".h") for w in where):
                errors.append(f"README.md:{no}: `{name}` is in {sorted(where)}, not in the row's files")
    # names outside the tables: they must exist somewhere
    for no, line in enumerate(lines, 1):
        if line.startswith("|"):
            continue
        for name in names_in(line):
            if name not in defs and name not in in_table_names:
                errors.append(f"README.md:{no}: `{name}` is defined nowhere (stale name?)")
    if rows < 20:
        errors.append(f"only {rows} stage rows found: the page's tables changed shape")
    for e in errors:
        print(e)
    print(f"{rows} stage rows checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
