/*
 * A Java driver calling Python: a function, numpy through shared memory, an actor, and
 * a Python exception caught in Java.
 *
 * The Python code it calls is examples/python_calls_java.py (imported by the Python
 * workers from the job's code search path). Build and run from the repository root:
 *
 *   javac -cp "$(polyray java-classpath)" -d /tmp/jd examples/JavaDriver.java
 *   POLYRAY_CODE_SEARCH_PATH=examples POLYRAY_PYTHON=.venv/bin/python \
 *       java -cp "$(polyray java-classpath):/tmp/jd" JavaDriver
 *
 * (`make demo` does this through examples/python_calls_java.py.) With no argument it
 * starts an embedded local cluster; pass host:port to use a running head
 * (`python -m polyray.node --head`).
 */

import io.polyray.api.InitInfo;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import io.polyray.api.PyFunction;
import io.polyray.api.exception.CrossLanguageException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public final class JavaDriver {
  private static final String MODULE = "python_calls_java";

  public static void main(String[] args) {
    InitInfo info = args.length > 0 ? PolyRay.init(args[0]) : PolyRay.init();
    // The head's dashboard (Init also prints it on stderr); open it with `polyray get-auth-token`'s token.
    System.out.println("[java driver] dashboard: " + info.getDashboardUrl());
    try {
      run();
    } finally {
      PolyRay.shutdown();
    }
  }

  private static void run() {
    // 1. A Python function: arguments and results cross as language-neutral values.
    PyFunction<Double> mean = PyFunction.of(MODULE, "mean", Double.class);
    double m = PolyRay.get(PolyRay.task(mean, List.of(2.0, 4.0, 9.0)).remote());
    System.out.println("[java driver] mean from Python: " + m);

    // 2. numpy: a double[] arrives as a numpy array; a large result comes back through
    //    the node's shared memory.
    double[] samples = new double[200_000];
    for (int i = 0; i < samples.length; i++) {
      samples[i] = Math.sin(i / 100.0) * 10 + 5;
    }
    PyFunction<double[]> normalize = PyFunction.of(MODULE, "normalize", double[].class);
    double[] z = PolyRay.get(PolyRay.task(normalize, samples).remote());
    double sum = 0;
    for (double v : z) {
      sum += v;
    }
    System.out.printf("[java driver] normalized %d samples in numpy; mean now %.6f%n", z.length, sum / z.length);

    // 3. A Python actor: state across calls, calls in submission order.
    PyActorHandle words = PolyRay.actor(PyActorClass.of(MODULE, "WordCounter")).remote();
    List<ObjectRef<Long>> fed = new ArrayList<>();
    for (String line : List.of("the quick brown fox", "jumps over the lazy dog", "the dog sleeps")) {
      fed.add(words.task(PyActorMethod.of("feed", Long.class), line).remote());
    }
    System.out.println("[java driver] words after each line: " + PolyRay.get(fed));
    Map<?, ?> top = PolyRay.get(words.task(PyActorMethod.of("top", Map.class), 2).remote());
    System.out.println("[java driver] most common words: " + top);

    // 4. A Python exception reaches Java with its type and traceback.
    try {
      PolyRay.get(PolyRay.task(mean, List.of()).remote());
    } catch (CrossLanguageException e) {
      System.out.println("[java driver] Python raised " + e.getTypeName() + " (" + e.getLanguage() + "): "
          + e.getRemoteTraceback().strip().lines().reduce((a, b) -> b).orElse(""));
    }
  }
}
