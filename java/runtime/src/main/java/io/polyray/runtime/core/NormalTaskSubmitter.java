package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.RayletServiceGrpc;
import io.polyray.runtime.proto.RequestWorkerLeaseReply;
import io.polyray.runtime.proto.RequestWorkerLeaseRequest;
import io.polyray.runtime.proto.ReturnWorkerRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Submits normal tasks (docs/protocol.md §7.1, §7.2; as python/polyray/core/task_submitter.py):
 * one queue per scheduling class, worker leases from the local raylet, one PushTasks
 * stream per leased worker. A lease serves queued tasks of its class until the queue is
 * empty, then lingers {@value #LEASE_LINGER_MS} ms before it is returned, so a driver
 * submitting one task at a time does not pay two raylet round trips per task. Tasks that
 * finish in under 2 ms are pipelined (up to {@value #MAX_INFLIGHT_FAST} in flight per
 * worker). When a worker's stream breaks, its tasks are retried (up to max_retries) or
 * fail with WORKER_CRASHED. A lease reply with {@code retry_at} (spill-over: the local raylet
 * sends the task to another node) is asked again of that node's raylet with
 * {@code grant_or_reject}; the lease is then returned to the raylet that granted it.
 * Confined to the CoreWorker's io thread.
 */
final class NormalTaskSubmitter {
  static final long LEASE_LINGER_MS = 500;
  static final long FAST_TASK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
  static final int MAX_INFLIGHT_FAST = 32;
  static final int MAX_PENDING_LEASE_REQUESTS = 16;
  /** A lease request waits this long at most, then is asked again (while tasks wait). */
  static final long LEASE_REQUEST_DEADLINE_S = 60;
  /** Pause before asking again when the raylet a request was spilled to is gone. */
  static final long SPILL_RETRY_MS = 500;

  /** A leased worker and its stream. */
  final class Lease {
    final ByteString leaseId;
    final ByteString workerId;
    final Address address;
    final Object key;
    final Map<ByteString, PendingTask> inflight = new LinkedHashMap<>();
    StreamObserver<PushTasksRequest> requests;
    /** The raylet that granted the lease (another node's after a spill-over). */
    RayletServiceGrpc.RayletServiceStub raylet;
    boolean dead;
    ScheduledFuture<?> linger;
    boolean fast;

    Lease(RequestWorkerLeaseReply reply, Object key) {
      this.leaseId = reply.getLeaseId();
      this.workerId = reply.getWorkerAddress().getWorkerId();
      this.address = reply.getWorkerAddress();
      this.key = key;
    }

    int limit() {
      return fast ? MAX_INFLIGHT_FAST : 1;
    }
  }

  private final CoreWorker core;
  private final Map<Object, ArrayDeque<PendingTask>> queues = new HashMap<>();
  private final Map<Object, List<Lease>> leases = new HashMap<>();
  private final Map<Object, Integer> requesting = new HashMap<>();
  private boolean closed;

  NormalTaskSubmitter(CoreWorker core) {
    this.core = core;
  }

  /** Tasks with equal keys can share a worker lease. */
  static Object key(TaskSpec spec) {
    return List.of(spec.getLanguageValue(), new TreeMap<>(spec.getResourcesMap()), spec.getScheduling().toByteString(),
        List.copyOf(spec.getCodeSearchPathList()));
  }

  private ArrayDeque<PendingTask> queue(Object key) {
    return queues.computeIfAbsent(key, k -> new ArrayDeque<>());
  }

  private List<Lease> leases(Object key) {
    return leases.computeIfAbsent(key, k -> new ArrayList<>());
  }

  /** Queues a task and gets it running. */
  void submit(PendingTask t) {
    if (closed) {
      core.owned.failTask(t.spec, ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the polyray runtime is shutting down"),
          t.argIds);
      return;
    }
    t.key = key(t.spec);
    queue(t.key).add(t);
    dispatch(t.key);
  }

  /** Queues tasks, then gets them running: together, several per PushTasks message. */
  void submitAll(List<PendingTask> tasks) {
    if (tasks.size() == 1) {
      submit(tasks.get(0));
      return;
    }
    List<Object> keys = new ArrayList<>();
    Object last = null;
    for (PendingTask t : tasks) {
      if (closed) {
        submit(t); // fails it
        continue;
      }
      t.key = key(t.spec);
      if (last == null || !last.equals(t.key)) {
        last = t.key;
        if (!keys.contains(last)) {
          keys.add(last);
        }
      }
      queue(t.key).add(t);
    }
    for (Object k : keys) {
      dispatch(k);
    }
  }

  private void dispatch(Object key) {
    ArrayDeque<PendingTask> q = queue(key);
    for (Lease lease : leases(key)) {
      if (q.isEmpty()) {
        break;
      }
      if (lease.dead) {
        continue;
      }
      List<PendingTask> batch = new ArrayList<>();
      while (!q.isEmpty() && lease.inflight.size() + batch.size() < lease.limit()) {
        PendingTask t = q.poll();
        if (!t.cancelled) {
          batch.add(t);
        }
      }
      if (!batch.isEmpty()) {
        push(lease, batch);
      }
    }
    q.removeIf(t -> t.cancelled);
    while (!q.isEmpty() && requesting.getOrDefault(key, 0) < Math.min(q.size(), MAX_PENDING_LEASE_REQUESTS)) {
      requesting.merge(key, 1, Integer::sum);
      requestLease(key, q.peek().spec);
    }
    for (Lease lease : leases(key)) {
      maybeLinger(lease);
    }
  }

  private void push(Lease lease, List<PendingTask> batch) {
    if (lease.linger != null) {
      lease.linger.cancel(false);
      lease.linger = null;
    }
    long now = System.nanoTime();
    PushTasksRequest.Builder req = PushTasksRequest.newBuilder();
    for (PendingTask t : batch) {
      t.lease = lease;
      t.pushedAtNanos = now;
      lease.inflight.put(t.taskId(), t);
      req.addTasks(t.spec);
    }
    try {
      lease.requests.onNext(req.build());
    } catch (RuntimeException e) {
      // The stream is already broken: its observer fails these tasks.
    }
  }

  // ------------------------------------------------------------------ leases

  /** The task as the raylet needs it: no argument values, and a request ID of its own. */
  private static TaskSpec leaseView(TaskSpec spec) {
    // The raylet keys pending requests by task ID; the lease then serves whichever
    // queued tasks come first.
    return spec.toBuilder().clearArgs().clearKwargs()
        .setTaskId(IdGen.random(20).concat(spec.getTaskId().substring(20))).build();
  }

  private void requestLease(Object key, TaskSpec spec) {
    RequestWorkerLeaseRequest req = RequestWorkerLeaseRequest.newBuilder().setTask(leaseView(spec)).build();
    requestLeaseAt(key, req, core.rayletAsync(), core.rayletAddress);
  }

  private void requestLeaseAt(Object key, RequestWorkerLeaseRequest req, RayletServiceGrpc.RayletServiceStub raylet,
      String where) {
    raylet.withDeadlineAfter(LEASE_REQUEST_DEADLINE_S, TimeUnit.SECONDS).requestWorkerLease(req,
        new StreamObserver<RequestWorkerLeaseReply>() {
          private RequestWorkerLeaseReply reply;

          @Override
          public void onNext(RequestWorkerLeaseReply value) {
            reply = value;
          }

          @Override
          public void onError(Throwable t) {
            requesting.merge(key, -1, Integer::sum);
            if (closed || core.shuttingDown) {
              return;
            }
            Status s = Status.fromThrowable(t);
            if (s.getCode() == Status.Code.DEADLINE_EXCEEDED) {
              dispatch(key); // the node is busy: ask again while tasks wait
              return;
            }
            if (req.getGrantOrReject() && s.getCode() == Status.Code.UNAVAILABLE) {
              // The node we were spilled to is gone: ask the local raylet again (its view
              // drops the node once the GCS declares it dead).
              try {
                core.loop.schedule(() -> dispatch(key), SPILL_RETRY_MS, TimeUnit.MILLISECONDS);
              } catch (RejectedExecutionException e) {
                // shutting down
              }
              return;
            }
            failQueue(key, ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the raylet at " + where
                + " did not grant a worker lease: " + s.getCode() + ": " + s.getDescription()));
          }

          @Override
          public void onCompleted() {
            if (reply != null && reply.getLeaseId().isEmpty() && !reply.hasFailure() && !reply.getCanceled()
                && reply.hasRetryAt() && reply.getRetryAt().getPort() != 0 && !req.getGrantOrReject()) {
              // Spill-over: that node's raylet grants or rejects (never spills again).
              Address at = reply.getRetryAt();
              requestLeaseAt(key, req.toBuilder().setGrantOrReject(true).build(),
                  RayletServiceGrpc.newStub(core.channels.get(at)), Rpcs.target(at));
              return;
            }
            requesting.merge(key, -1, Integer::sum);
            onLeaseReply(key, reply, raylet);
          }
        });
  }

  private void onLeaseReply(Object key, RequestWorkerLeaseReply reply, RayletServiceGrpc.RayletServiceStub raylet) {
    if (reply == null) {
      dispatch(key);
      return;
    }
    if (reply.hasFailure() && (!reply.getFailure().getMessage().isEmpty()
        || !reply.getFailure().getTypeName().isEmpty())) {
      failQueue(key, reply.getFailure());
      return;
    }
    if (reply.getCanceled() || reply.getLeaseId().isEmpty()) {
      dispatch(key);
      return;
    }
    Lease lease = new Lease(reply, key);
    lease.raylet = raylet;
    boolean wanted = queue(key).stream().anyMatch(t -> !t.cancelled);
    if (!wanted || closed || core.shuttingDown) {
      returnLease(lease, false);
      return;
    }
    leases(key).add(lease);
    openStream(lease);
    dispatch(key);
  }

  private void failQueue(Object key, ErrorRecord record) {
    ArrayDeque<PendingTask> q = queue(key);
    while (!q.isEmpty()) {
      finishWithError(q.poll(), record);
    }
  }

  private void openStream(Lease lease) {
    // Over the worker's push port when it offers one, else gRPC (Channels.pushTasks). No
    // deadline: the stream lives as long as the lease, and tasks may run for hours; a
    // worker that dies closes its socket, which ends the stream at once.
    lease.requests = core.channels.pushTasks(lease.address, new StreamObserver<PushTasksReply>() {
      @Override
      public void onNext(PushTasksReply reply) {
        for (TaskResult r : reply.getResultsList()) {
          onResult(lease, r);
        }
        dispatch(lease.key);
      }

      @Override
      public void onError(Throwable t) {
        onStreamClosed(lease, t);
      }

      @Override
      public void onCompleted() {
        if (lease.dead && lease.inflight.isEmpty()) {
          return; // retired on purpose (linger expired or shutdown)
        }
        onStreamClosed(lease, null);
      }
    });
  }

  private static boolean canRetry(TaskSpec spec) {
    return spec.getMaxRetries() < 0 || spec.getAttempt() < spec.getMaxRetries();
  }

  private void onResult(Lease lease, TaskResult result) {
    PendingTask t = lease.inflight.remove(result.getTaskId());
    if (t == null) {
      return;
    }
    if (!lease.fast && System.nanoTime() - t.pushedAtNanos < FAST_TASK_NANOS) {
      lease.fast = true;
    }
    TaskSpec spec = t.spec;
    if (result.getIsApplicationError() && spec.getRetryExceptions() && canRetry(spec) && !t.cancelled) {
      retry(t);
      return;
    }
    if (result.getWorkerExiting()) {
      lease.dead = true;
    }
    core.owned.completeTask(spec, result.getReturnsList(), t.argIds);
  }

  private void onStreamClosed(Lease lease, Throwable error) {
    if (lease.dead && lease.inflight.isEmpty() && !leases(lease.key).contains(lease)) {
      return; // already handled
    }
    lease.dead = true;
    try {
      lease.requests.onCompleted();
    } catch (RuntimeException e) {
      // already closed
    }
    leases(lease.key).remove(lease);
    List<PendingTask> pending = new ArrayList<>(lease.inflight.values());
    lease.inflight.clear();
    String detail = error == null ? "stream closed" : Status.fromThrowable(error).getCode() + ": "
        + Status.fromThrowable(error).getDescription();
    for (PendingTask t : pending) {
      TaskSpec spec = t.spec;
      if (t.cancelled) {
        finishWithError(t, ErrorRecords.system(ErrorKind.TASK_CANCELLED, "task " + spec.getName() + " was cancelled"));
      } else if (canRetry(spec) && !closed && !core.shuttingDown) {
        retry(t);
      } else {
        finishWithError(t, ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the worker running task " + spec.getName()
            + " (worker " + hex12(lease.workerId) + ") died after " + (spec.getAttempt() + 1) + " attempt(s): "
            + detail));
      }
    }
    returnLease(lease, true);
    dispatch(lease.key);
  }

  private void retry(PendingTask t) {
    t.spec = t.spec.toBuilder().setAttempt(t.spec.getAttempt() + 1).build();
    t.lease = null;
    queue(t.key).addFirst(t);
  }

  private void maybeLinger(Lease lease) {
    if (lease.dead || !lease.inflight.isEmpty() || lease.linger != null || !queue(lease.key).isEmpty()) {
      return;
    }
    try {
      lease.linger = core.loop.schedule(() -> expire(lease), LEASE_LINGER_MS, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // shutting down: close() returns it
    }
  }

  private void expire(Lease lease) {
    lease.linger = null;
    if (!lease.inflight.isEmpty() || !queue(lease.key).isEmpty() || lease.dead) {
      return;
    }
    lease.dead = true;
    leases(lease.key).remove(lease);
    try {
      lease.requests.onCompleted();
    } catch (RuntimeException e) {
      // already closed
    }
    returnLease(lease, false);
  }

  private CompletableFuture<Void> returnLease(Lease lease, boolean disconnect) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      RayletServiceGrpc.RayletServiceStub raylet = lease.raylet != null ? lease.raylet : core.rayletAsync();
      raylet.withDeadlineAfter(10, TimeUnit.SECONDS).returnWorker(ReturnWorkerRequest.newBuilder()
          .setLeaseId(lease.leaseId).setWorkerId(lease.workerId).setDisconnect(disconnect).build(),
          Rpcs.completing(done));
    } catch (RuntimeException e) {
      done.complete(null);
    }
    return done;
  }

  private void finishWithError(PendingTask t, ErrorRecord record) {
    core.owned.failTask(t.spec, record, t.argIds);
  }

  private static String hex12(ByteString id) {
    String h = io.polyray.runtime.ref.Hex.of(id.toByteArray());
    return h.length() > 12 ? h.substring(0, 12) : h;
  }

  /** Returns every lease (shutdown); the future completes when the raylet has them. */
  CompletableFuture<Void> close() {
    closed = true;
    List<CompletableFuture<Void>> returns = new ArrayList<>();
    for (List<Lease> ls : leases.values()) {
      for (Iterator<Lease> it = ls.iterator(); it.hasNext(); ) {
        Lease lease = it.next();
        it.remove();
        lease.dead = true;
        if (lease.linger != null) {
          lease.linger.cancel(false);
        }
        try {
          lease.requests.onCompleted();
        } catch (RuntimeException e) {
          // already closed
        }
        returns.add(returnLease(lease, false));
      }
    }
    return CompletableFuture.allOf(returns.toArray(new CompletableFuture<?>[0]));
  }
}
