package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskSpec;
import java.util.List;

/**
 * How the submitters' tasks end in a {@link CoreWorker} (its {@link TaskFinisher}): in the
 * owned objects ({@link OwnedObjects}), the reference counts of their arguments and the task
 * events the owner reports.
 *
 * <p>Owns nothing: it routes each end to the worker's components. Invariants: called on the
 * io thread, once per task end (a retry is not an end); the task event of an ended task is
 * recorded before its returns are completed, as before. Split out of CoreWorker to keep that
 * file to its wiring.
 */
final class OwnerTaskFinisher implements TaskFinisher {
  private final CoreWorker w;

  OwnerTaskFinisher(CoreWorker w) {
    this.w = w;
  }

  @Override
  public void complete(TaskSpec spec, List<ReturnObject> returns, List<ByteString> argIds) {
    if (w.taskEvents != null) {
      w.taskEvents.ownerDone(spec); // the worker's event gives the row
    }
    w.owned.completeTask(spec, returns, argIds);
    if (spec.getGenerator() != 0) {
      w.generators.onEnd(spec.getTaskId());
    }
  }

  @Override
  public void generatorItem(TaskSpec spec, ReturnObject item, int k) {
    w.generators.onItem(spec.getTaskId(), item, k);
  }

  @Override
  public void fail(TaskSpec spec, ErrorRecord record, List<ByteString> argIds) {
    if (w.taskEvents != null) {
      w.taskEvents.ownerDone(spec);
      w.taskEvents.failed(spec, record);
    }
    w.owned.failTask(spec, record, argIds);
    if (spec.getGenerator() != 0) {
      w.generators.onEnd(spec.getTaskId());
    }
  }

  @Override
  public void retried(TaskSpec spec) {
    if (w.taskEvents != null) {
      w.taskEvents.record(io.polyray.runtime.proto.TaskEventState.PENDING_NODE, spec);
    }
  }

  @Override
  public void releaseArgs(List<ByteString> argIds) {
    w.references.removeSubmitted(argIds);
  }

  @Override
  public void holdArgs(List<ByteString> argIds) {
    w.references.addSubmitted(argIds);
  }
}
