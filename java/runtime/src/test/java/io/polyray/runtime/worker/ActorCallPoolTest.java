package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ordering and bounds of a concurrent actor's calls (ActorCallPool), in process: calls
 * start in the order they were handed over, at most max_concurrency are in flight, and an
 * async call keeps its slot but not its thread until its stage completes.
 */
class ActorCallPoolTest {
  private static final long WAIT_S = 10;
  private ActorCallPool pool;

  @AfterEach
  void close() {
    if (pool != null) {
      pool.close();
    }
  }

  /** Dispatches from another thread (dispatch blocks while the pool is full). */
  private static Thread dispatchAll(ActorCallPool p, List<ActorCallPool.Call> calls) {
    Thread t = new Thread(() -> {
      for (ActorCallPool.Call c : calls) {
        try {
          p.dispatch(c);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    t.start();
    return t;
  }

  @Test
  void callsStartInHandOverOrderAndAtMostNRunAtOnce() throws Exception {
    List<Long> turns = Collections.synchronizedList(new ArrayList<>());
    pool = new ActorCallPool(3, "t", turns::add);
    List<Integer> started = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger now = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch allDone = new CountDownLatch(12);
    List<ActorCallPool.Call> calls = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      int id = i;
      calls.add(turn -> {
        turn.run();
        started.add(id);
        most.accumulateAndGet(now.incrementAndGet(), Math::max);
        try {
          go.await(WAIT_S, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        now.decrementAndGet();
        allDone.countDown();
        return null;
      });
    }
    Thread d = dispatchAll(pool, calls);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
    while (started.size() < 3 && System.nanoTime() < end) {
      Thread.sleep(1);
    }
    List<Integer> firstThree = new ArrayList<>(started);
    Collections.sort(firstThree); // they race once past their turns; the turns themselves are checked below
    assertEquals(List.of(0, 1, 2), firstThree, "the first three start together");
    assertEquals(3, pool.inFlight());
    assertTrue(d.isAlive(), "the fourth hand-over waits for a free slot");
    go.countDown();
    assertTrue(allDone.await(WAIT_S, TimeUnit.SECONDS));
    d.join(TimeUnit.SECONDS.toMillis(WAIT_S));
    List<Long> want = new ArrayList<>();
    for (long i = 0; i < 12; i++) {
      want.add(i);
    }
    assertEquals(want, new ArrayList<>(turns), "each call takes its turn after the calls handed over before it");
    assertEquals(12, started.size());
    assertEquals(3, most.get(), "never more than max_concurrency at once");
  }

  @Test
  void oneSlotRunsCallsOneAfterAnotherInOrder() throws Exception {
    pool = new ActorCallPool(1, "t");
    List<Integer> log = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(20);
    List<ActorCallPool.Call> calls = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      int id = i;
      calls.add(turn -> {
        log.add(id);
        log.add(-id - 1);
        done.countDown();
        return null;
      });
    }
    dispatchAll(pool, calls);
    assertTrue(done.await(WAIT_S, TimeUnit.SECONDS));
    List<Integer> want = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      want.add(i);
      want.add(-i - 1);
    }
    assertEquals(want, new ArrayList<>(log), "start and end of each call, strictly in order");
  }

  @Test
  void asyncCallsHoldASlotButNotAThread() throws Exception {
    pool = new ActorCallPool(2, "t");
    CompletableFuture<Object> first = new CompletableFuture<>();
    CompletableFuture<Object> second = new CompletableFuture<>();
    List<String> started = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch thirdRan = new CountDownLatch(1);
    List<ActorCallPool.Call> calls = List.of(
        turn -> {
          turn.run();
          started.add("a");
          return first;
        },
        turn -> {
          turn.run();
          started.add("b");
          return second;
        },
        turn -> {
          turn.run();
          started.add("c");
          thirdRan.countDown();
          return null;
        });
    Thread d = dispatchAll(pool, calls);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
    while (started.size() < 2 && System.nanoTime() < end) {
      Thread.sleep(1);
    }
    List<String> firstTwo = new ArrayList<>(started);
    Collections.sort(firstTwo); // past their turns the two race to record themselves
    assertEquals(List.of("a", "b"), firstTwo);
    assertEquals(2, pool.inFlight(), "both async calls are in flight, their threads are free");
    assertFalse(thirdRan.await(200, TimeUnit.MILLISECONDS), "a third call waits: two slots are taken");
    first.complete("x");
    assertTrue(thirdRan.await(WAIT_S, TimeUnit.SECONDS), "the first async call's end frees a slot");
    second.completeExceptionally(new IllegalStateException("boom"));
    d.join(TimeUnit.SECONDS.toMillis(WAIT_S));
    end = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
    while (pool.inFlight() > 0 && System.nanoTime() < end) {
      Thread.sleep(1);
    }
    assertEquals(0, pool.inFlight(), "a failed stage frees its slot too");
  }

  @Test
  void drainWaitsForCallsInFlightThenHoldsEverySlot() throws Exception {
    pool = new ActorCallPool(2, "t");
    CompletableFuture<Object> pending = new CompletableFuture<>();
    pool.dispatch(turn -> pending);
    assertFalse(pool.drain(100), "a call is in flight");
    pending.complete(null);
    assertTrue(pool.drain(TimeUnit.SECONDS.toMillis(WAIT_S)));
    Thread d = dispatchAll(pool, List.of(turn -> null));
    d.join(200);
    assertTrue(d.isAlive(), "nothing starts while drained");
    pool.release();
    d.join(TimeUnit.SECONDS.toMillis(WAIT_S));
    assertFalse(d.isAlive());
  }
}
