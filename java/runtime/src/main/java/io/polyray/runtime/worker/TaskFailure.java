package io.polyray.runtime.worker;

import io.polyray.runtime.proto.ErrorRecord;

/**
 * The runtime could not run a task (unknown class or method, bad arguments, a failed
 * dependency...): carries the error record that becomes the task's result.
 */
public final class TaskFailure extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient ErrorRecord record;

  /**
   * A failure with its record.
   *
   * @param record the error to return for every return of the task
   */
  public TaskFailure(ErrorRecord record) {
    super(record.getMessage(), null, false, false);
    this.record = record;
  }

  /**
   * The error record.
   *
   * @return the record
   */
  public ErrorRecord record() {
    return record;
  }
}
