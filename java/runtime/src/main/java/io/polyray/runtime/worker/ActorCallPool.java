package io.polyray.runtime.worker;

import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;

/**
 * The calls of a threaded or async Java actor ({@code max_concurrency} n &gt; 1; java/README.md,
 * "Concurrent and async actors"): n threads over one FIFO queue, and at most n calls in
 * flight. The worker's task thread hands calls over in arrival order ({@link #dispatch}),
 * waiting for a free slot first; each call then takes its turn ({@link Call#start}'s
 * {@code turn}) right before it enters the user's method, after every call handed over
 * before it took theirs, so each caller's calls (sent in sequence order on one stream)
 * start in submission order, as in Python's threaded actors and C++'s; they then run
 * concurrently and may finish out of order. A call whose method returned a
 * {@link CompletionStage} (an async method) gives its thread back at once and keeps its
 * slot until the stage completes: up to n async calls wait at the same time without
 * holding a thread.
 */
final class ActorCallPool {
  /** One call: runs on a pool thread. */
  interface Call {
    /**
     * Runs the call.
     *
     * @param turn to run right before the user's method is entered: waits until every
     *     call handed over earlier has entered theirs (idempotent; taken for the call
     *     after it returns if it did not)
     * @return null when the call is done, or a stage that completes when it is
     */
    CompletionStage<?> start(Runnable turn);
  }

  /** The next call allowed to enter the user's method, by hand-over number. */
  private long nextTurn;
  private final Object turns = new Object();
  /** The hand-over number of the next call (dispatching thread only). */
  private long handedOver;

  private final int size;
  private final Semaphore slots;
  private final ExecutorService threads;
  private final AtomicInteger inFlight = new AtomicInteger();
  /** Told each turn's number as it is taken, inside the turn (tests see the order turns are taken in). */
  private final LongConsumer onTurn;

  /**
   * A pool of {@code size} threads.
   *
   * @param size the actor's max_concurrency (at least 1)
   * @param name the threads' name prefix
   */
  ActorCallPool(int size, String name) {
    this(size, name, turn -> { });
  }

  /**
   * A pool that reports each turn as it is taken (for tests: what a call does after its turn
   * may interleave with the next call's, so only the turns themselves are strictly ordered).
   *
   * @param size the actor's max_concurrency (at least 1)
   * @param name the threads' name prefix
   * @param onTurn called with the turn's number while the turn is held
   */
  ActorCallPool(int size, String name, LongConsumer onTurn) {
    this.onTurn = onTurn;
    if (size < 1) {
      throw new IllegalArgumentException("max_concurrency must be at least 1, got " + size);
    }
    this.size = size;
    this.slots = new Semaphore(size, true);
    AtomicInteger n = new AtomicInteger();
    // FIFO: a queued call is taken by the next free thread, in the order it was handed over
    // (threads started up front, so no call bypasses the queue on a new thread).
    ThreadPoolExecutor pool = new ThreadPoolExecutor(size, size, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
        r -> {
          Thread t = new Thread(r, name + "-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    pool.prestartAllCoreThreads();
    this.threads = pool;
  }

  /**
   * The number of calls that may be in flight.
   *
   * @return max_concurrency
   */
  int size() {
    return size;
  }

  /**
   * The pool's threads, for work that finishes a call (an async call's result).
   *
   * @return the executor
   */
  java.util.concurrent.Executor executor() {
    return threads;
  }

  /**
   * Calls started and not done yet.
   *
   * @return how many
   */
  int inFlight() {
    return inFlight.get();
  }

  /**
   * Hands a call over (from the one dispatching thread, in arrival order): waits until
   * fewer than {@code size} calls are in flight, then queues it for the next free thread.
   *
   * @param call the call
   * @throws InterruptedException when interrupted while waiting for a slot (the call is not queued)
   */
  void dispatch(Call call) throws InterruptedException {
    slots.acquire();
    inFlight.incrementAndGet();
    long turn = handedOver++;
    try {
      threads.execute(() -> run(call, turn));
    } catch (RuntimeException e) { // closed
      handedOver--;
      done();
      throw e;
    }
  }

  /** Waits until it is call {@code turn}'s turn, then lets the next call have its turn. */
  private final class Turn implements Runnable {
    private final long turn;
    private boolean taken;

    Turn(long turn) {
      this.turn = turn;
    }

    @Override
    public void run() {
      if (taken) {
        return;
      }
      taken = true;
      boolean interrupted = false;
      synchronized (turns) {
        while (nextTurn != turn) {
          try {
            turns.wait();
          } catch (InterruptedException e) {
            interrupted = true; // a cancel: it is seen once the call runs
          }
        }
        onTurn.accept(turn);
        nextTurn++;
        turns.notifyAll();
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void run(Call call, long turn) {
    CompletionStage<?> pending;
    Turn t = new Turn(turn);
    try {
      pending = call.start(t);
    } catch (RuntimeException | Error e) {
      t.run();
      done();
      throw e;
    }
    t.run();
    if (pending == null) {
      done();
    } else {
      pending.whenComplete((v, err) -> done());
    }
  }

  private void done() {
    inFlight.decrementAndGet();
    slots.release();
  }

  /**
   * Waits until no call is in flight (every slot free), then holds all slots until
   * {@link #release()}: what runs meanwhile runs alone (a graceful terminate runs after
   * the calls before it).
   *
   * @param timeoutMs the longest wait
   * @return false when calls were still in flight after the wait (nothing is held then)
   * @throws InterruptedException when interrupted
   */
  boolean drain(long timeoutMs) throws InterruptedException {
    return slots.tryAcquire(size, timeoutMs, TimeUnit.MILLISECONDS);
  }

  /** Gives back the slots {@link #drain} took. */
  void release() {
    slots.release(size);
  }

  /** Stops the threads (calls still running are interrupted). */
  void close() {
    threads.shutdownNow();
  }
}
