package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Records how a submitter's tasks end, in order. Invariant: a task reported twice is a
 * bug of the submitter, so it throws at once.
 */
final class RecordingFinisher implements TaskFinisher {
  final List<TaskSpec> completed = new ArrayList<>();
  final Map<String, ErrorRecord> failed = new LinkedHashMap<>();
  final List<List<ByteString>> released = new ArrayList<>();
  final List<List<ByteString>> held = new ArrayList<>();
  /** Each retry's spec, as its new attempt (task events record PENDING_NODE for it). */
  final List<TaskSpec> retried = new ArrayList<>();
  private final List<ByteString> endedArgs = new ArrayList<>();

  @Override
  public void complete(TaskSpec spec, List<ReturnObject> returns, List<ByteString> argIds) {
    once(spec);
    completed.add(spec);
    endedArgs.addAll(argIds);
  }

  @Override
  public void fail(TaskSpec spec, ErrorRecord record, List<ByteString> argIds) {
    once(spec);
    failed.put(spec.getName(), record);
    endedArgs.addAll(argIds);
  }

  @Override
  public void releaseArgs(List<ByteString> argIds) {
    released.add(argIds);
  }

  @Override
  public void holdArgs(List<ByteString> argIds) {
    held.add(argIds);
  }

  @Override
  public void retried(TaskSpec spec) {
    retried.add(spec);
  }

  /** Counts of an argument taken (the submit's and holdArgs') and not released yet. */
  int counted(ByteString argId) {
    int n = 1 - (int) endedArgs.stream().filter(argId::equals).count();
    n += (int) held.stream().flatMap(List::stream).filter(argId::equals).count();
    n -= (int) released.stream().flatMap(List::stream).filter(argId::equals).count();
    return n;
  }

  private void once(TaskSpec spec) {
    if (failed.containsKey(spec.getName()) || completed.stream().anyMatch(s -> s.getName().equals(spec.getName()))) {
      throw new AssertionError("task " + spec.getName() + " reported twice");
    }
  }

  List<String> completedNames() {
    List<String> out = new ArrayList<>();
    for (TaskSpec s : completed) {
      out.add(s.getName());
    }
    return out;
  }
}
