package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The running tasks of this process a cancel reached (Ray's {@code is_canceled()}): the
 * worker's TaskExecutor marks a task when a cancel finds it running and clears it when the
 * task ends; {@link io.polyray.api.RuntimeContext#isCanceled()} reads it for the calling
 * thread's task. Thread-safe.
 */
public final class CancelRequests {
  private static final Set<ByteString> REQUESTED = ConcurrentHashMap.newKeySet();

  private CancelRequests() {
  }

  /**
   * A cancel reached running task {@code taskId}.
   *
   * @param taskId the task
   */
  public static void mark(ByteString taskId) {
    REQUESTED.add(taskId);
  }

  /**
   * Task {@code taskId} ended.
   *
   * @param taskId the task
   */
  public static void clear(ByteString taskId) {
    REQUESTED.remove(taskId);
  }

  /**
   * Whether a cancel reached running task {@code taskId}.
   *
   * @param taskId the task
   * @return true once cancelled, until it ends
   */
  public static boolean requested(ByteString taskId) {
    return REQUESTED.contains(taskId);
  }
}
