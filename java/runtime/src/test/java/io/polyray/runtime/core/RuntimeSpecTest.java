package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.spec.Policies;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The runtime spec's policies in Java ({@link Policies}) against the vectors every
 * language checks (proto/vectors/policy.json). Every case of every policy is run, and a
 * policy in the file that this test does not know fails it, so a policy added to the spec
 * cannot go unchecked in Java. Failures list each wrong case with its "why".
 */
class RuntimeSpecTest {
  static final Path POLICY = Paths.get(System.getProperty("polyray.root", "../.."), "proto", "vectors",
      "policy.json");

  /** What each policy's cases check, by name in the file: a case → null, or what went wrong. */
  private static final Map<String, Function<JsonObject, String>> CHECKS = Map.of(
      "inflight_limit", c -> same(c.get("expect").getAsInt(),
          Policies.inflightLimit(c.get("avg_task_us").getAsDouble(), c.get("queued").getAsLong(),
              c.get("leases").getAsLong())),
      "task_time_average", c -> close(c.get("expect_us").getAsDouble(),
          Policies.nextTaskTimeAverage(c.get("avg_us").getAsDouble(), c.get("took_us").getAsDouble())),
      "lease_requests", c -> same(c.get("expect_new").getAsInt(),
          Policies.leaseRequestsToStart(c.get("queued").getAsLong(), c.get("requesting").getAsLong())),
      "can_retry", c -> same(c.get("expect").getAsBoolean(),
          Policies.canRetry(c.get("attempt").getAsLong(), c.get("max_retries").getAsLong())),
      "actor_call", c -> same(c.get("expect").getAsString(),
          Policies.actorCall(c.get("in_flight").getAsBoolean(), c.get("actor_state").getAsString(),
              c.get("max_task_retries").getAsLong(), c.get("attempt").getAsLong())
              .name().toLowerCase(java.util.Locale.ROOT)),
      "travels_inline", c -> same(c.get("expect").getAsBoolean(), Policies.travelsInline(c.get("size").getAsLong())),
      "lease_failure", c -> same(c.get("expect").getAsString(),
          Policies.leaseFailure(ErrorKind.valueOf(c.get("kind").getAsString()), c.get("attempt").getAsLong(),
              c.get("max_retries").getAsLong()).name().toLowerCase(java.util.Locale.ROOT)),
      "spin_budget", c -> {
        JsonArray w = c.getAsJsonArray("waits_us");
        long[] waits = new long[w.size()];
        for (int i = 0; i < waits.length; i++) {
          waits[i] = w.get(i).getAsLong();
        }
        return same(c.get("expect_us").getAsLong(), Policies.spinBudgetUs(c.get("cap_us").getAsLong(),
            c.get("runnable").getAsLong(), c.get("cores").getAsLong(), waits, waits.length));
      });

  private static JsonObject vectors;

  @BeforeAll
  static void load() throws IOException {
    assertTrue(Files.isRegularFile(POLICY), "policy vectors not found at " + POLICY.toAbsolutePath()
        + " (set -Dpolyray.root to the repository root)");
    vectors = JsonParser.parseString(Files.readString(POLICY)).getAsJsonObject();
  }

  private static String same(Object expected, Object actual) {
    return expected.equals(actual) ? null : "expected " + expected + ", got " + actual;
  }

  /** Within 1e-6 relative (an absolute 1e-9 near zero). */
  private static String close(double expected, double actual) {
    double tol = Math.max(Math.abs(expected) * 1e-6, 1e-9);
    return Math.abs(expected - actual) <= tol ? null : "expected " + expected + ", got " + actual;
  }

  @Test
  void everyPolicyInTheFileIsChecked() {
    Set<String> inFile = new TreeSet<>(vectors.keySet());
    inFile.remove("about");
    assertEquals(new TreeSet<>(CHECKS.keySet()), inFile, "policies in policy.json vs. those RuntimeSpecTest checks");
  }

  @Test
  void inflightLimit() {
    check("inflight_limit");
  }

  @Test
  void taskTimeAverage() {
    check("task_time_average");
  }

  @Test
  void leaseRequests() {
    check("lease_requests");
  }

  @Test
  void canRetry() {
    check("can_retry");
  }

  @Test
  void actorCall() {
    check("actor_call");
  }

  @Test
  void travelsInline() {
    check("travels_inline");
  }

  @Test
  void leaseFailure() {
    check("lease_failure");
  }

  @Test
  void spinBudget() {
    check("spin_budget");
  }

  private static void check(String policy) {
    JsonArray cases = vectors.getAsJsonArray(policy);
    assertFalse(cases == null || cases.isEmpty(), "no cases for " + policy + " in " + POLICY);
    List<String> wrong = new ArrayList<>();
    for (JsonElement e : cases) {
      JsonObject c = e.getAsJsonObject();
      String problem = CHECKS.get(policy).apply(c);
      if (problem != null) {
        wrong.add(c + ": " + problem);
      }
    }
    assertTrue(wrong.isEmpty(), policy + ": " + wrong.size() + " of " + cases.size() + " cases wrong:\n  "
        + String.join("\n  ", wrong));
  }
}
