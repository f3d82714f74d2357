package apitest;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An actor for issue 19's concurrency tests: naps (sync, holding a thread) and async
 * naps (a CompletableFuture completed by a timer, holding no actor thread), and the
 * order in which calls started.
 */
public class Napper {
  private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "napper-timer");
    t.setDaemon(true);
    return t;
  });
  // Lock-free: a lock here would let a later call overtake an earlier one while both wait
  // for it (monitors are not fair), which is not the order the worker starts calls in.
  private final AtomicLong seq = new AtomicLong();
  private final ConcurrentHashMap<Long, Long> startedAt = new ConcurrentHashMap<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger mostInFlight = new AtomicInteger();

  private void enter(long id) {
    startedAt.put(seq.getAndIncrement(), id);
    mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
  }

  private void leave() {
    inFlight.decrementAndGet();
  }

  /** Sleeps {@code ms} on the calling thread; returns {@code id}. */
  public long nap(long id, long ms) throws InterruptedException {
    enter(id);
    try {
      Thread.sleep(ms);
    } finally {
      leave();
    }
    return id;
  }

  /** Completes with {@code id} after {@code ms}, without blocking the calling thread. */
  public CompletableFuture<Long> asyncNap(long id, long ms) {
    enter(id);
    CompletableFuture<Long> f = new CompletableFuture<>();
    TIMER.schedule(() -> {
      leave();
      f.complete(id);
    }, ms, TimeUnit.MILLISECONDS);
    return f;
  }

  /** Fails after {@code ms} with an IllegalStateException naming {@code why}. */
  public CompletableFuture<Long> asyncFail(String why, long ms) {
    CompletableFuture<Long> f = new CompletableFuture<>();
    TIMER.schedule(() -> f.completeExceptionally(new IllegalStateException("async failure: " + why)), ms,
        TimeUnit.MILLISECONDS);
    return f;
  }

  /** The ids of the calls in the order they started. */
  public List<Long> started() {
    return new ArrayList<>(new TreeMap<>(startedAt).values());
  }

  /** The most calls that were inside nap/asyncNap at once. */
  public int mostInFlight() {
    return mostInFlight.get();
  }
}
