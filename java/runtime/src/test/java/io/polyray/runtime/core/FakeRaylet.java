package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.RequestWorkerLeaseReply;
import io.polyray.runtime.proto.RequestWorkerLeaseRequest;
import io.polyray.runtime.proto.ReturnWorkerReply;
import io.polyray.runtime.proto.ReturnWorkerRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A raylet's lease calls, answered by the test: lease requests wait in {@link #requests}
 * until the test grants, spills or fails them; returned workers are recorded. Also the
 * directory of raylets (this one is local; others are made on first use, per port).
 * Invariant: each request is answered once.
 */
final class FakeRaylet implements LeaseClient {
  /** A lease request waiting for its answer. */
  static final class Call {
    final RequestWorkerLeaseRequest request;
    final StreamObserver<RequestWorkerLeaseReply> reply;
    boolean answered;

    Call(RequestWorkerLeaseRequest request, StreamObserver<RequestWorkerLeaseReply> reply) {
      this.request = request;
      this.reply = reply;
    }

    private void answer(RequestWorkerLeaseReply r) {
      if (answered) {
        throw new IllegalStateException("answered twice");
      }
      answered = true;
      reply.onNext(r);
      reply.onCompleted();
    }
  }

  /** The local raylet and the raylets of other nodes (spill-over targets). */
  static final class Directory implements LeaseClient.Directory {
    final FakeRaylet local = new FakeRaylet("local:1");
    final Map<Integer, FakeRaylet> others = new HashMap<>();

    @Override
    public LeaseClient local() {
      return local;
    }

    @Override
    public LeaseClient at(Address raylet) {
      return others.computeIfAbsent(raylet.getPort(), p -> new FakeRaylet(raylet.getHost() + ":" + p));
    }
  }

  private final String target;
  final List<Call> requests = new ArrayList<>();
  final List<ReturnWorkerRequest> returned = new ArrayList<>();
  private int workers;

  FakeRaylet(String target) {
    this.target = target;
  }

  @Override
  public String target() {
    return target;
  }

  @Override
  public void requestWorkerLease(RequestWorkerLeaseRequest req, long deadlineS,
      StreamObserver<RequestWorkerLeaseReply> reply) {
    requests.add(new Call(req, reply));
  }

  /** Whether this raylet answers a probe (false: its node is gone). */
  boolean answersProbes = true;
  int probes;

  @Override
  public void probe(long deadlineMs, StreamObserver<io.polyray.runtime.proto.GetNodeStatsReply> reply) {
    probes++;
    if (answersProbes) {
      reply.onNext(io.polyray.runtime.proto.GetNodeStatsReply.getDefaultInstance());
      reply.onCompleted();
    } else {
      reply.onError(Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException());
    }
  }

  @Override
  public void returnWorker(ReturnWorkerRequest req, long deadlineS, StreamObserver<ReturnWorkerReply> reply) {
    returned.add(req);
    reply.onNext(ReturnWorkerReply.getDefaultInstance());
    reply.onCompleted();
  }

  /** Requests not answered yet, oldest first. */
  List<Call> waiting() {
    List<Call> out = new ArrayList<>();
    for (Call c : requests) {
      if (!c.answered) {
        out.add(c);
      }
    }
    return out;
  }

  /** Grants the oldest waiting request a new worker; returns the worker's address. */
  /** Grants the oldest waiting request a new worker on node {@code nodeId}. */
  Address grantOn(ByteString nodeId) {
    Call c = waiting().get(0);
    workers++;
    Address worker = Address.newBuilder().setNodeId(nodeId).setHost("worker-of-" + target).setPort(10_000 + workers)
        .setWorkerId(ByteString.copyFromUtf8(target + "/w" + workers)).build();
    c.answer(RequestWorkerLeaseReply.newBuilder().setLeaseId(ByteString.copyFromUtf8(target + "/lease" + workers))
        .setWorkerAddress(worker).build());
    return worker;
  }

  /** Grants the oldest waiting request with a lease proof (io.polyray.runtime.worker.LeaseProofs). */
  Address grantWithProof(String proof) {
    Call c = waiting().get(0);
    workers++;
    Address worker = Address.newBuilder().setHost("worker-of-" + target).setPort(10_000 + workers)
        .setWorkerId(ByteString.copyFromUtf8(target + "/w" + workers)).build();
    ByteString lease = ByteString.copyFromUtf8(target + "/lease" + workers);
    c.answer(RequestWorkerLeaseReply.newBuilder().setLeaseId(lease).setWorkerAddress(worker)
        .setProof(io.polyray.runtime.proto.LeaseProof.newBuilder().setLeaseId(lease).setSeq(workers)
            .setProof(ByteString.copyFromUtf8(proof)))
        .build());
    return worker;
  }

  Address grant() {
    Call c = waiting().get(0);
    workers++;
    Address worker = Address.newBuilder().setHost("worker-of-" + target).setPort(10_000 + workers)
        .setWorkerId(ByteString.copyFromUtf8(target + "/w" + workers)).build();
    c.answer(RequestWorkerLeaseReply.newBuilder().setLeaseId(ByteString.copyFromUtf8(target + "/lease" + workers))
        .setWorkerAddress(worker).build());
    return worker;
  }

  /** Answers the oldest waiting request: ask the raylet at {@code node} instead. */
  void spillTo(Address node) {
    waiting().get(0).answer(RequestWorkerLeaseReply.newBuilder().setRetryAt(node).build());
  }

  /** Answers the oldest waiting request with a failure record. */
  void failWith(ErrorRecord record) {
    waiting().get(0).answer(RequestWorkerLeaseReply.newBuilder().setFailure(record).build());
  }

  /** The oldest waiting request ends with a gRPC error. */
  void error(Status status) {
    Call c = waiting().get(0);
    c.answered = true;
    c.reply.onError(status.asRuntimeException());
  }
}
