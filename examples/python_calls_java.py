"""Python and Java calling each other.

Part 1, a Python driver using a Java actor: a tiny Java class (below) is
compiled with javac at run time into a temporary directory, which becomes the
job's code search path; the actor lives in a JVM worker.

Part 2, a Java driver calling Python: examples/JavaDriver.java is compiled
and run as its own JVM. It calls the Python functions and the actor class
defined in this file (Python workers import this module from the job's code
search path: the examples folder).
"""

import os
import shutil
import subprocess
import sys
import tempfile

import polyray
from polyray import sdk
from polyray.exceptions import CrossLanguageError

HERE = os.path.dirname(os.path.abspath(__file__))

JAVA_INVENTORY = """
package demo;

import java.util.Map;
import java.util.TreeMap;

/** A Java actor: an inventory whose state lives in one JVM worker. */
public class Inventory {
  private final Map<String, Long> stock = new TreeMap<>();

  public long add(String item, long count) {
    return stock.merge(item, count, Long::sum);
  }

  public long take(String item, long count) {
    long have = stock.getOrDefault(item, 0L);
    if (have < count) {
      throw new IllegalStateException("only " + have + " " + item + " left, cannot take " + count);
    }
    stock.put(item, have - count);
    return have - count;
  }

  public Map<String, Long> snapshot() {
    return stock;
  }
}
"""


# -- called by the Java driver (examples/JavaDriver.java) ---------------------

def mean(values):
    """The mean of a list of numbers."""
    if not values:
        raise ValueError("the mean of no values is undefined")
    return sum(values) / len(values)


def normalize(samples):
    """Zero mean, unit variance; `samples` arrives as a numpy array."""
    return (samples - samples.mean()) / samples.std()


class WordCounter:
    """A Python actor the Java driver feeds lines of text."""

    def __init__(self):
        self.counts = {}

    def feed(self, line):
        for word in line.split():
            self.counts[word] = self.counts.get(word, 0) + 1
        return sum(self.counts.values())

    def top(self, n):
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return dict(ranked[:n])


# -- part 1: a Python driver using a Java actor --------------------------------

def compile_java(sources: dict, classpath: list, out: str) -> None:
    javac = shutil.which("javac")
    if javac is None:
        raise SystemExit("javac is not on PATH: run `make setup` (it installs a JDK)")
    files = []
    for rel, text in sources.items():
        path = os.path.join(out, "src", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        files.append(path)
    subprocess.run([javac, "-cp", ":".join(classpath), "-d", out, *files], check=True)


def python_driver(classes: str) -> None:
    polyray.init(code_search_path=[classes])
    try:
        inventory = polyray.java_actor_class("demo.Inventory").remote()
        polyray.get([inventory.add.remote("apples", 10), inventory.add.remote("pears", 4)])
        left = polyray.get(inventory.take.remote("apples", 3))
        print(f"[python driver] apples left after taking 3: {left}")
        print(f"[python driver] stock: {polyray.get(inventory.snapshot.remote())}")
        try:
            polyray.get(inventory.take.remote("pears", 100))
        except CrossLanguageError as e:
            print(f"[python driver] Java raised {e.type_name} ({e.language}): {e.remote_traceback.splitlines()[0]}")
    finally:
        polyray.shutdown()


# -- part 2: a Java driver calling Python ----------------------------------------

def java_driver(classpath: list, out: str) -> None:
    compile_java({"JavaDriver.java": open(os.path.join(HERE, "JavaDriver.java")).read()}, classpath, out)
    env = dict(os.environ)
    env["POLYRAY_PYTHON"] = sys.executable  # runs the Java driver's embedded cluster
    env["POLYRAY_CODE_SEARCH_PATH"] = HERE  # Python workers import this module from here
    subprocess.run(["java", "-cp", ":".join(classpath + [out]), "JavaDriver"], check=True, env=env, timeout=600)


def main() -> None:
    classpath = sdk.java_classpath()
    if not classpath:
        raise SystemExit("the Java SDK is not built: run `make setup`")
    with tempfile.TemporaryDirectory(prefix="polyray-example-") as tmp:
        java_classes = os.path.join(tmp, "inventory")
        compile_java({"demo/Inventory.java": JAVA_INVENTORY}, classpath, java_classes)
        python_driver(java_classes)
        java_driver(classpath, os.path.join(tmp, "driver"))


if __name__ == "__main__":
    main()
