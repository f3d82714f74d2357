package xlangtest;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Static methods called as tasks from the Python tests. */
public class Calc {
  public static long add(long a, long b) { return a + b; }

  public static int addInts(int a, int b) { return a + b; }

  public static double half(double x) { return x / 2; }

  public static String greet(String name) { return "hello " + name; }

  public static boolean negate(boolean b) { return !b; }

  public static Object echo(Object value) { return value; }

  public static byte[] reverse(byte[] data) {
    byte[] out = new byte[data.length];
    for (int i = 0; i < data.length; i++) out[i] = data[data.length - 1 - i];
    return out;
  }

  public static List<Object> appendSize(List<Object> items) {
    List<Object> out = new ArrayList<>(items);
    out.add((long) items.size());
    return out;
  }

  public static Map<String, Object> withKey(Map<String, Object> map, String key, long value) {
    Map<String, Object> out = new LinkedHashMap<>(map);
    out.put(key, value);
    return out;
  }

  public static long sum(long[] values) {
    long s = 0;
    for (long v : values) s += v;
    return s;
  }

  public static double[] scale(double[] values, double factor) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) out[i] = values[i] * factor;
    return out;
  }

  public static void nothing() {}

  public static long fail(String message) {
    throw new IllegalStateException(message, new IllegalArgumentException("the cause"));
  }

  public static Object noXlangForm() { return new Thread(); }

  public static String overloaded(long a) { return "long"; }

  public static String overloaded(String a) { return "string"; }

  public static String overloaded(long a, long b) { return "two"; }

  public static long count(List<Object> refs) { return refs.size(); }

  /** A nested class, named pkg.Outer$Inner on the JVM. */
  public static class Inner {
    public static String name() { return "inner"; }
  }
}
