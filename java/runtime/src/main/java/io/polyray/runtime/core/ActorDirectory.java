package io.polyray.runtime.core;

import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.GetActorInfoReply;
import io.polyray.runtime.proto.GetActorInfoRequest;

/**
 * Where the actor submitter learns an actor's state: the GCS's {@code GetActorInfo} in
 * production, a scripted directory in unit tests.
 *
 * <p>Invariants: every call ends once on its observer (reply then onCompleted, or
 * onError with a gRPC status), on the io thread.
 */
@FunctionalInterface
interface ActorDirectory {
  void getActorInfo(GetActorInfoRequest req, long deadlineS, StreamObserver<GetActorInfoReply> reply);
}
