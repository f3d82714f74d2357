package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.ref.AbstractActorHandle;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.RefHooks;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.concurrent.TimeUnit;

/**
 * The CoreWorker's wiring of counted actor handles ({@link ActorHandles}): handles decoded
 * or created here hold a counted reference to their actor's pseudo-object, and when the
 * owner's last reference of one goes the actor is destroyed through the GCS. Also the codec
 * hooks of the process, through which decoded references and handles become counted.
 */
final class ActorHandleCounting {
  private final CoreWorker w;

  ActorHandleCounting(CoreWorker w) {
    this.w = w;
  }

  /** Codec hooks: references decoded here are counted (and borrowed from their owners). */
  final class Hooks extends RefHooks {
    @Override
    public Object decodeObjectRef(io.polyray.runtime.proto.ObjectRef ref) {
      return w.refFromProto(ref, null);
    }

    @Override
    public Object decodeActorHandle(io.polyray.runtime.proto.ActorHandle handle) {
      return counted(AbstractActorHandle.of(handle));
    }

    @Override
    public io.polyray.runtime.proto.ObjectRef refOfHandle(io.polyray.runtime.proto.ActorHandle handle) {
      return ActorHandles.handleRef(handle);
    }
  }

  /**
   * A handle holding its counted reference (ActorHandles): a local reference in the
   * actor's owner, a borrow elsewhere; released when the handle is collected.
   *
   * @param handle the handle
   * @return the same handle
   */
  AbstractActorHandle counted(AbstractActorHandle handle) {
    io.polyray.runtime.proto.ObjectRef ref = ActorHandles.handleRef(handle.toProto());
    return ref == null ? handle : handle.holding(w.refFromProto(ref, null));
  }

  /**
   * (Owner.) The last handle of an owned actor went: asks the GCS to destroy it (not awaited).
   *
   * @param actorId the actor
   */
  void destroyActor(ByteString actorId) {
    // Often reached from a gRPC handler (an UpdateBorrows that released the last borrow):
    // the call must not inherit that call's context, which is cancelled when it returns.
    io.grpc.Context.ROOT.run(() -> sendDestroy(actorId));
  }

  private void sendDestroy(ByteString actorId) {
    try {
      w.gcsAsync().withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS).killActor(
          io.polyray.runtime.proto.KillActorRequest.newBuilder().setActorId(actorId).setNoRestart(true)
              .setOutOfScope(true).build(),
          new StreamObserver<io.polyray.runtime.proto.KillActorReply>() {
            @Override
            public void onNext(io.polyray.runtime.proto.KillActorReply reply) {}

            @Override
            public void onError(Throwable t) {
              System.err.println("[polyray] destroying actor " + Hex.of(actorId.toByteArray())
                  + " (all handles out of scope) failed: " + t);
            }

            @Override
            public void onCompleted() {}
          });
    } catch (RuntimeException e) { // shutting down: the job's end kills it
      System.err.println("[polyray] could not destroy actor " + Hex.of(actorId.toByteArray()) + ": " + e);
    }
  }
}
