package schedtest;

import io.polyray.api.PolyRay;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Callees of SchedDriver (tests/api/test_java_scheduling.py). */
public final class Work {
  private Work() {}

  public static String nodeId() {
    return PolyRay.getRuntimeContext().getNodeId();
  }

  /** Sleeps, then says where it ran. */
  public static String slowNodeId(long ms) throws InterruptedException {
    Thread.sleep(ms);
    return nodeId();
  }

  /** Writes this worker's pid to {@code marker}, then sleeps (a cancel interrupts it). */
  public static long markAndSleep(String marker, long ms) {
    try {
      Path tmp = Path.of(marker + ".tmp");
      Files.write(tmp, Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8));
      Files.move(tmp, Path.of(marker));
      Thread.sleep(ms);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      throw new IllegalStateException("interrupted", e);
    }
    return ms;
  }

  /** Starts childSleep and waits for it (a recursive cancel of this task reaches the child). */
  public static long parentOfSleeper(String marker, String interrupted) {
    return PolyRay.get(PolyRay.task(Work::childSleep, marker, interrupted).setMaxRetries(0).remote());
  }

  /** Writes {@code marker}, sleeps; when interrupted, writes {@code interrupted} first. */
  public static long childSleep(String marker, String interrupted) {
    try {
      return markAndSleep(marker, 60_000);
    } catch (IllegalStateException e) {
      try {
        Files.write(Path.of(interrupted), new byte[] {1});
      } catch (IOException io) {
        throw new IllegalStateException(io);
      }
      throw e;
    }
  }

  /** A borrower's cancel: goes to the ref's owner (the driver), which forwards it. */
  public static String cancelIt(List<io.polyray.api.ObjectRef<Long>> refs) {
    PolyRay.cancel(refs.get(0));
    return "asked";
  }

  public static List<Object> three(long x) {
    return List.of(x, x + 1, "s" + x);
  }

  public static long boom() {
    throw new IllegalStateException("boom");
  }

  public static long slow(long ms) throws InterruptedException {
    Thread.sleep(ms);
    return ms;
  }

  /** A value with no XLANG form: it travels Java-native between Java ends. */
  public static final class Pt implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    public final long x;
    public final String s;

    public Pt(long x, String s) {
      this.x = x;
      this.s = s;
    }

    @Override
    public String toString() {
      return "Pt(" + x + "," + (s.length() > 20 ? s.length() + " chars" : s) + ")";
    }
  }

  public static Pt makePt(long x) {
    return new Pt(x, "made");
  }

  public static Pt movePt(Pt p, long dx) {
    return new Pt(p.x + dx, p.s + "!");
  }

  public static long countPts(List<Pt> pts) {
    return pts.stream().filter(p -> p != null).count();
  }

  /** An actor whose method has two return values (an array). */
  public static final class Holder {
    public Holder() {}

    public Object[] split(String s) {
      int i = s.indexOf(',');
      return new Object[] {s.substring(0, i), s.substring(i + 1)};
    }

    public String nodeId() {
      return PolyRay.getRuntimeContext().getNodeId();
    }

    public long sleepy(String marker, long ms) {
      return markAndSleep(marker, ms);
    }
  }
}
