package io.polyray.runtime.core;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The clock and timers a submitter uses: the CoreWorker's io thread in production
 * ({@link #of}), a manual clock in unit tests, so a linger or a retry pause can be tested
 * without waiting for it.
 *
 * <p>Invariants: a timer's task runs on the thread that runs the submitter's other
 * callbacks (the io thread), never concurrently with them; {@link #nanoTime} never goes
 * back; after shutdown {@link #schedule} drops the task and returns null.
 */
interface IoScheduler {
  /** A timer that has not fired yet can be cancelled; cancelling a fired one does nothing. */
  interface Timer {
    void cancel();
  }

  /**
   * Monotonic time.
   *
   * @return nanoseconds from an arbitrary origin
   */
  long nanoTime();

  /**
   * Runs {@code task} once, {@code delayMs} from now.
   *
   * @param task what to run
   * @param delayMs the delay
   * @return its timer, or null when the scheduler is shut down (the task will not run)
   */
  Timer schedule(Runnable task, long delayMs);

  /**
   * The production scheduler: the io thread's executor and {@link System#nanoTime}.
   *
   * @param loop the io thread
   * @return the scheduler
   */
  static IoScheduler of(ScheduledExecutorService loop) {
    return new IoScheduler() {
      @Override
      public long nanoTime() {
        return System.nanoTime();
      }

      @Override
      public Timer schedule(Runnable task, long delayMs) {
        try {
          ScheduledFuture<?> f = loop.schedule(task, delayMs, TimeUnit.MILLISECONDS);
          return () -> f.cancel(false);
        } catch (RejectedExecutionException e) {
          return null; // shutting down: nothing waits for the task any more
        }
      }
    };
  }
}
