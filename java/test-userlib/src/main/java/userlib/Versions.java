package userlib;

import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** User code with its own libraries: reports which copies it runs against, and logs. */
public final class Versions {
  private static final Logger LOG = LoggerFactory.getLogger(Versions.class);

  private Versions() {}

  private static String jarOf(Class<?> c) {
    java.security.CodeSource src = c.getProtectionDomain().getCodeSource();
    if (src == null || src.getLocation() == null) {
      return "?";
    }
    return src.getLocation().getPath();
  }

  /**
   * The paths of the jars guava, protobuf-java and slf4j-api were loaded from, and the slf4j binding.
   *
   * @return name to jar path (or class name for the binding)
   */
  public static Map<String, String> seen() {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("guava", jarOf(com.google.common.collect.ImmutableList.class));
    out.put("protobuf", jarOf(com.google.protobuf.Message.class));
    out.put("slf4j", jarOf(LoggerFactory.class));
    out.put("binding", LoggerFactory.getILoggerFactory().getClass().getName());
    // Uses an API of the bundled versions: a guava ImmutableList, a protobuf message.
    out.put("list", com.google.common.collect.ImmutableList.of("a", "b").toString());
    out.put("struct", com.google.protobuf.Struct.newBuilder().putFields("k",
        com.google.protobuf.Value.newBuilder().setNumberValue(1).build()).build().getFieldsOrThrow("k")
        .toString().trim());
    return out;
  }

  /**
   * Logs a line through slf4j (logback, configured by this library's logback.xml).
   *
   * @param text what to log
   * @return the same text
   */
  public static String log(String text) {
    LOG.warn("userlib says {}", text);
    return text;
  }
}
