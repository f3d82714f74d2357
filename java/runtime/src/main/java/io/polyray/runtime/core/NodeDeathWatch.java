package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.GetAllNodesReply;
import io.polyray.runtime.proto.NodeInfo;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The {@link NormalTaskSubmitter}'s watch of nodes the GCS declares dead (as task_submitter.py's
 * _watch_nodes): while the submitter holds leases on other nodes, it reads the GCS's node table
 * every {@link RuntimeSpec#LEASE_NODE_WATCH_MS} and ends each lease whose node is marked dead,
 * though its stream never broke (a machine that vanished sends no FIN).
 *
 * <p>Owns only whether a watch is scheduled. Invariants: confined to the submitter's io thread;
 * at most one read of the table is scheduled or in flight at a time; it stops by itself once no
 * remote lease is left or the submitter stops, and {@link #start()} starts it again. A GCS that
 * does not answer is asked again at the next period. Split out of NormalTaskSubmitter to keep
 * one concept per file.
 */
final class NodeDeathWatch {
  private final NormalTaskSubmitter.NodeTable nodes;
  private final IoScheduler scheduler;
  private final BooleanSupplier stopped;
  private final Supplier<List<NormalTaskSubmitter.Lease>> remoteLeases;
  private final BiConsumer<NormalTaskSubmitter.Lease, String> nodeDied;
  private boolean watching;

  /**
   * A watch.
   *
   * @param nodes the GCS's node table
   * @param scheduler time and timers of the io thread
   * @param stopped true once the submitter closed or the process shuts down
   * @param remoteLeases the live leases on other nodes now
   * @param nodeDied ends a lease whose node died, with why
   */
  NodeDeathWatch(NormalTaskSubmitter.NodeTable nodes, IoScheduler scheduler, BooleanSupplier stopped,
      Supplier<List<NormalTaskSubmitter.Lease>> remoteLeases, BiConsumer<NormalTaskSubmitter.Lease, String> nodeDied) {
    this.nodes = nodes;
    this.scheduler = scheduler;
    this.stopped = stopped;
    this.remoteLeases = remoteLeases;
    this.nodeDied = nodeDied;
  }

  /** Starts the watch unless it runs already (a lease on another node was granted). */
  void start() {
    if (!watching) {
      watching = true;
      schedule();
    }
  }

  private void schedule() {
    if (scheduler.schedule(this::watch, RuntimeSpec.LEASE_NODE_WATCH_MS) == null) {
      watching = false; // shutting down
    }
  }

  private void watch() {
    if (stopped.getAsBoolean() || remoteLeases.get().isEmpty()) {
      watching = false;
      return;
    }
    long deadlineS = Math.max(1, Math.max(RuntimeSpec.LEASE_NODE_WATCH_MS, RuntimeSpec.LEASE_NODE_PROBE_MS) / 1000);
    nodes.getAllNodes(deadlineS, new StreamObserver<GetAllNodesReply>() {
      private GetAllNodesReply reply;

      @Override
      public void onNext(GetAllNodesReply value) {
        reply = value;
      }

      @Override
      public void onError(Throwable t) {
        schedule(); // the GCS is away for a moment: ask again next time
      }

      @Override
      public void onCompleted() {
        if (reply != null) {
          onNodeTable(reply);
        }
        schedule();
      }
    });
  }

  /**
   * Ends the leases on nodes the table marks dead.
   *
   * @param reply the GCS's node table
   */
  void onNodeTable(GetAllNodesReply reply) {
    Map<ByteString, String> dead = new HashMap<>();
    for (NodeInfo n : reply.getNodesList()) {
      if (!n.getAlive()) {
        dead.put(n.getNodeId(), n.getDeathReason().isEmpty() ? "declared dead by the GCS" : n.getDeathReason());
      }
    }
    for (NormalTaskSubmitter.Lease lease : remoteLeases.get()) {
      String why = dead.get(lease.address.getNodeId());
      if (why != null) {
        nodeDied.accept(lease, why);
      }
    }
  }
}
