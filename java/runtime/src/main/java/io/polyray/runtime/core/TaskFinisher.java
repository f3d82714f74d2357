package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskSpec;
import java.util.List;

/**
 * Where a submitter reports how a task ended: the owner's objects and reference counts
 * (OwnedObjects and ReferenceCounter in production, a recorder in unit tests). A submitter
 * knows nothing else of the CoreWorker.
 *
 * <p>Invariants: each submitted task is reported once, by {@link #complete} or
 * {@link #fail}, which also release its arguments; a retried task is not reported until
 * its last attempt ends.
 */
interface TaskFinisher {
  /**
   * The task ran: its returns (inline values or store locations) are known.
   *
   * @param spec the task as it last ran
   * @param returns its return objects
   * @param argIds the objects its arguments referenced (released now)
   */
  void complete(TaskSpec spec, List<ReturnObject> returns, List<ByteString> argIds);

  /**
   * The task will not run (again): every return of it becomes {@code record}.
   *
   * @param spec the task
   * @param record the error its callers see
   * @param argIds the objects its arguments referenced (released now)
   */
  void fail(TaskSpec spec, ErrorRecord record, List<ByteString> argIds);

  /**
   * An item a generator task produced, before the task's end (TaskResult.generator_item).
   *
   * @param spec the generator task
   * @param item the item's return object
   * @param k its position, 1-based
   */
  default void generatorItem(TaskSpec spec, ReturnObject item, int k) {}

  /**
   * Objects held for a task that no longer needs them (an actor's creation arguments once
   * the actor is up or dead).
   *
   * @param argIds the objects
   */
  void releaseArgs(List<ByteString> argIds);

  /**
   * The task goes back to its queue as attempt {@code spec.getAttempt()} (a retry): task events
   * record PENDING_NODE for the new attempt.
   *
   * @param spec the task as it will run next
   */
  default void retried(TaskSpec spec) {}

  /**
   * How long a caller keeps a task's arguments after the task's executor died running it
   * (crash, broken stream, dead node), beyond the failure or retry: the executor may have
   * handed an argument on (a child task, a value another process read) whose holder's
   * "added" is still on its way to the owner. The grace an owner's BorrowerWatch gives a
   * dead borrower: two {@code borrowers.death_watch_ms} rounds (docs/ownership.md, Deaths).
   */
  long ARGS_GRACE_MS = 2L * io.polyray.runtime.spec.RuntimeSpec.BORROWERS_DEATH_WATCH_MS;

  /**
   * Counts a task's arguments once more (its executor died: {@link #ARGS_GRACE_MS}); each
   * hold is let go of by one {@link #releaseArgs}.
   *
   * @param argIds the objects
   */
  void holdArgs(List<ByteString> argIds);
}
