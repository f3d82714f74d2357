package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.TaskSpec;
import java.util.List;

/**
 * A submitted task and the objects its arguments reference. Lives on the io thread: in
 * exactly one place at a time (a queue, one lease's or actor's in-flight table, or
 * finished).
 */
final class PendingTask {
  TaskSpec spec;
  final List<ByteString> argIds;
  /** The scheduling class (normal tasks). */
  Object key;
  boolean cancelled;
  NormalTaskSubmitter.Lease lease;
  long pushedAtNanos;
  /** When the user submitted it (wall clock ns), for its task event; 0 with events off. */
  long submittedNs;

  PendingTask(TaskSpec spec, List<ByteString> argIds) {
    this.spec = spec;
    this.argIds = argIds;
  }

  ByteString taskId() {
    return spec.getTaskId();
  }
}
