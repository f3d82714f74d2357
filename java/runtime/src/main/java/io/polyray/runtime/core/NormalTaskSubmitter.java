package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.GetAllNodesReply;
import io.polyray.runtime.proto.LeaseProof;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.RequestWorkerLeaseReply;
import io.polyray.runtime.proto.RequestWorkerLeaseRequest;
import io.polyray.runtime.proto.ReturnWorkerRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.Policies;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Submits normal tasks (docs/protocol.md §7.1, §7.2; as python/polyray/core/task_submitter.py):
 * one queue per scheduling class, worker leases from the local raylet, one PushTasks
 * stream per leased worker. A lease serves queued tasks of its class until the queue is
 * empty, then lingers {@link RuntimeSpec#LEASE_LINGER_MS} before it is returned, so a driver
 * submitting one task at a time does not pay two raylet round trips per task. A lease
 * pipelines (several tasks in flight) only while its average task time is short and the
 * queue long ({@link Policies#inflightLimit}). When a worker's stream breaks, its tasks are
 * retried ({@link Policies#canRetry}) or fail with WORKER_CRASHED. A lease reply with
 * {@code retry_at} (spill-over: the local raylet sends the task to another node) is asked
 * again of that node's raylet with {@code grant_or_reject}; the lease is then returned to
 * the raylet that granted it. A lease reply with a failure follows {@link Policies#leaseFailure}:
 * a worker that died before it registered (WORKER_CRASHED) charges the task the request was made
 * for (the head of the queue then) one attempt, only while that task still waits in the queue at
 * the attempt it had then, and asks again, or fails only that task once its retries are spent;
 * any other failure fails the queued tasks of its class with that record. A worker that dies
 * while running charges only the task it was running (the oldest in flight); the ones pipelined
 * behind it go back to the front of the queue at their attempt, at most {@link #SPARE_LIMIT}
 * times each (docs/fault-tolerance.md, "Who is charged"; as task_submitter.py). A task with no
 * retries left on another node whose stream broke fails with NODE_DIED when that node's raylet
 * does not answer within {@link RuntimeSpec#LEASE_NODE_PROBE_MS}, else WORKER_CRASHED.
 *
 * <p>Invariants: confined to one thread (the CoreWorker's io thread; the test's in unit
 * tests); a task is in exactly one place (its class's queue, one lease's in-flight table,
 * or finished through the {@link TaskFinisher}); every lease granted is returned once.
 * It meets the rest of the process only through its constructor's interfaces.
 */
final class NormalTaskSubmitter {
  /** Deadline of a ReturnWorker call (best effort: the raylet reclaims a dead caller's leases). */
  static final long RETURN_WORKER_DEADLINE_S = 10;
  /** A task pipelined behind the one a dead worker ran goes back uncharged at most this often. */
  static final int SPARE_LIMIT = 3;

  /** A leased worker and its stream. */
  final class Lease {
    final ByteString leaseId;
    final ByteString workerId;
    final Address address;
    final Object key;
    final Map<ByteString, PendingTask> inflight = new LinkedHashMap<>();
    StreamObserver<PushTasksRequest> requests;
    /** The raylet that granted the lease (another node's after a spill-over). */
    LeaseClient raylet;
    boolean dead;
    IoScheduler.Timer linger;
    /** Moving average of task time on this worker (Policies#nextTaskTimeAverage), in µs. */
    double avgTaskUs = RuntimeSpec.PIPELINING_UNKNOWN_AVG_US;
    long lastResultNanos;
    /** Set when the GCS declared the worker's node dead: why. */
    String nodeDied;
    /** The grant's proof, shown in the first request of the stream (null once shown, or none). */
    LeaseProof proof;
    /** The worker refused the lease: returned once nothing is in flight. */
    boolean refused;

    Lease(RequestWorkerLeaseReply reply, Object key) {
      this.leaseId = reply.getLeaseId();
      this.proof = reply.hasProof() ? reply.getProof() : null;
      this.workerId = reply.getWorkerAddress().getWorkerId();
      this.address = reply.getWorkerAddress();
      this.key = key;
    }
  }

  private final LeaseClient.Directory raylets;
  private final PushStreams streams;
  private final TaskFinisher finisher;
  private final IoScheduler scheduler;
  private final BooleanSupplier shuttingDown;
  private final Map<Object, ArrayDeque<PendingTask>> queues = new HashMap<>();
  private final Map<Object, List<Lease>> leases = new HashMap<>();
  private final Map<Object, Integer> requesting = new HashMap<>();
  private boolean closed;
  /** Ends leases on nodes the GCS declares dead; null when no node table was given. */
  private final NodeDeathWatch nodeWatch;
  private final Supplier<ByteString> localNode;
  /** Tasks sent back to the queue uncharged from a dead worker's pipeline: how often. */
  private final Map<ByteString, Integer> spared = new HashMap<>();
  /** The cancel path: reads the queues and leases, ends a task through finishWithError. */
  private final NormalTaskCancels cancels = new NormalTaskCancels(queues, leases, this::finishWithError);

  /** The GCS's node table (GetAllNodes), read by the node watch; replies on the io thread. */
  interface NodeTable {
    void getAllNodes(long deadlineS, StreamObserver<GetAllNodesReply> reply);
  }

  /**
   * A submitter.
   *
   * @param raylets the local raylet's and other nodes' lease clients
   * @param streams opens the PushTasks stream of a leased worker
   * @param finisher gets each task's end
   * @param scheduler time and timers of the io thread
   * @param shuttingDown true once the process shuts down (nothing is retried then)
   */
  NormalTaskSubmitter(LeaseClient.Directory raylets, PushStreams streams, TaskFinisher finisher,
      IoScheduler scheduler, BooleanSupplier shuttingDown) {
    this(raylets, streams, finisher, scheduler, shuttingDown, null, () -> ByteString.EMPTY);
  }

  /**
   * A submitter that watches the GCS's node table while it holds leases on other nodes
   * (every {@link RuntimeSpec#LEASE_NODE_WATCH_MS}): a lease on a node declared dead ends at
   * once, its tasks retried or failed with NODE_DIED, though its stream never broke (a
   * machine that vanished sends no FIN).
   *
   * @param nodes the GCS's node table (null: no watch)
   * @param localNode this process's node id (leases on it are not watched)
   */
  NormalTaskSubmitter(LeaseClient.Directory raylets, PushStreams streams, TaskFinisher finisher,
      IoScheduler scheduler, BooleanSupplier shuttingDown, NodeTable nodes, Supplier<ByteString> localNode) {
    this.nodeWatch = nodes == null ? null : new NodeDeathWatch(nodes, scheduler,
        () -> closed || shuttingDown.getAsBoolean(), this::remoteLeases, (lease, why) -> {
          lease.nodeDied = why;
          onStreamClosed(lease, null);
        });
    this.localNode = localNode;
    this.raylets = raylets;
    this.streams = streams;
    this.finisher = finisher;
    this.scheduler = scheduler;
    this.shuttingDown = shuttingDown;
  }

  /** Tasks with equal keys can share a worker lease. */
  static Object key(TaskSpec spec) {
    return List.of(spec.getLanguageValue(), new TreeMap<>(spec.getResourcesMap()), spec.getScheduling().toByteString(),
        List.copyOf(spec.getCodeSearchPathList()), spec.getRuntimeEnv());
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
      finisher.fail(t.spec, ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the polyray runtime is shutting down"),
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
    int nleases = leases(key).size();
    for (Lease lease : leases(key)) {
      if (q.isEmpty()) {
        break;
      }
      if (lease.dead) {
        continue;
      }
      List<PendingTask> batch = new ArrayList<>();
      int limit = Policies.inflightLimit(lease.avgTaskUs, q.size(), nleases);
      while (!q.isEmpty() && lease.inflight.size() + batch.size() < limit) {
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
    for (int n = Policies.leaseRequestsToStart(q.size(), requesting.getOrDefault(key, 0)); n > 0; n--) {
      requesting.merge(key, 1, Integer::sum);
      requestLease(key, q.peek().spec);
    }
    for (Lease lease : leases(key)) {
      maybeLinger(lease);
    }
  }

  private void push(Lease lease, List<PendingTask> batch) {
    if (lease.linger != null) {
      lease.linger.cancel();
      lease.linger = null;
    }
    long now = scheduler.nanoTime();
    PushTasksRequest.Builder req = PushTasksRequest.newBuilder();
    if (lease.proof != null) {
      req.setLease(lease.proof);
      lease.proof = null;
    }
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
    return spec.toBuilder().clearArgs().clearKwargs().setTaskId(Ids.random(Ids.TASK_UNIQUE_BYTES)
        .concat(spec.getTaskId().substring(Ids.TASK_UNIQUE_BYTES))).build();
  }

  private void requestLease(Object key, TaskSpec spec) {
    RequestWorkerLeaseRequest req = RequestWorkerLeaseRequest.newBuilder().setTask(leaseView(spec)).build();
    requestLeaseAt(key, req, raylets.local(), spec.getTaskId(), spec.getAttempt());
  }

  /** {@code forTask} at {@code attempt}: the task the request is made for (who a start failure charges). */
  private void requestLeaseAt(Object key, RequestWorkerLeaseRequest req, LeaseClient raylet, ByteString forTask,
      int attempt) {
    raylet.requestWorkerLease(req, RuntimeSpec.LEASE_REQUEST_DEADLINE_S,
        new StreamObserver<RequestWorkerLeaseReply>() {
          private RequestWorkerLeaseReply reply;

          @Override
          public void onNext(RequestWorkerLeaseReply value) {
            reply = value;
          }

          @Override
          public void onError(Throwable t) {
            requesting.merge(key, -1, Integer::sum);
            if (closed || shuttingDown.getAsBoolean()) {
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
              scheduler.schedule(() -> dispatch(key), RuntimeSpec.LEASE_SPILL_RETRY_MS);
              return;
            }
            failQueue(key, ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the raylet at " + raylet.target()
                + " did not grant a worker lease: " + s.getCode() + ": " + s.getDescription()));
          }

          @Override
          public void onCompleted() {
            if (reply != null && reply.getLeaseId().isEmpty() && !reply.hasFailure() && !reply.getCanceled()
                && reply.hasRetryAt() && reply.getRetryAt().getPort() != 0 && !req.getGrantOrReject()) {
              // Spill-over: that node's raylet grants or rejects (never spills again).
              Address at = reply.getRetryAt();
              requestLeaseAt(key, req.toBuilder().setGrantOrReject(true).build(), raylets.at(at), forTask, attempt);
              return;
            }
            requesting.merge(key, -1, Integer::sum);
            onLeaseReply(key, reply, raylet, forTask, attempt);
          }
        });
  }

  private void onLeaseReply(Object key, RequestWorkerLeaseReply reply, LeaseClient raylet, ByteString forTask,
      int attempt) {
    if (reply == null) {
      dispatch(key);
      return;
    }
    if (reply.hasFailure() && (!reply.getFailure().getMessage().isEmpty()
        || !reply.getFailure().getTypeName().isEmpty())) {
      onLeaseFailure(key, reply.getFailure(), forTask, attempt);
      return;
    }
    if (reply.getCanceled() || reply.getLeaseId().isEmpty()) {
      dispatch(key);
      return;
    }
    Lease lease = new Lease(reply, key);
    lease.raylet = raylet;
    boolean wanted = queue(key).stream().anyMatch(t -> !t.cancelled);
    if (!wanted || closed || shuttingDown.getAsBoolean()) {
      returnLease(lease, false);
      return;
    }
    leases(key).add(lease);
    openStream(lease);
    if (isRemote(lease) && nodeWatch != null) {
      nodeWatch.start();
    }
    dispatch(key);
  }

  // -- nodes the GCS declares dead (as task_submitter.py's _watch_nodes) --------------------

  private boolean isRemote(Lease lease) {
    ByteString node = lease.address.getNodeId();
    ByteString local = localNode.get();
    return !node.isEmpty() && !node.equals(local == null ? ByteString.EMPTY : local);
  }

  private List<Lease> remoteLeases() {
    List<Lease> out = new ArrayList<>();
    for (List<Lease> ls : leases.values()) {
      for (Lease lease : ls) {
        if (!lease.dead && isRemote(lease)) {
          out.add(lease);
        }
      }
    }
    return out;
  }

  /**
   * The raylet could not grant a lease ({@link Policies#leaseFailure}): a worker that died before
   * registering costs one attempt to {@code forTask} only, and only while it still waits in the
   * queue at {@code attempt} (the requests in flight for one task charge it once; a task already
   * pushed is not charged), or fails it alone once its retries are spent; a failure that is not
   * a crash fails the class.
   */
  private void onLeaseFailure(Object key, ErrorRecord failure, ByteString forTask, int attempt) {
    ArrayDeque<PendingTask> q = queue(key);
    while (!q.isEmpty() && q.peekFirst().cancelled) {
      q.pollFirst();
    }
    if (failure.getKind() != ErrorKind.WORKER_CRASHED) {
      failQueue(key, failure); // policy: fail_class whatever the task
      return;
    }
    PendingTask t = null;
    for (PendingTask x : q) {
      if (x.taskId().equals(forTask)) {
        t = x.spec.getAttempt() == attempt && !x.cancelled && x.lease == null ? x : null;
        break;
      }
    }
    if (t == null) {
      dispatch(key); // nobody to charge: just ask again
      return;
    }
    Policies.LeaseFailureAction action =
        Policies.leaseFailure(failure.getKind(), t.spec.getAttempt(), t.spec.getMaxRetries());
    if (action == Policies.LeaseFailureAction.FAIL_CLASS) {
      failQueue(key, failure);
      return;
    }
    if (action == Policies.LeaseFailureAction.RETRY_TASK && !closed && !shuttingDown.getAsBoolean()) {
      t.spec = t.spec.toBuilder().setAttempt(t.spec.getAttempt() + 1).build();
      finisher.retried(t.spec);
    } else {
      q.remove(t);
      finishWithError(t, failure.toBuilder().setMessage("the worker for task " + t.spec.getName()
          + " died before it registered, after " + (t.spec.getAttempt() + 1) + " attempt(s): "
          + failure.getMessage()).build());
    }
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
    lease.requests = streams.open(lease.address, new StreamObserver<PushTasksReply>() {
      @Override
      public void onNext(PushTasksReply reply) {
        for (TaskResult r : reply.getResultsList()) {
          onResult(lease, r);
        }
        if (lease.refused && lease.inflight.isEmpty()) {
          lease.refused = false;
          try {
            lease.requests.onCompleted();
          } catch (RuntimeException e) {
            // already closed
          }
          returnLease(lease, false);
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
    return Policies.canRetry(spec.getAttempt(), spec.getMaxRetries());
  }

  private void onResult(Lease lease, TaskResult result) {
    if (result.getGeneratorItem() > 0) { // an item of a generator task still running
      PendingTask running = lease.inflight.get(result.getTaskId());
      if (running != null && result.getReturnsCount() > 0) {
        finisher.generatorItem(running.spec, result.getReturns(0), result.getGeneratorItem());
      }
      return;
    }
    boolean pipelined = lease.inflight.size() > 1;
    PendingTask t = lease.inflight.remove(result.getTaskId());
    if (t == null) {
      return;
    }
    long now = scheduler.nanoTime();
    // With several in flight, a task's own time is the gap since the previous result
    // (it waited behind that one); otherwise push to result.
    long since = pipelined ? Math.max(lease.lastResultNanos, t.pushedAtNanos) : t.pushedAtNanos;
    lease.lastResultNanos = now;
    lease.avgTaskUs = Policies.nextTaskTimeAverage(lease.avgTaskUs, (now - since) / 1000.0);
    TaskSpec spec = t.spec;
    if (result.getLeaseRefused()) {
      onRefused(lease, t, result);
      return;
    }
    if (result.getIsApplicationError() && spec.getRetryExceptions() && canRetry(spec) && !t.cancelled) {
      retry(t);
      return;
    }
    if (result.getWorkerExiting()) {
      lease.dead = true;
    }
    spared.remove(spec.getTaskId());
    finisher.complete(spec, result.getReturnsList(), t.argIds);
  }

  /**
   * The worker refused the task: this caller's lease on it is missing, wrong or stale
   * (docs/fault-tolerance.md, "Bad input"). The lease is dropped (returned once its stream is
   * idle) and the task goes back to the queue for a new lease, charged as a retry; with none
   * left it fails with the refusal (a LeaseRefused error).
   */
  private void onRefused(Lease lease, PendingTask t, TaskResult result) {
    lease.dead = true;
    if (leases(lease.key).remove(lease)) {
      lease.refused = true; // returned by the reply handler once nothing is in flight
    }
    if (canRetry(t.spec) && !t.cancelled) {
      retry(t);
      return;
    }
    spared.remove(t.spec.getTaskId());
    finisher.complete(t.spec, result.getReturnsList(), t.argIds);
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
    // In push order (a LinkedHashMap): the worker runs its tasks one after another and sends
    // each result at once, so only the oldest in flight was running when it died; the ones
    // pipelined behind it never started there and go back uncharged (at most SPARE_LIMIT times
    // each, in case results were lost with the connection).
    List<PendingTask> pending = new ArrayList<>(lease.inflight.values());
    lease.inflight.clear();
    boolean retrying = !closed && !shuttingDown.getAsBoolean();
    List<PendingTask> spare = new ArrayList<>();
    for (int i = 1; retrying && i < pending.size(); i++) {
      PendingTask t = pending.get(i);
      if (!t.cancelled && spared.getOrDefault(t.taskId(), 0) < SPARE_LIMIT) {
        spared.merge(t.taskId(), 1, Integer::sum);
        spare.add(t);
      }
    }
    String detail = error == null ? "stream closed" : Status.fromThrowable(error).getCode() + ": "
        + Status.fromThrowable(error).getDescription();
    List<PendingTask> retried = new ArrayList<>();
    List<PendingTask> lost = new ArrayList<>();
    for (PendingTask t : pending) {
      if (spare.contains(t)) {
        continue;
      }
      holdArgsAfterDeath(t);
      TaskSpec spec = t.spec;
      if (t.cancelled) {
        finishWithError(t, ErrorRecords.system(ErrorKind.TASK_CANCELLED, "task " + spec.getName() + " was cancelled"));
      } else if (canRetry(spec) && retrying) {
        t.spec = spec.toBuilder().setAttempt(spec.getAttempt() + 1).build();
        finisher.retried(t.spec);
        retried.add(t);
      } else if (lease.nodeDied != null) {
        finishWithError(t, ErrorRecords.system(ErrorKind.NODE_DIED, "the node " + io.polyray.runtime.ref.Hex.of(
            lease.address.getNodeId().toByteArray()) + " running task " + spec.getName() + " died (the GCS declared"
            + " it dead: " + lease.nodeDied + ") after " + (spec.getAttempt() + 1) + " attempt(s)"));
      } else if (isRemote(lease) && lease.raylet != null && retrying) {
        lost.add(t);
      } else {
        finishWithError(t, workerCrashed(lease, spec, detail));
      }
    }
    // The retried ahead of the spared, each group in push order.
    ArrayDeque<PendingTask> q = queue(lease.key);
    for (int i = spare.size() - 1; i >= 0; i--) {
      spare.get(i).lease = null;
      q.addFirst(spare.get(i));
    }
    for (int i = retried.size() - 1; i >= 0; i--) {
      retried.get(i).lease = null;
      q.addFirst(retried.get(i));
    }
    if (!lost.isEmpty()) {
      failLost(lease, lost, detail);
    }
    returnLease(lease, true);
    dispatch(lease.key);
  }

  private ErrorRecord workerCrashed(Lease lease, TaskSpec spec, String detail) {
    return ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the worker running task " + spec.getName()
        + " (worker " + hex12(lease.workerId) + ") died after " + (spec.getAttempt() + 1) + " attempt(s): " + detail);
  }

  /** Fails tasks whose worker on another node is gone: NODE_DIED when its raylet is silent too. */
  private void failLost(Lease lease, List<PendingTask> lost, String detail) {
    lease.raylet.probe(RuntimeSpec.LEASE_NODE_PROBE_MS, new StreamObserver<io.polyray.runtime.proto.GetNodeStatsReply>() {
      @Override
      public void onNext(io.polyray.runtime.proto.GetNodeStatsReply value) {
      }

      @Override
      public void onError(Throwable t) {
        for (PendingTask p : lost) {
          finishWithError(p, ErrorRecords.system(ErrorKind.NODE_DIED, "the node " + io.polyray.runtime.ref.Hex.of(
              lease.address.getNodeId().toByteArray()) + " running task " + p.spec.getName() + " died (its raylet at "
              + lease.raylet.target() + " does not answer) after " + (p.spec.getAttempt() + 1) + " attempt(s): "
              + detail));
        }
      }

      @Override
      public void onCompleted() {
        for (PendingTask p : lost) {
          finishWithError(p, workerCrashed(lease, p.spec, detail));
        }
      }
    });
  }

  private void retry(PendingTask t) {
    t.spec = t.spec.toBuilder().setAttempt(t.spec.getAttempt() + 1).build();
    finisher.retried(t.spec);
    t.lease = null;
    queue(t.key).addFirst(t);
  }

  private void maybeLinger(Lease lease) {
    if (lease.dead || !lease.inflight.isEmpty() || lease.linger != null || !queue(lease.key).isEmpty()) {
      return;
    }
    // null when shutting down: close() returns the lease
    lease.linger = scheduler.schedule(() -> expire(lease), RuntimeSpec.LEASE_LINGER_MS);
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
    LeaseClient raylet = lease.raylet != null ? lease.raylet : raylets.local();
    raylet.returnWorker(ReturnWorkerRequest.newBuilder().setLeaseId(lease.leaseId).setWorkerId(lease.workerId)
        .setDisconnect(disconnect).build(), RETURN_WORKER_DEADLINE_S, Rpcs.completing(done));
    return done;
  }

  /**
   * The executor died running {@code t}: keep its arguments {@link TaskFinisher#ARGS_GRACE_MS}
   * past the failure or retry, for the "added" of a process it handed one to.
   */
  private void holdArgsAfterDeath(PendingTask t) {
    if (t.argIds.isEmpty()) {
      return;
    }
    List<ByteString> ids = new ArrayList<>(t.argIds);
    finisher.holdArgs(ids);
    if (scheduler.schedule(() -> finisher.releaseArgs(ids), TaskFinisher.ARGS_GRACE_MS) == null) {
      finisher.releaseArgs(ids);  // shutting down: nothing to wait for
    }
  }

  private void finishWithError(PendingTask t, ErrorRecord record) {
    spared.remove(t.taskId());
    finisher.fail(t.spec, record, t.argIds);
  }

  private static String hex12(ByteString id) {
    String h = io.polyray.runtime.ref.Hex.of(id.toByteArray());
    return h.length() > 12 ? h.substring(0, 12) : h;
  }

  /** Asks a worker to cancel a task it runs (CancelTask); io thread. */
  interface WorkerCanceller {
    void cancel(Address worker, ByteString taskId, boolean force, boolean recursive);
  }

  /** Sets who sends CancelTask to workers (the CoreWorker's gRPC channels). */
  void setCanceller(WorkerCanceller canceller) {
    cancels.setCanceller(canceller);
  }

  /** {@link NormalTaskCancels#cancel}: false when the task is not known here. */
  boolean cancel(ByteString taskId, boolean force, boolean recursive) {
    return cancels.cancel(taskId, force, recursive);
  }

  /** {@link NormalTaskCancels#cancelChildren}: how many were found. */
  int cancelChildren(ByteString parentTaskId, boolean force) {
    return cancels.cancelChildren(parentTaskId, force);
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
          lease.linger.cancel();
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
