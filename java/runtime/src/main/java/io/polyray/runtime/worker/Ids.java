package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.polyray.runtime.spec.RuntimeSpec;

/** Protocol ID arithmetic (docs/protocol.md §2). */
public final class Ids {
  /** Bytes of a TaskID (the runtime spec's). */
  public static final int TASK_ID_SIZE = RuntimeSpec.IDS_TASK_BYTES;
  /** Bytes of an ObjectID (the runtime spec's). */
  public static final int OBJECT_ID_SIZE = RuntimeSpec.IDS_OBJECT_BYTES;

  private Ids() {}

  /**
   * The ObjectID of a task's {@code index}-th return: TaskID ‖ uint32le(index).
   *
   * @param taskId the TaskID (24 bytes; another length is not refused here, so an error
   *     result can still be built for a malformed task)
   * @param index 1..num_returns
   * @return the ObjectID (28 bytes for a valid TaskID)
   */
  public static ByteString returnId(ByteString taskId, int index) {
    int n = taskId.size();
    byte[] out = new byte[n + 4];
    taskId.copyTo(out, 0);
    out[n] = (byte) index;
    out[n + 1] = (byte) (index >>> 8);
    out[n + 2] = (byte) (index >>> 16);
    out[n + 3] = (byte) (index >>> 24);
    return ByteString.copyFrom(out);
  }
}
