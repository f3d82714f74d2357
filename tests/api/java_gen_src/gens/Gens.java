package gens;

import io.polyray.api.ActorHandle;
import io.polyray.api.CppActorClass;
import io.polyray.api.CppActorHandle;
import io.polyray.api.CppActorMethod;
import io.polyray.api.CppFunction;
import io.polyray.api.ObjectRef;
import io.polyray.api.ObjectRefGenerator;
import io.polyray.api.PolyRay;
import io.polyray.api.PyFunction;
import io.polyray.api.exception.PolyRayException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.Stream;

/** Java generator tasks and Java callers of generator tasks, for tests/api/test_java_generators.py (issue 19). */
public final class Gens {
  private static final long T = 60_000;

  private Gens() {
  }

  static void touch(String path) {
    try {
      Files.write(Paths.get(path), new byte[0]);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  static void awaitFile(String path) {
    long deadline = System.nanoTime() + 30_000_000_000L;
    Path p = Paths.get(path);
    while (!Files.exists(p)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("nobody made " + path + " within 30 s");
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        throw new IllegalStateException("interrupted", e);
      }
    }
  }

  /**
   * A Java generator: 0, 10, 20, ... (n items); after item 0 it waits for the file {@code gate}
   * ("" : no gate) before producing more; throws IllegalStateException at item {@code failAt}.
   */
  public static Iterator<Long> count(long n, String gate, long failAt) {
    return new Iterator<Long>() {
      long i;

      @Override
      public boolean hasNext() {
        return i < n;
      }

      @Override
      public Long next() {
        if (i == 1 && !gate.isEmpty()) {
          awaitFile(gate);
        }
        if (i == failAt) {
          throw new IllegalStateException("java boom at " + i);
        }
        return 10 * i++;
      }
    };
  }

  /** A Stream generator of n words. */
  public static Stream<String> words(long n) {
    return Stream.iterate(0L, i -> i + 1).limit(n).map(i -> "w" + i);
  }

  /** n byte arrays of size bytes (large ones go through the node's store). */
  public static Iterator<byte[]> big(long n, long size) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new byte[(int) size]);
    }
    return out.iterator();
  }

  /**
   * For retries: n byte arrays of {@code size} bytes, item i filled with i. Each attempt appends
   * its pid to {@code marks}/attempts; the first pauses before item {@code at}, its pid in
   * {@code marks}/waiting, until the test kills it (at most 30 s).
   */
  public static Iterator<byte[]> paced(long n, long at, String marks, long size) {
    long pid = ProcessHandle.current().pid();
    Path attempts = Paths.get(marks, "attempts");
    boolean first;
    try {
      first = !Files.exists(attempts);
      Files.write(attempts, (pid + "\n").getBytes(), java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
    return new Iterator<byte[]>() {
      int i;

      @Override
      public boolean hasNext() {
        return i < n;
      }

      @Override
      public byte[] next() {
        if (first && i == at) {
          try {
            Files.write(Paths.get(marks, "waiting"), String.valueOf(pid).getBytes());
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
          awaitFile(Paths.get(marks, "never").toString());
        }
        byte[] b = new byte[(int) size];
        java.util.Arrays.fill(b, (byte) i);
        i++;
        return b;
      }
    };
  }

  /**
   * A Java caller of {@link #paced} (5 items of {@code size} bytes, paused before item 3 until the
   * test kills its worker) with {@code maxRetries}: "size:first byte" per item, "E:<class>" for an
   * item whose get throws, then "|count=<n>" or "|failed".
   */
  public static String javaRetried(String marks, long size, int maxRetries) {
    ObjectRefGenerator<byte[]> gen = PolyRay.task(Gens::paced, 5L, 3L, marks, size).setMaxRetries(maxRetries)
        .remoteGenerator();
    List<String> out = new ArrayList<>();
    for (ObjectRef<byte[]> r : gen) {
      try {
        byte[] v = PolyRay.get(r, T);
        out.add(v.length + ":" + v[0]);
      } catch (PolyRayException e) {
        out.add("E:" + e.getClass().getSimpleName());
      }
    }
    String end;
    try {
      end = "count=" + PolyRay.get(gen.completed(), T);
    } catch (PolyRayException e) {
      end = "failed";
    }
    return String.join(",", out) + "|" + end;
  }

  /** Not a sequence: a streaming call of it is the task's error. */
  public static long plain() {
    return 7;
  }

  /** An actor whose method streams. */
  public static final class Source {
    public Source() {
    }

    public List<String> items(long n) {
      List<String> out = new ArrayList<>();
      for (long i = 0; i < n; i++) {
        out.add("item" + i);
      }
      return out;
    }
  }

  /** Reads the first item, checks the end is not ready while the generator waits for the gate, opens it. */
  private static String streamThroughGate(ObjectRefGenerator<Long> gen, String gate) {
    StringBuilder out = new StringBuilder();
    long first = PolyRay.get(gen.next(T), T);
    // The generator cannot end before the gate exists, which only this caller makes.
    boolean endReady = !PolyRay.wait(List.of(gen.completed()), 1, 0).getReady().isEmpty();
    out.append(first).append(endReady ? "|ended-early" : "|running");
    touch(gate);
    while (gen.hasNext(T)) {
      out.append(",").append(PolyRay.get(gen.next(T), T));
    }
    out.append("|count=").append(PolyRay.get(gen.completed(), T));
    return out.toString();
  }

  /** A Java caller streams a Python generator function: "0|running,10,20|count=3". */
  public static String javaToPython(String gate) {
    PyFunction<Long> gated = PyFunction.of("pygens", "gated", Long.class);
    ObjectRefGenerator<Long> gen = PolyRay.task(gated, 3, gate).remoteGenerator();
    return streamThroughGate(gen, gate);
  }

  /** A Java caller streams a Java generator method: "0|running,10,20|count=3". */
  public static String javaToJava(String gate) {
    ObjectRefGenerator<Long> gen = PolyRay.task(Gens::count, 3L, gate, -1L).remoteGenerator();
    return streamThroughGate(gen, gate);
  }

  /**
   * Errors in the middle, seen by a Java caller: a Java generator failing at item 2 and a
   * Python one failing at item 1. Returns each stream as values, "E:<message>" for the item
   * whose get throws, and "end" once hasNext is false (next() then throws NoSuchElementException).
   */
  public static String errors(String gate) {
    touch(gate);
    StringBuilder out = new StringBuilder();
    ObjectRefGenerator<Long> j = PolyRay.task(Gens::count, 5L, "", 2L).remoteGenerator();
    out.append(drain(j));
    ObjectRefGenerator<Long> p = PolyRay.task(PyFunction.of("pygens", "gated", Long.class), 4, gate, 1)
        .remoteGenerator();
    out.append(" / ").append(drain(p));
    return out.toString();
  }

  /**
   * A Java caller streams C++ generators (tests/api/cpp_src/generator_funcs.cc): CountUp(3) and
   * FailsAfter(2), and a C++ actor's Streamer::Range(2) from 7:
   * "0,1,2,end / 0,1,E:CrossLanguageException:boom,end / 7,8,end".
   */
  public static String javaToCpp() {
    String up = drain(PolyRay.task(CppFunction.of("CountUp", Long.class), 3L).remoteGenerator());
    String fails = drain(PolyRay.task(CppFunction.of("FailsAfter", Long.class), 2L).remoteGenerator());
    CppActorHandle streamer = PolyRay.actor(CppActorClass.of("Streamer::Create", "Streamer"), 7L).remote();
    String range = drain(streamer.task(CppActorMethod.of("Streamer::Range", Long.class), 2L).remoteGenerator());
    return up + " / " + fails + " / " + range;
  }

  private static String drain(ObjectRefGenerator<Long> gen) {
    List<String> parts = new ArrayList<>();
    for (ObjectRef<Long> ref : gen) {
      try {
        parts.add(String.valueOf(PolyRay.get(ref, T)));
      } catch (PolyRayException e) {
        String m = e.getMessage();
        parts.add("E:" + e.getClass().getSimpleName() + ":" + (m.contains("boom at") || m.contains("boom after") ? "boom" : m));
      }
    }
    parts.add("end");
    try {
      gen.next(0);
      parts.add("next-after-end");
    } catch (NoSuchElementException e) {
      // as Iterator says
    }
    return String.join(",", parts);
  }

  /**
   * Early close: takes one of n big items, waits for the end, closes; returns
   * "<end object id hex>|<taken item's size>|<hasNext after close>".
   */
  public static String closeEarly(long n, long size) {
    ObjectRefGenerator<byte[]> gen = PolyRay.task(Gens::big, n, size).remoteGenerator();
    ObjectRef<byte[]> taken = gen.next(T);
    long count = PolyRay.get(gen.completed(), T);
    gen.close();
    byte[] v = PolyRay.get(taken, T);
    return gen.completed().getIdHex() + "|" + v.length + "|" + count + "|" + gen.hasNext(0);
  }

  /** A Java caller streams a Java actor's method and a Stream task: "item0,item1|w0,w1,w2". */
  public static String actorAndStream() {
    ActorHandle<Source> a = PolyRay.actor(Source::new).remote();
    List<String> out = new ArrayList<>();
    try (ObjectRefGenerator<String> gen = a.task(Source::items, 2L).remoteGenerator()) {
      for (ObjectRef<String> r : gen) {
        out.add(PolyRay.get(r, T));
      }
    }
    List<String> words = new ArrayList<>();
    for (ObjectRef<String> r : PolyRay.task(Gens::words, 3L).<String>remoteGenerator()) {
      words.add(PolyRay.get(r, T));
    }
    String notSeq;
    try {
      ObjectRefGenerator<Long> g = PolyRay.task(Gens::plain).remoteGenerator();
      PolyRay.get(g.next(T), T);
      notSeq = "no error";
    } catch (PolyRayException e) {
      notSeq = e.getMessage().contains("not an Iterator") ? "refused" : e.getMessage();
    }
    return String.join(",", out) + "|" + String.join(",", words) + "|" + notSeq;
  }
}
