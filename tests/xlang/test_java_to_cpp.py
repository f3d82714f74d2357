"""Java driver -> C++ workers: CppFunction, CppActorClass, CppActorMethod.

A Java driver (compiled with javac against ``polyray java-classpath``) runs as
its own JVM with an embedded cluster whose code search path is the C++ test
library (cpp_src/xlang_funcs.cc, built with ``polyray cpp-flags``); it calls
C++ functions and an actor, looks a named C++ actor up, and catches a C++
exception. The test checks the lines it prints.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from xlang_support import results, run_checked

from polyray import sdk

pytestmark = pytest.mark.timeout(1200)

TIMEOUT = 300

DRIVER = '''
package cjtest;

import io.polyray.api.CppActorClass;
import io.polyray.api.CppActorHandle;
import io.polyray.api.CppActorMethod;
import io.polyray.api.CppFunction;
import io.polyray.api.Language;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.exception.CrossLanguageException;
import io.polyray.api.exception.TaskException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** args: <code search path entry>... */
public final class CppDriver {
  static void out(String k, Object v) {
    System.out.println("RESULT " + k + "=" + v);
  }

  public static void main(String[] args) {
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(List.of(args)).setNamespace("cjtest"));
    try {
      long t = 120_000;
      out("plus1", PolyRay.get(PolyRay.task(CppFunction.of("Plus1", Long.class), 41L).remote(), t));
      out("add", PolyRay.get(PolyRay.task(CppFunction.of("Add", Long.class), 40, 2).remote(), t));
      out("echo_string", PolyRay.get(PolyRay.task(CppFunction.of("EchoString", String.class), "h\\u00e9llo \\u2713")
          .remote(), t));
      out("sum_list", PolyRay.get(PolyRay.task(CppFunction.of("SumList", Double.class), List.of(1.5, 2.5, 3.0))
          .remote(), t));
      out("sum_array", PolyRay.get(PolyRay.task(CppFunction.of("SumList", Double.class),
          (Object) new double[] {1.0, 2.0, 4.0}).remote(), t));
      Map<?, ?> m = PolyRay.get(PolyRay.task(CppFunction.of("EchoMap", Map.class), Map.of("a", 1L, "b", 2L))
          .remote(), t);
      out("echo_map", m.get("a") + "," + m.get("b"));
      ObjectRef<Long> put = PolyRay.put(20L);
      out("ref_arg", PolyRay.get(PolyRay.task(CppFunction.of("Add", Long.class), put, 22L).remote(), t));

      CppActorHandle c = PolyRay.actor(CppActorClass.of("Counter::Create", "Counter"), 10L)
          .setName("java-made-cpp-counter").remote();
      PolyRay.get(c.task(CppActorMethod.of("Counter::Add", Long.class), 5L).remote(), t);
      out("counter", PolyRay.get(c.task(CppActorMethod.of("Add", Long.class), 1L).remote(), t));
      Optional<CppActorHandle> found = PolyRay.getActor("java-made-cpp-counter");
      out("found_class", found.get().getClassName());
      out("found_value", PolyRay.get(found.get().task(CppActorMethod.of("Counter::Get", Long.class)).remote(), t));

      try {
        PolyRay.get(PolyRay.task(CppFunction.of("ThrowInvalid", Long.class), "java said no").remote(), t);
        out("error", "none");
      } catch (CrossLanguageException e) {
        out("error_language", e.getLanguage());
        out("error_type", e.getTypeName());
        out("error_message_has_text", e.getMessage().contains("java said no"));
      }
      try {
        PolyRay.get(PolyRay.task(CppFunction.of("NoSuchFunction", Long.class)).remote(), t);
        out("unknown", "none");
      } catch (TaskException e) {
        out("unknown_names_function", e.getMessage().contains("NoSuchFunction"));
      }
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}
'''


@pytest.fixture(scope="module")
def java_driver(tmp_path_factory) -> str:
    """The compiled driver's classes directory."""
    javac = shutil.which("javac")
    assert javac, "javac is not on PATH: run `make setup` (it installs a JDK)"
    classpath = sdk.java_classpath()
    assert classpath, "the Java SDK is not built: run `make setup`"
    root = tmp_path_factory.mktemp("java_to_cpp")
    src = root / "cjtest" / "CppDriver.java"
    src.parent.mkdir(parents=True)
    src.write_text(DRIVER)
    out = root / "classes"
    out.mkdir()
    proc = subprocess.run([javac, "-cp", ":".join(classpath), "-d", str(out), str(src)], capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    return str(out)


def test_java_driver_calls_cpp(java_driver, cpp_lib):
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable  # the embedded head runs with this interpreter
    cp = ":".join(sdk.java_classpath() + [java_driver])
    proc = run_checked(["java", "-cp", cp, "cjtest.CppDriver", cpp_lib], env=env, timeout=TIMEOUT)
    r = results(proc.stdout)
    assert r["plus1"] == "42"
    assert r["add"] == "42"
    assert r["echo_string"] == "h\u00e9llo \u2713"
    assert r["sum_list"] == "7.0"
    assert r["sum_array"] == "7.0"
    assert r["echo_map"] == "1,2"
    assert r["ref_arg"] == "42"
    assert r["counter"] == "16"
    assert r["found_class"] == "Counter"
    assert r["found_value"] == "16"
    assert r["error_language"] == "CPP"
    assert r["error_type"] == "std::invalid_argument"
    assert r["error_message_has_text"] == "true"
    assert r["unknown_names_function"] == "true"
    assert "DONE" in proc.stdout
