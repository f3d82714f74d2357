package io.polyray.runtime.core;

import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.ActorInfo;
import io.polyray.runtime.proto.GetActorInfoReply;
import io.polyray.runtime.proto.GetActorInfoRequest;
import java.util.ArrayList;
import java.util.List;

/**
 * The GCS's actor states as the test tells them: each GetActorInfo waits in
 * {@link #calls} until the test answers it. Invariant: a call is answered once.
 */
final class FakeActorDirectory implements ActorDirectory {
  /** A waiting GetActorInfo. */
  static final class Call {
    final GetActorInfoRequest request;
    final StreamObserver<GetActorInfoReply> reply;
    boolean answered;

    Call(GetActorInfoRequest request, StreamObserver<GetActorInfoReply> reply) {
      this.request = request;
      this.reply = reply;
    }
  }

  final List<Call> calls = new ArrayList<>();

  @Override
  public void getActorInfo(GetActorInfoRequest req, long deadlineS, StreamObserver<GetActorInfoReply> reply) {
    calls.add(new Call(req, reply));
  }

  List<Call> waiting() {
    List<Call> out = new ArrayList<>();
    for (Call c : calls) {
      if (!c.answered) {
        out.add(c);
      }
    }
    return out;
  }

  /** Answers the oldest waiting call with {@code info}. */
  void answer(ActorInfo info) {
    Call c = waiting().get(0);
    c.answered = true;
    c.reply.onNext(GetActorInfoReply.newBuilder().setActor(info).build());
    c.reply.onCompleted();
  }
}
