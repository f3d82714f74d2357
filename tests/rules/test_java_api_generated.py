"""The Java API's arity overloads and PolyRayFunc* interfaces are generated (scripts/gen_java_api.py).

The checked-in files must be exactly what the template gives, so nobody edits them by
hand; the Maven build of java/api runs the generator before compiling.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_java_api.py"
API = ROOT / "java" / "api" / "src" / "main" / "java" / "io" / "polyray" / "api"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_java_api", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_checked_in_files_are_what_the_template_gives(gen):
    bad = gen.stale()
    assert not bad, f"edited by hand or template changed without rerunning scripts/gen_java_api.py: {bad}"


def test_check_mode_fails_on_a_hand_edit(gen, tmp_path):
    """The check can fail: a copy of the sources with one hand-edited overload is reported."""
    out = tmp_path / "java"
    shutil.copytree(gen.OUT / "io", out / "io")
    victim = out / "io" / "polyray" / "api" / "PolyRayCalls.java"
    victim.write_text(victim.read_text(encoding="utf-8").replace("Object a5)", "Object a5, Object a6)", 1))
    (out / "io" / "polyray" / "api" / "function" / "PolyRayFuncVoid7.java").unlink()
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--out", str(out)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 1
    assert "io/polyray/api/PolyRayCalls.java" in r.stdout
    assert "io/polyray/api/function/PolyRayFuncVoid7.java" in r.stdout
    # Writing repairs exactly those two; a second write changes nothing.
    repaired = ["io/polyray/api/PolyRayCalls.java", "io/polyray/api/function/PolyRayFuncVoid7.java"]
    assert sorted(gen.write(out)) == repaired
    assert gen.write(out) == []


def test_the_api_keeps_its_overloads(gen):
    """Same public API as the hand-written one: task 0..6 (result and void), actor 0..6, method 0..6, Func 0..7."""
    files = gen.generate()
    calls = files["io/polyray/api/PolyRayCalls.java"]
    for n in range(7):
        args = "".join(f", Object a{i}" for i in range(n))
        tv = "<" + ", ".join([f"T{i}" for i in range(n)]) + ">" if n else ""
        t = ", ".join([f"T{i}" for i in range(n)] + ["R"])
        assert f"TaskCaller<R> task(PolyRayFunc{n}<{t}> f{args})" in calls
        assert f"TaskCaller<Void> task(PolyRayFuncVoid{n}{tv} f{args})" in calls
        assert f"ActorCreator<ActorHandle<A>> actor(PolyRayFunc{n}<" in calls
        methods = files["io/polyray/api/ActorCalls.java"]
        assert f"ActorTaskCaller<R> task(PolyRayFunc{n + 1}<A" in methods
        assert f"ActorTaskCaller<Void> task(PolyRayFuncVoid{n + 1}<A" in methods
    assert len(re.findall(r"public static .* task\(", calls)) == 14
    assert len(re.findall(r"public static .* actor\(", calls)) == 7
    assert len(re.findall(r"default .* task\(", files["io/polyray/api/ActorCalls.java"])) == 14
    assert sum(1 for rel in files if "/function/PolyRayFunc" in rel) == 16


def test_every_generated_public_item_has_javadoc(gen):
    for rel, text in gen.generate().items():
        lines = text.splitlines()
        for i, line in enumerate(lines):
            s = line.strip()
            if re.match(r"(public |default |[A-Za-z<>, ]+ apply\()", s) and not s.startswith("return"):
                j = i - 1
                while lines[j].strip().startswith(("@", "//")):
                    j -= 1
                assert lines[j].strip() == "*/", f"{rel}:{i + 1}: no javadoc before {s!r}"


def test_no_hand_written_overloads_remain():
    """The hand-written halves of the facade take no PolyRayFunc: those overloads live in the generated files."""
    for name in ("PolyRay.java", "PolyRayTasks.java", "PolyRayActors.java", "ActorHandle.java"):
        text = (API / name).read_text(encoding="utf-8")
        assert "PolyRayFunc" not in text, name
    assert "extends PolyRayCalls" in (API / "PolyRayTasks.java").read_text(encoding="utf-8")
    assert "extends ActorCalls<A>" in (API / "ActorHandle.java").read_text(encoding="utf-8")


def test_the_maven_build_runs_the_generator():
    pom = (ROOT / "java" / "api" / "pom.xml").read_text(encoding="utf-8")
    assert "scripts/gen_java_api.py" in pom
    assert "<phase>generate-sources</phase>" in pom
