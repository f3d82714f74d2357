"""Where the built SDK artifacts are: the Java runtime classpath and the store library.

polyray runs from a source checkout (``make setup`` builds ``build/cpp`` and
``java/*/target``); environment variables override each location for other
layouts: POLYRAY_JAVA_CLASSPATH, POLYRAY_STORE_LIB.
"""

from __future__ import annotations

import glob
import os
from typing import Optional


def repo_root() -> str:
    """The checkout that holds this package (python/polyray/sdk.py -> the root)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def store_library() -> Optional[str]:
    """Path of libpolyray_store.so, or None when it was not built."""
    override = os.environ.get("POLYRAY_STORE_LIB")
    if override:
        return override
    path = os.path.join(repo_root(), "build", "cpp", "lib", "libpolyray_store.so")
    return path if os.path.exists(path) else None


def java_classpath() -> list[str]:
    """The classpath entries of the Java SDK (api + runtime + their dependencies).

    Empty when the Java SDK was not built (run ``make setup``).
    """
    override = os.environ.get("POLYRAY_JAVA_CLASSPATH")
    if override:
        return [p for p in override.split(":") if p]
    root = os.path.join(repo_root(), "java")
    entries: list[str] = []
    for module in ("api", "runtime"):
        target = os.path.join(root, module, "target")
        jars = sorted(glob.glob(os.path.join(target, f"polyray-{module}-*.jar")))
        jars = [j for j in jars if not j.endswith(("-sources.jar", "-javadoc.jar", "-tests.jar"))]
        if jars:
            entries.append(jars[-1])
        elif os.path.isdir(os.path.join(target, "classes")):
            entries.append(os.path.join(target, "classes"))
    lib = os.path.join(root, "runtime", "target", "lib")
    if os.path.isdir(lib):
        entries.extend(sorted(p for p in glob.glob(os.path.join(lib, "*.jar"))
                              if not os.path.basename(p).startswith("polyray-")))
    return entries


def user_classpath(code_search_path: list[str] | tuple[str, ...]) -> list[str]:
    """Classpath entries for a job's code search path: directories, their jars, and jars."""
    out: list[str] = []
    for p in code_search_path:
        if not p:
            continue
        out.append(p)
        if os.path.isdir(p):
            out.extend(sorted(glob.glob(os.path.join(p, "*.jar"))))
    return out
