package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.worker.Ids;
import java.security.SecureRandom;

/** New protocol IDs (docs/protocol.md §2): unique bytes from a CSPRNG, then the JobID. */
final class IdGen {
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Bit 31 of an ObjectID's index marks a put object. */
  static final int PUT_BIT = 0x80000000;

  private IdGen() {}

  static ByteString random(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return ByteString.copyFrom(b);
  }

  /** Unique bytes of a TaskID: the rest is the JobID (sizes are the runtime spec's). */
  static final int TASK_UNIQUE_BYTES = RuntimeSpec.IDS_TASK_BYTES - RuntimeSpec.IDS_JOB_BYTES;
  /** Unique bytes of an ActorID: the rest is the JobID. */
  static final int ACTOR_UNIQUE_BYTES = RuntimeSpec.IDS_ACTOR_BYTES - RuntimeSpec.IDS_JOB_BYTES;

  /** A TaskID: unique bytes + JobID. */
  static ByteString taskId(ByteString jobId) {
    return random(TASK_UNIQUE_BYTES).concat(jobId);
  }

  /** An ActorID: unique bytes + JobID. */
  static ByteString actorId(ByteString jobId) {
    return random(ACTOR_UNIQUE_BYTES).concat(jobId);
  }

  /** A WorkerID: unique bytes only. */
  static ByteString workerId() {
    return random(RuntimeSpec.IDS_WORKER_BYTES);
  }

  /** The n-th put object (n from 1) of a task: TaskID ‖ uint32le(0x80000000 | n). */
  static ByteString putId(ByteString taskId, int n) {
    return Ids.returnId(taskId, PUT_BIT | n);
  }

  /** The TaskID part of an ObjectID. */
  static ByteString taskOf(ByteString objectId) {
    return objectId.substring(0, Ids.TASK_ID_SIZE);
  }
}
