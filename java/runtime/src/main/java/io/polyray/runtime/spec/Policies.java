package io.polyray.runtime.spec;

import io.polyray.runtime.proto.ErrorKind;

/**
 * The runtime spec's policies (proto/runtime/runtime_spec.toml), written once for Java.
 * Every CoreWorker language decides these the same way; RuntimeSpecTest checks this class
 * against proto/vectors/policy.json, as the Python and C++ unit tests check theirs.
 *
 * <p>Invariants: pure functions of their arguments and {@link RuntimeSpec}'s constants (no
 * state, no clock), so a submitter's decision can be tested without running anything.
 */
public final class Policies {
  private Policies() {}

  /**
   * How many tasks may be in flight on one leased worker (policy "inflight_limit").
   * Short tasks are pipelined only when far more tasks wait than there are workers: a few
   * tasks always get a worker each, so tasks that wait on one another never queue behind
   * one another on one worker.
   *
   * @param avgTaskUs the lease's moving average of task time, in microseconds
   * @param queued tasks waiting in the lease's scheduling class
   * @param leases leases held for that class
   * @return {@link RuntimeSpec#PIPELINING_MAX_INFLIGHT_FAST} or 1
   */
  public static int inflightLimit(double avgTaskUs, long queued, long leases) {
    if (avgTaskUs < RuntimeSpec.PIPELINING_FAST_TASK_US && queued > RuntimeSpec.PIPELINING_QUEUE_FACTOR * leases) {
      return RuntimeSpec.PIPELINING_MAX_INFLIGHT_FAST;
    }
    return 1;
  }

  /**
   * A lease's task-time average after one more result (policy "task_time_average"). An
   * average at or above {@link RuntimeSpec#PIPELINING_UNKNOWN_AVG_US} means "no result
   * yet": the first result replaces it rather than being averaged with a guess.
   *
   * @param avgUs the average so far, in microseconds
   * @param tookUs how long the task took, in microseconds
   * @return the new average, in microseconds
   */
  public static double nextTaskTimeAverage(double avgUs, double tookUs) {
    if (avgUs >= RuntimeSpec.PIPELINING_UNKNOWN_AVG_US) {
      return tookUs;
    }
    double w = RuntimeSpec.PIPELINING_NEW_WEIGHT_RATIO;
    return (1 - w) * avgUs + w * tookUs;
  }

  /**
   * How many more lease requests to send for a scheduling class (policy "lease_requests"):
   * one per queued task, at most {@link RuntimeSpec#LEASE_MAX_PENDING_REQUESTS} in flight.
   *
   * @param queued tasks waiting in the class
   * @param requesting lease requests already in flight for it
   * @return requests to start now, never negative
   */
  public static int leaseRequestsToStart(long queued, long requesting) {
    return (int) Math.max(0, Math.min(queued, RuntimeSpec.LEASE_MAX_PENDING_REQUESTS) - requesting);
  }

  /**
   * Whether a task may run again after attempt {@code attempt} (from 0) failed (policy
   * "can_retry").
   *
   * @param attempt the attempt that failed
   * @param maxRetries the task's limit; negative retries forever
   * @return true to retry
   */
  public static boolean canRetry(long attempt, long maxRetries) {
    return maxRetries < 0 || attempt < maxRetries;
  }

  /** What becomes of an actor call (policy "actor_call"). */
  public enum ActorCallDecision {
    /** Send it again to the next incarnation, as attempt + 1. */
    RETRY,
    /** Fail it with ACTOR_DIED. */
    FAIL,
    /** Keep it queued until the actor is ALIVE; no retry spent. */
    WAIT
  }

  /**
   * What becomes of an actor call when its actor's stream breaks or the actor is not ALIVE
   * (policy "actor_call"): DEAD fails every call; a call not yet sent waits; a call in
   * flight is retried while {@link #canRetry}{@code (attempt, maxTaskRetries)}, else fails.
   *
   * @param inFlight whether the call was sent on the stream that broke
   * @param actorState the GCS's state of the actor ("ALIVE", "RESTARTING", "DEAD", ...)
   * @param maxTaskRetries the call's limit; negative retries forever
   * @param attempt the attempt that was in flight (from 0)
   * @return the decision
   */
  public static ActorCallDecision actorCall(boolean inFlight, String actorState, long maxTaskRetries,
      long attempt) {
    if ("DEAD".equals(actorState)) {
      return ActorCallDecision.FAIL;
    }
    if (!inFlight) {
      return ActorCallDecision.WAIT;
    }
    return canRetry(attempt, maxTaskRetries) ? ActorCallDecision.RETRY : ActorCallDecision.FAIL;
  }

  /**
   * Whether a value of this encoded size travels inside messages rather than through the
   * node's store (policy "travels_inline").
   *
   * @param size body plus out-of-band buffers, in bytes
   * @return true for inline
   */
  public static boolean travelsInline(long size) {
    return size <= RuntimeSpec.INLINE_MAX_BYTES;
  }

  /** What a lease reply's failure does to the queue of its scheduling class (policy "lease_failure"). */
  public enum LeaseFailureAction {
    /** Charge the head task one attempt and ask for a lease again. */
    RETRY_TASK,
    /** Fail only the head task (its retries are spent); the rest wait for the next lease. */
    FAIL_TASK,
    /** Fail every queued task of the class: each would fail the same way. */
    FAIL_CLASS
  }

  /**
   * What a lease reply's failure does (policy "lease_failure"). A worker that died before it
   * registered (WORKER_CRASHED) costs only the task at the head of the class's queue an attempt,
   * or fails only it once its retries are spent; any other failure (a launcher that cannot start
   * anything) fails the class.
   *
   * @param kind the failure's kind
   * @param attempt the head task's attempt (from 0)
   * @param maxRetries the head task's limit; negative retries forever
   * @return the decision
   */
  public static LeaseFailureAction leaseFailure(ErrorKind kind, long attempt, long maxRetries) {
    if (kind != ErrorKind.WORKER_CRASHED) {
      return LeaseFailureAction.FAIL_CLASS;
    }
    return canRetry(attempt, maxRetries) ? LeaseFailureAction.RETRY_TASK : LeaseFailureAction.FAIL_TASK;
  }

  /**
   * How long a waiting thread polls before it sleeps, in microseconds (policy
   * "spin_budget"): 0 when the cap is 0, when the runnable threads other than the caller
   * fill the cores (oversubscribed), or when at least SPIN_MIN_SAMPLES recent waits are
   * known and fewer than SPIN_HIT_MIN_RATIO of them ended within the cap; else the cap.
   *
   * @param capUs the cap (POLYRAY_SPIN_US)
   * @param runnable runnable threads of the machine, the caller included
   * @param cores cores this process may run on
   * @param waitsUs the last waits, at most SPIN_HISTORY of them
   * @param count how many of {@code waitsUs} are known
   * @return the cap or 0
   */
  public static long spinBudgetUs(long capUs, long runnable, long cores, long[] waitsUs, int count) {
    if (capUs <= 0 || runnable - 1 >= cores) {
      return 0;
    }
    if (count >= RuntimeSpec.SPIN_MIN_SAMPLES) {
      int within = 0;
      for (int i = 0; i < count; i++) {
        if (waitsUs[i] <= capUs) {
          within++;
        }
      }
      if (within < RuntimeSpec.SPIN_HIT_MIN_RATIO * count) {
        return 0;
      }
    }
    return capUs;
  }
}
