#!/usr/bin/env python3
"""Generates the runtime spec's constants for Python, Java and C++.

    gen_runtime_spec.py --python OUT.py
    gen_runtime_spec.py --java OUT_DIR     (writes OUT_DIR/io/polyray/runtime/spec/RuntimeSpec.java)
    gen_runtime_spec.py --cpp OUT.h
    gen_runtime_spec.py --check            (parses the spec, prints the constants)

The input is proto/runtime/runtime_spec.toml (see its header). Standard
library only (tomllib, Python 3.11+), so CMake and Maven can run it with the
system python3 before any virtualenv exists. A file is rewritten only when
its text changes, so builds that depend on it are not redone for nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "proto" / "runtime" / "runtime_spec.toml"
HEADER = "Generated from proto/runtime/runtime_spec.toml by scripts/gen_runtime_spec.py. Do not edit."


def load(path: Path = SPEC) -> list[tuple[str, str, object]]:
    """(group, key, value) for every constant, in file order; validated."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    out = []
    for group, table in data.items():
        if not isinstance(table, dict):
            raise SystemExit(f"{path}: top-level key {group!r} must be a table")
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SystemExit(f"{path}: [{group}] {key} must be a number, got {value!r}")
            if key.endswith("_ratio") != isinstance(value, float):
                raise SystemExit(f"{path}: [{group}] {key}: floats end in _ratio and only they do")
            if isinstance(value, int) and not -2**63 <= value < 2**63:
                raise SystemExit(f"{path}: [{group}] {key} does not fit 64 bits")
            out.append((group, key, value))
    return out


def upper(group: str, key: str) -> str:
    return f"{group}_{key}".upper()


def camel(group: str, key: str) -> str:
    return "k" + "".join(p.capitalize() for p in f"{group}_{key}".split("_"))


def python_source(consts) -> str:
    lines = [f'"""The runtime spec\'s constants. {HEADER}"""', "", "from typing import Final", ""]
    for g, k, v in consts:
        t = "float" if isinstance(v, float) else "int"
        lines.append(f"{upper(g, k)}: Final[{t}] = {v!r}")
    return "\n".join(lines) + "\n"


def java_source(consts) -> str:
    lines = ["package io.polyray.runtime.spec;", "", f"/** The runtime spec's constants. {HEADER} */",
             "public final class RuntimeSpec {", "  private RuntimeSpec() {}", ""]
    for g, k, v in consts:
        if isinstance(v, float):
            lines.append(f"  public static final double {upper(g, k)} = {v!r};")
        elif -2**31 <= v < 2**31:
            lines.append(f"  public static final int {upper(g, k)} = {v};")
        else:
            lines.append(f"  public static final long {upper(g, k)} = {v}L;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def cpp_source(consts) -> str:
    lines = [f"// The runtime spec's constants. {HEADER}", "#ifndef POLYRAY_RUNTIME_SPEC_H_",
             "#define POLYRAY_RUNTIME_SPEC_H_", "", "#include <cstdint>", "", "namespace polyray::spec {", ""]
    for g, k, v in consts:
        if isinstance(v, float):
            lines.append(f"inline constexpr double {camel(g, k)} = {v!r};")
        else:
            lines.append(f"inline constexpr int64_t {camel(g, k)} = {v};")
    lines += ["", "}  // namespace polyray::spec", "", "#endif  // POLYRAY_RUNTIME_SPEC_H_"]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=SPEC)
    ap.add_argument("--python", type=Path)
    ap.add_argument("--java", type=Path, help="source root to write io/polyray/runtime/spec/RuntimeSpec.java under")
    ap.add_argument("--cpp", type=Path)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    consts = load(a.spec)
    if a.python:
        write(a.python, python_source(consts))
    if a.java:
        write(a.java / "io" / "polyray" / "runtime" / "spec" / "RuntimeSpec.java", java_source(consts))
    if a.cpp:
        write(a.cpp, cpp_source(consts))
    if a.check:
        for g, k, v in consts:
            print(f"{upper(g, k)} = {v!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
