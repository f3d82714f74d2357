package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The cancel path of the {@link NormalTaskSubmitter} (as task_submitter.py's cancel): a queued
 * task is taken out of its queue and fails with TASK_CANCELLED; one in flight on a lease is
 * marked cancelled (so it is not retried) and its worker is sent CancelTask; Ray's recursive
 * cancel reaches the tasks this process submitted from a cancelled task.
 *
 * <p>Owns only who sends CancelTask; it reads and edits the submitter's own queues and leases
 * (the same maps, not copies). Invariants: confined to the submitter's thread, like the
 * submitter; a task is ended at most once here (only one not marked cancelled yet is failed
 * or sent a cancel). Split out of NormalTaskSubmitter to keep one concept per file.
 */
final class NormalTaskCancels {
  private final Map<Object, ArrayDeque<PendingTask>> queues;
  private final Map<Object, List<NormalTaskSubmitter.Lease>> leases;
  private final BiConsumer<PendingTask, ErrorRecord> fail;

  /**
   * The cancel path over a submitter's state.
   *
   * @param queues the submitter's queues, per scheduling class
   * @param leases the submitter's leases, per scheduling class
   * @param fail ends a task with an error (the submitter's finishWithError)
   */
  NormalTaskCancels(Map<Object, ArrayDeque<PendingTask>> queues, Map<Object, List<NormalTaskSubmitter.Lease>> leases,
      BiConsumer<PendingTask, ErrorRecord> fail) {
    this.queues = queues;
    this.leases = leases;
    this.fail = fail;
  }

  private NormalTaskSubmitter.WorkerCanceller canceller = (worker, taskId, force, recursive) -> { };

  /** Sets who sends CancelTask to workers (the CoreWorker's gRPC channels). */
  void setCanceller(NormalTaskSubmitter.WorkerCanceller canceller) {
    this.canceller = canceller;
  }

  /**
   * Cancels a task (as task_submitter.py's cancel): a queued one fails at once with
   * TASK_CANCELLED and never runs; one in flight is marked cancelled (not retried) and its
   * worker is asked to interrupt it ({@code force}: to exit), whose reply (or death) then
   * fails it with TASK_CANCELLED.
   *
   * @param taskId the task
   * @param force stop the worker
   * @param recursive the worker also cancels the tasks the task submitted (CancelTaskRequest.recursive)
   * @return false when the task is not known here (finished, or never submitted here)
   */
  boolean cancel(ByteString taskId, boolean force, boolean recursive) {
    for (ArrayDeque<PendingTask> q : queues.values()) {
      for (Iterator<PendingTask> it = q.iterator(); it.hasNext(); ) {
        PendingTask t = it.next();
        if (t.taskId().equals(taskId) && !t.cancelled) {
          it.remove();
          t.cancelled = true;
          fail.accept(t, ErrorRecords.system(ErrorKind.TASK_CANCELLED, "task " + t.spec.getName()
              + " was cancelled before it ran"));
          return true;
        }
      }
    }
    for (List<NormalTaskSubmitter.Lease> ls : leases.values()) {
      for (NormalTaskSubmitter.Lease lease : ls) {
        PendingTask t = lease.inflight.get(taskId);
        if (t != null) {
          t.cancelled = true;
          canceller.cancel(lease.address, taskId, force, recursive);
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Ray's recursive cancel, on the worker whose task was cancelled: cancels (recursively) the
   * normal tasks this process submitted from task {@code parentTaskId}.
   *
   * @param parentTaskId the cancelled task
   * @param force stop their workers
   * @return how many were found
   */
  int cancelChildren(ByteString parentTaskId, boolean force) {
    List<ByteString> children = new ArrayList<>();
    for (ArrayDeque<PendingTask> q : queues.values()) {
      for (PendingTask t : q) {
        if (!t.cancelled && t.spec.getParentTaskId().equals(parentTaskId)) {
          children.add(t.taskId());
        }
      }
    }
    for (List<NormalTaskSubmitter.Lease> ls : leases.values()) {
      for (NormalTaskSubmitter.Lease lease : ls) {
        for (PendingTask t : lease.inflight.values()) {
          if (!t.cancelled && t.spec.getParentTaskId().equals(parentTaskId)) {
            children.add(t.taskId());
          }
        }
      }
    }
    for (ByteString id : children) {
      cancel(id, force, true);
    }
    return children.size();
  }
}
