package parity;

import io.polyray.api.PolyRay;
import io.polyray.api.ActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRayActors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/** Java tasks for tests/api/test_java_parity.py (issue 17). */
public final class Tasks {
  private Tasks() {
  }

  static void mark(String path, String text) {
    try {
      Path tmp = Paths.get(path + ".tmp");
      Files.write(tmp, text.getBytes(StandardCharsets.UTF_8));
      Files.move(tmp, Paths.get(path), StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  /** Spins up to ms; marks path "cancelled" when isCanceled() became true (the interrupt wakes it). */
  public static long spin(String path, long ms) {
    long end = System.nanoTime() + ms * 1_000_000L;
    mark(path + ".started", "1");
    while (System.nanoTime() < end) {
      if (PolyRay.getRuntimeContext().isCanceled()) {
        mark(path, "cancelled");
        return -1;
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        // the cancel's interrupt: isCanceled() says why
      }
    }
    mark(path, "finished");
    return ms;
  }

  /** isCanceled() in a task nobody cancelled. */
  public static boolean notCancelled() {
    return !PolyRay.getRuntimeContext().isCanceled();
  }

  /** The namespace a Java task sees and whether getActor(name) finds the job's actor. */
  public static String namespaceAndLookup(String name) {
    String ns = PolyRay.getRuntimeContext().getNamespace();
    return ns + "|" + (PolyRayActors.getActor(name).isPresent() ? "found" : "missing");
  }

  /** getCurrentActor() outside an actor: the error's message. */
  public static String currentActorOutsideActor() {
    try {
      PolyRay.getRuntimeContext().getCurrentActor();
      return "no error";
    } catch (IllegalStateException e) {
      return e.getMessage();
    }
  }

  /**
   * A Java caller sets concurrency groups (issue 19): Grouped with setConcurrencyGroups(slow=1),
   * two naps of ms in "slow" and a fast call in the default group. Returns
   * "fastWhileSlowBusy|most|undeclared|badSize": whether the fast call answered while the
   * second nap had not finished (order, no clock limit), the most naps seen at once, whether a
   * call in an undeclared group failed naming it, whether size 0 was refused at the setter.
   */
  public static String groupsFromJava(long ms) {
    ActorHandle<Grouped> a = PolyRay.actor(Grouped::new).setConcurrencyGroups(Map.of("slow", 1)).remote();
    PolyRay.get(a.task(Grouped::fast).remote(), 60_000);
    List<ObjectRef<Long>> slow = List.of(a.task(Grouped::block, ms).setConcurrencyGroup("slow").remote(),
        a.task(Grouped::block, ms).setConcurrencyGroup("slow").remote());
    PolyRay.get(a.task(Grouped::fast).remote(), 60_000);
    boolean fastFirst = PolyRay.wait(slow.subList(1, 2), 1, 0).getReady().isEmpty();
    PolyRay.get(slow, 60_000);
    long most = PolyRay.get(a.task(Grouped::most).remote(), 60_000);
    String undeclared;
    try {
      PolyRay.get(a.task(Grouped::fast).setConcurrencyGroup("nope").remote(), 60_000);
      undeclared = "ran";
    } catch (RuntimeException e) {
      undeclared = String.valueOf(e.getMessage()).contains("concurrency group 'nope' is not declared")
          ? "refused" : e.toString();
    }
    boolean badSize;
    try {
      PolyRay.actor(Grouped::new).setConcurrencyGroups(Map.of("slow", 0));
      badSize = false;
    } catch (IllegalArgumentException e) {
      badSize = e.getMessage().startsWith("concurrencyGroups");
    }
    return fastFirst + "|" + most + "|" + undeclared + "|" + badSize;
  }
}
