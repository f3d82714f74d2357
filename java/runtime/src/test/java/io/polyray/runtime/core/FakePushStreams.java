package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * In-memory PushTasks streams: records what a submitter sends to each worker and lets the
 * test answer, finish or break each stream. Invariant: nothing is delivered after a
 * stream ended, as with a real one.
 */
final class FakePushStreams implements PushStreams {
  /** One opened stream. */
  static final class Stream implements StreamObserver<PushTasksRequest> {
    final Address worker;
    final StreamObserver<PushTasksReply> replies;
    final List<PushTasksRequest> sent = new ArrayList<>();
    boolean halfClosed;
    boolean ended;

    Stream(Address worker, StreamObserver<PushTasksReply> replies) {
      this.worker = worker;
      this.replies = replies;
    }

    @Override
    public void onNext(PushTasksRequest value) {
      if (halfClosed || ended) {
        throw new IllegalStateException("sent on a closed stream");
      }
      sent.add(value);
    }

    @Override
    public void onError(Throwable t) {
      halfClosed = true;
    }

    @Override
    public void onCompleted() {
      halfClosed = true;
    }

    /** Every task sent so far, in order. */
    List<TaskSpec> tasks() {
      List<TaskSpec> out = new ArrayList<>();
      for (PushTasksRequest r : sent) {
        out.addAll(r.getTasksList());
      }
      return out;
    }

    /** Answers the given tasks (by task ID) in one reply. */
    void succeed(TaskSpec... specs) {
      PushTasksReply.Builder b = PushTasksReply.newBuilder();
      for (TaskSpec s : specs) {
        b.addResults(TaskResult.newBuilder().setTaskId(s.getTaskId()));
      }
      deliver(b.build());
    }

    void succeed(List<TaskSpec> specs) {
      succeed(specs.toArray(new TaskSpec[0]));
    }

    void reply(TaskResult r) {
      deliver(PushTasksReply.newBuilder().addResults(r).build());
    }

    private void deliver(PushTasksReply reply) {
      if (ended) {
        throw new IllegalStateException("stream already ended");
      }
      replies.onNext(reply);
    }

    /** The worker died: the stream breaks as a real one does (UNAVAILABLE). */
    void breakIt() {
      ended = true;
      replies.onError(Status.UNAVAILABLE.withDescription("worker gone").asRuntimeException());
    }

    ByteString workerId() {
      return worker.getWorkerId();
    }
  }

  final List<Stream> opened = new ArrayList<>();

  @Override
  public StreamObserver<PushTasksRequest> open(Address worker, StreamObserver<PushTasksReply> replies) {
    Stream s = new Stream(worker, replies);
    opened.add(s);
    return s;
  }

  Stream last() {
    return opened.get(opened.size() - 1);
  }
}
