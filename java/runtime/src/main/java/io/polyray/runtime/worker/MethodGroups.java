package io.polyray.runtime.worker;

import io.polyray.api.ConcurrencyGroup;
import io.polyray.runtime.codec.ErrorRecords;
import java.lang.reflect.Method;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The concurrency groups a Java actor's methods declare with {@link ConcurrencyGroup} (Ray's
 * {@code @ray.method(concurrency_group=)}): read once at the actor's creation, checked against
 * the groups the actor declares, then looked up for each call that names no group.
 *
 * <p>Invariants: keys are {@code name/arity} (how the worker resolves a method without a JVM
 * signature); two public overloads of one name and arity naming different groups, an empty
 * group name, or a group the actor does not declare fail the creation (a {@link TaskFailure}
 * naming the method and the group), so a call never meets an unknown declared group.
 */
final class MethodGroups {
  /** An actor class whose methods declare no group. */
  static final MethodGroups NONE = new MethodGroups(Map.of());

  private final Map<String, String> byMethod;

  private MethodGroups(Map<String, String> byMethod) {
    this.byMethod = byMethod;
  }

  /**
   * The declarations of {@code cls}'s public methods (inherited ones too), checked.
   *
   * @param cls the actor's class
   * @param declared the actor's concurrency groups (its creation's {@code concurrency_groups})
   * @return the declarations
   * @throws TaskFailure naming the method for an empty or undeclared group, or for overloads of
   *     one arity in different groups
   */
  static MethodGroups of(Class<?> cls, Set<String> declared) throws TaskFailure {
    Map<String, String> out = new HashMap<>();
    for (Method m : cls.getMethods()) {
      ConcurrencyGroup g = m.getAnnotation(ConcurrencyGroup.class);
      if (g == null) {
        continue;
      }
      String where = cls.getName() + "." + m.getName();
      if (g.value().isEmpty()) {
        throw failure("method " + where + " has @ConcurrencyGroup(\"\"): a group name must not be empty");
      }
      if (!declared.contains(g.value())) {
        throw failure("method " + where + " declares @ConcurrencyGroup(\"" + g.value() + "\"), which actor class "
            + cls.getName() + " was not created with (its groups: " + names(declared)
            + "); declare it with setConcurrencyGroups / concurrency_groups=");
      }
      String key = key(m.getName(), m.getParameterCount());
      String before = out.put(key, g.value());
      if (before != null && !before.equals(g.value())) {
        throw failure("overloads of " + where + " with " + m.getParameterCount() + " parameter(s) declare "
            + "different concurrency groups ('" + before + "', '" + g.value() + "')");
      }
    }
    return out.isEmpty() ? NONE : new MethodGroups(Collections.unmodifiableMap(out));
  }

  /**
   * The group a method declares, or "" (no declaration).
   *
   * @param method the method's name
   * @param argCount the call's argument count
   * @return the group, or ""
   */
  String groupOf(String method, int argCount) {
    return byMethod.isEmpty() ? "" : byMethod.getOrDefault(key(method, argCount), "");
  }

  private static String key(String method, int arity) {
    return method + "/" + arity;
  }

  private static String names(Set<String> groups) {
    return groups.isEmpty() ? "none" : String.join(", ", new TreeSet<>(groups));
  }

  private static TaskFailure failure(String message) {
    return new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException", message));
  }
}
