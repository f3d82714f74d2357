package io.polyray.runtime.core;

import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.GetNodeStatsReply;
import io.polyray.runtime.proto.GetNodeStatsRequest;
import io.polyray.runtime.proto.RayletServiceGrpc;
import io.polyray.runtime.proto.RequestWorkerLeaseReply;
import io.polyray.runtime.proto.RequestWorkerLeaseRequest;
import io.polyray.runtime.proto.ReturnWorkerReply;
import io.polyray.runtime.proto.ReturnWorkerRequest;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The lease calls of one raylet, as the normal-task submitter makes them (gRPC in
 * production, a recorder in unit tests).
 *
 * <p>Invariants: every call ends once on its observer (reply then onCompleted, or
 * onError), on the io thread; a call never throws.
 */
interface LeaseClient {
  /** Finds the raylet of a node: the local one, or another node's after a spill-over. */
  interface Directory {
    LeaseClient local();

    LeaseClient at(Address raylet);
  }

  /**
   * Where the raylet is, for error messages.
   *
   * @return {@code host:port}
   */
  String target();

  void requestWorkerLease(RequestWorkerLeaseRequest req, long deadlineS, StreamObserver<RequestWorkerLeaseReply> reply);

  void returnWorker(ReturnWorkerRequest req, long deadlineS, StreamObserver<ReturnWorkerReply> reply);

  /**
   * Whether the raylet answers (GetNodeStats within {@code deadlineMs}): the submitter's probe
   * of the node of a worker whose stream broke (NODE_DIED when it does not). Fakes answer.
   */
  default void probe(long deadlineMs, StreamObserver<GetNodeStatsReply> reply) {
    reply.onNext(GetNodeStatsReply.getDefaultInstance());
    reply.onCompleted();
  }

  /**
   * The gRPC client of a raylet.
   *
   * @param stub the raylet's stub, asked for at each call (channels reconnect)
   * @param target where it is
   * @return the client
   */
  static LeaseClient grpc(Supplier<RayletServiceGrpc.RayletServiceStub> stub, String target) {
    return new LeaseClient() {
      @Override
      public String target() {
        return target;
      }

      @Override
      public void requestWorkerLease(RequestWorkerLeaseRequest req, long deadlineS,
          StreamObserver<RequestWorkerLeaseReply> reply) {
        try {
          stub.get().withDeadlineAfter(deadlineS, TimeUnit.SECONDS).requestWorkerLease(req, reply);
        } catch (RuntimeException e) {
          reply.onError(e); // channels closed: the call ends like a failed one
        }
      }

      @Override
      public void returnWorker(ReturnWorkerRequest req, long deadlineS, StreamObserver<ReturnWorkerReply> reply) {
        try {
          stub.get().withDeadlineAfter(deadlineS, TimeUnit.SECONDS).returnWorker(req, reply);
        } catch (RuntimeException e) {
          reply.onError(e);
        }
      }

      @Override
      public void probe(long deadlineMs, StreamObserver<GetNodeStatsReply> reply) {
        try {
          stub.get().withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
              .getNodeStats(GetNodeStatsRequest.getDefaultInstance(), reply);
        } catch (RuntimeException e) {
          reply.onError(e);
        }
      }
    };
  }
}
