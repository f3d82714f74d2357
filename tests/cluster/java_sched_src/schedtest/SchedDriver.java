package schedtest;

import io.polyray.api.ActorHandle;
import io.polyray.api.CppFunction;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyFunction;
import io.polyray.api.exception.TaskCancelledException;
import io.polyray.api.placement.PlacementGroup;
import io.polyray.api.placement.PlacementGroups;
import io.polyray.api.placement.PlacementStrategy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Java driver for tests/api/test_java_scheduling.py (issue 19 Deliver 4): joins the test's
 * cluster and tries node affinity, SPREAD, placement groups, cancel, multiple returns and
 * first-error-wins get, printing one {@code RESULT key=value} line per case ("ok" or what
 * went wrong). Arguments: the GCS address, the code search path, a scratch folder, the id of
 * the second node (the driver's is the head).
 */
public final class SchedDriver {
  private static final long T = 60_000;

  private SchedDriver() {}

  interface Case {
    String run() throws Exception;
  }

  private static void report(String key, Case c) {
    String out;
    long t0 = System.nanoTime();
    try {
      out = c.run();
    } catch (Throwable t) {
      out = "FAILED " + t;
    }
    System.out.println("RESULT " + key + "=" + out.replace('\n', ' '));
    System.out.println("TIME " + key + "=" + (System.nanoTime() - t0) / 1_000_000 + " ms");
    System.out.flush();
  }

  private static String iae(Runnable r) {
    try {
      r.run();
      return "no exception";
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  private static String thrown(ObjectRef<?> ref) {
    try {
      return "value " + PolyRay.get(ref, T);
    } catch (io.polyray.api.exception.TaskException e) {
      return e.getClass().getSimpleName() + " " + e.getTypeName() + ": " + e.getMessage();
    } catch (RuntimeException e) {
      return e.getClass().getSimpleName();
    }
  }

  /** Waits (bounded) for a task's marker file; returns the pid written in it. */
  private static long awaitMarker(Path marker) throws Exception {
    long deadline = System.nanoTime() + T * 1_000_000L;
    while (!Files.exists(marker)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the task never started: no " + marker);
      }
      Thread.sleep(20);
    }
    return Long.parseLong(new String(Files.readAllBytes(marker), StandardCharsets.UTF_8).trim());
  }

  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1])));
    Path scratch = Path.of(args[2]);
    String local = PolyRay.getRuntimeContext().getNodeId();
    String nodeB = args[3];
    try {
      report("affinity_hard", () -> {
        String onB = PolyRay.get(PolyRay.task(Work::nodeId).setNodeAffinity(nodeB, false).remote(), T);
        String here = PolyRay.get(PolyRay.task(Work::nodeId).setNodeAffinity(local, false).remote(), T);
        return onB.equals(nodeB) && here.equals(local) ? "ok" : "ran on " + onB + " / " + here;
      });
      String unknown = "ee".repeat(28);
      report("affinity_soft_unknown", () -> {
        String got = PolyRay.get(PolyRay.task(Work::nodeId).setNodeAffinity(unknown, true).remote(), T);
        return got.equals(local) ? "ok" : "ran on " + got;
      });
      report("affinity_hard_unknown", () -> thrown(PolyRay.task(Work::nodeId).setNodeAffinity(unknown, false)
          .remote()));
      report("spread", () -> {
        List<ObjectRef<String>> refs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
          refs.add(PolyRay.task(Work::slowNodeId, 1000L).setSpread().remote());
        }
        java.util.Set<String> nodes = new java.util.HashSet<>(PolyRay.get(refs, T));
        return nodes.equals(java.util.Set.of(local, nodeB)) ? "ok" : "ran on " + nodes;
      });
      report("bad_node_id", () -> iae(() -> PolyRay.task(Work::nodeId).setNodeAffinity("not-a-node", false)));
      report("bad_bundles", () -> iae(() -> PlacementGroups.create(List.of(), PlacementStrategy.PACK)));
      report("pg", () -> {
        PlacementGroup pg = PlacementGroups.create(List.of(Map.of("CPU", 1.0), Map.of("CPU", 1.0)),
            PlacementStrategy.STRICT_SPREAD, "sched-pg");
        if (!pg.wait(60)) {
          return "not created in 60 s";
        }
        if (!Boolean.TRUE.equals(PolyRay.get(pg.ready(), T))) {
          return "ready() was not true";
        }
        Optional<PlacementGroup> byName = PlacementGroups.get("sched-pg");
        if (!byName.isPresent() || !byName.get().getId().equals(pg.getId()) || byName.get().getBundleCount() != 2) {
          return "get(name) gave " + byName;
        }
        String bad = iae(() -> PolyRay.task(Work::nodeId).setPlacementGroup(pg, -2));
        if (!bad.startsWith("bundleIndex")) {
          return "bundleIndex -2: " + bad;
        }
        String tooBig = iae(() -> PolyRay.task(Work::nodeId).setResource("CPU", 2.0).setPlacementGroup(pg, 0)
            .remote());
        if (!tooBig.contains("cannot be scheduled in its placement group")) {
          return "CPU 2 in a bundle of 1: " + tooBig;
        }
        String bundle0 = PolyRay.get(PolyRay.task(Work::nodeId).setPlacementGroup(pg, 0).remote(), T);
        String bundle1 = PolyRay.get(PolyRay.task(Work::nodeId).setPlacementGroup(pg, 1).remote(), T);
        ActorHandle<Work.Holder> h = PolyRay.actor(Work.Holder::new).setResource("CPU", 1.0).setPlacementGroup(pg, 1)
            .remote();
        String actorNode = PolyRay.get(h.task(Work.Holder::nodeId).remote(), T);
        PolyRay.kill(h);
        PlacementGroups.remove(pg);
        if (PlacementGroups.get("sched-pg").isPresent()) {
          return "still found after remove";
        }
        boolean spread = !bundle0.equals(bundle1) && java.util.Set.of(local, nodeB).equals(java.util.Set.of(bundle0,
            bundle1));
        return spread && actorNode.equals(bundle1) ? "ok" : "ran on " + bundle0 + " / " + bundle1 + " / " + actorNode;
      });
      report("pg_pending_removed", () -> {
        PlacementGroup pg = PlacementGroups.create(List.of(Map.of("CPU", 64.0)), PlacementStrategy.PACK);
        ObjectRef<Boolean> ready = pg.ready();
        if (pg.wait(0.5)) {
          return "64 CPUs reserved on nodes of 4 and 2";
        }
        PlacementGroups.remove(pg);
        try {
          PolyRay.get(ready, T);
          return "ready() resolved";
        } catch (RuntimeException e) {
          return e.getMessage().contains("removed before it was created") ? "ok" : e.toString();
        }
      });
      report("cancel", () -> {
        // One "slot": the first task runs (and holds it), the second queues behind it.
        Path marker = scratch.resolve("running");
        ObjectRef<Long> running = PolyRay.task(Work::markAndSleep, marker.toString(), 60_000L)
            .setResource("slot", 1.0).setMaxRetries(0).remote();
        ObjectRef<Long> queued = PolyRay.task(Work::markAndSleep, scratch.resolve("never").toString(), 60_000L)
            .setResource("slot", 1.0).remote();
        awaitMarker(marker);
        long t0 = System.nanoTime();
        PolyRay.cancel(queued);
        String q = thrown(queued);
        PolyRay.cancel(running);
        String r = thrown(running);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (Files.exists(scratch.resolve("never"))) {
          return "the queued task ran";
        }
        return q + "," + r + ",ms=" + ms;
      });
      report("cancel_force", () -> {
        Path marker = scratch.resolve("forced");
        ObjectRef<Long> ref = PolyRay.task(Work::markAndSleep, marker.toString(), 60_000L).setMaxRetries(3).remote();
        long pid = awaitMarker(marker);
        PolyRay.cancel(ref, true);
        String got = thrown(ref);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
          if (System.nanoTime() > deadline) {
            return got + ",worker " + pid + " still alive";
          }
          Thread.sleep(20);
        }
        return got + ",exited";
      });
      report("cancel_recursive", () -> {
        Path started = scratch.resolve("child-started");
        Path interrupted = scratch.resolve("child-interrupted");
        ObjectRef<Long> parent = PolyRay.task(Work::parentOfSleeper, started.toString(), interrupted.toString())
            .setMaxRetries(0).remote();
        awaitMarker(started);
        PolyRay.cancel(parent);
        String got = thrown(parent);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!Files.exists(interrupted)) {
          if (System.nanoTime() > deadline) {
            return got + ",the child was not cancelled";
          }
          Thread.sleep(20);
        }
        return got + ",child cancelled";
      });
      report("cancel_actor", () -> {
        ActorHandle<Work.Holder> h = PolyRay.actor(Work.Holder::new).remote();
        Path marker = scratch.resolve("actor-running");
        ObjectRef<Long> running = h.task(Work.Holder::sleepy, marker.toString(), 60_000L).remote();
        ObjectRef<Long> queued = h.task(Work.Holder::sleepy, scratch.resolve("actor-never").toString(), 60_000L)
            .remote();
        awaitMarker(marker);
        String force = iae(() -> PolyRay.cancel(queued, true));
        // The queued call ends when its turn comes at the actor: cancel both, then get them.
        PolyRay.cancel(queued);
        PolyRay.cancel(running);
        long t0 = System.nanoTime();
        String q = thrown(queued);
        String r = thrown(running);
        if ((System.nanoTime() - t0) / 1_000_000 > 30_000) {
          return "the running call was not interrupted";
        }
        String after = String.valueOf(PolyRay.get(h.task(Work.Holder::split, "x,y").setNumReturns(2).remoteMulti(), T));
        PolyRay.kill(h);
        boolean ran = Files.exists(scratch.resolve("actor-never"));
        return q + "," + r + "," + (force.contains("force") ? "force refused" : force) + "," + after
            + (ran ? ",the queued call ran" : "");
      });
      report("cancel_borrowed", () -> {
        Path marker = scratch.resolve("borrowed");
        ObjectRef<Long> ref = PolyRay.task(Work::markAndSleep, marker.toString(), 60_000L).setMaxRetries(0).remote();
        awaitMarker(marker);
        String asked = PolyRay.get(PolyRay.task(Work::cancelIt, List.of(ref)).remote(), T);
        return asked + "," + thrown(ref);
      });
      report("returns_java", () -> {
        List<ObjectRef<Object>> refs = PolyRay.task(Work::three, 5L).setNumReturns(3).remoteMulti();
        return String.valueOf(PolyRay.get(refs, T));
      });
      report("returns_python", () -> {
        List<ObjectRef<Object>> refs = PolyRay.task(PyFunction.of("sched_mod", "pair"), 21L).setNumReturns(2)
            .remoteMulti();
        return String.valueOf(PolyRay.get(refs, T));
      });
      report("returns_actor", () -> {
        ActorHandle<Work.Holder> h = PolyRay.actor(Work.Holder::new).remote();
        List<ObjectRef<Object>> refs = h.task(Work.Holder::split, "a,b").setNumReturns(2).remoteMulti();
        String out = String.valueOf(PolyRay.get(refs, T));
        PolyRay.kill(h);
        return out;
      });
      report("returns_cpp", () -> iae(() -> PolyRay.task(CppFunction.of("Anything", Long.class)).setNumReturns(2)
          .remoteMulti()));
      report("native", () -> {
        Work.Pt moved = PolyRay.get(PolyRay.task(Work::movePt, new Work.Pt(1, "a"), 2L).remote(), T);
        long n = PolyRay.get(PolyRay.task(Work::countPts, List.of(new Work.Pt(1, "b"), new Work.Pt(2, "c"))).remote(),
            T);
        // Above the inline limit: through the store, both ways.
        Work.Pt big = PolyRay.get(PolyRay.task(Work::movePt, new Work.Pt(5, "x".repeat(300_000)), 1L).remote(), T);
        return moved + "," + n + "," + big;
      });
      report("native_to_python", () -> {
        try {
          PolyRay.task(PyFunction.of("sched_mod", "pair"), new Work.Pt(1, "a")).remote();
          return "sent";
        } catch (IllegalArgumentException e) {
          return e.getMessage();
        }
      });
      report("first_error", () -> {
        ObjectRef<Long> slow = PolyRay.task(Work::slow, 8_000L).remote();
        ObjectRef<Long> boom = PolyRay.task(Work::boom).remote();
        long t0 = System.nanoTime();
        try {
          PolyRay.get(List.of(slow, boom), T);
          return "no error";
        } catch (RuntimeException e) {
          long ms = (System.nanoTime() - t0) / 1_000_000;
          PolyRay.cancel(slow);
          return (e.getMessage().contains("boom") ? "boom" : e.toString()) + ",ms=" + ms;
        }
      });
    } finally {
      PolyRay.shutdown();
    }
  }
}
