package parity;

import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayActors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;

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
}
