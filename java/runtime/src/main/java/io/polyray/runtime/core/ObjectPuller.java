package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.polyray.api.exception.ObjectLostException;
import io.polyray.runtime.proto.AddObjectLocationRequest;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.GcsServiceGrpc;
import io.polyray.runtime.proto.GetAllNodesRequest;
import io.polyray.runtime.proto.NodeInfo;
import io.polyray.runtime.proto.ObjectChunk;
import io.polyray.runtime.proto.RayletServiceGrpc;
import io.polyray.runtime.proto.ReadObjectRequest;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.store.ObjectBuilder;
import io.polyray.runtime.store.ObjectExistsException;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.SharedStore;
import io.polyray.runtime.store.StoreTimeoutException;
import io.polyray.runtime.worker.Rpc;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Copies objects held in another node's store into this node's store (as
 * python/polyray/core/object_puller.py): a {@code ReadObject} stream of chunks from one
 * of the nodes holding a copy, written straight into an object created in the local
 * store and sealed. Pulls of one object by several processes of a node are merged by
 * the store: whoever creates the object fills it, the others wait for the seal. The
 * owner then records the new location ({@code AddObjectLocation}). When no node can
 * provide the object, {@link ObjectLostException} names each location and why. At most
 * {@code max_pulls_in_flight_per_node} streams of this process are open to one serving node
 * ({@link PullSlots}); more pulls wait for a slot.
 * Blocking; call it from a task or user thread, never from the io thread.
 */
public final class ObjectPuller {
  static final long CHUNK_SIZE = 4L * 1024 * 1024 - 64 * 1024;
  static final long PULL_DEADLINE_S = 120;
  static final long RPC_DEADLINE_S = 10;

  private final String gcsAddress;
  private final Supplier<SharedStore> store;
  private final Supplier<ByteString> selfNode;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  /** ReadObject streams open per serving node: shared by every puller of this process. */
  private final PullSlots slots = PullSlots.PROCESS;

  /**
   * @param gcsAddress host:port of the GCS (where nodes are looked up)
   * @param store this node's store
   * @param selfNode this node's id
   */
  public ObjectPuller(String gcsAddress, Supplier<SharedStore> store, Supplier<ByteString> selfNode) {
    this.gcsAddress = gcsAddress;
    this.store = store;
    this.selfNode = selfNode;
  }

  private ManagedChannel channel(String target) {
    return channels.computeIfAbsent(target, Rpc::channel);
  }

  /**
   * Makes the object sealed in this node's store, copying it from one of {@code locations}.
   *
   * @param oid the object
   * @param locations node ids holding copies, the primary first
   * @param owner the owner (told the new location), or null
   * @throws ObjectLostException when no location provides it
   */
  public void pull(ByteString oid, List<ByteString> locations, Address owner) {
    ObjectId id = ObjectId.fromBytes(oid.toByteArray());
    SharedStore s = store.get();
    if (s.contains(id)) {
      return;
    }
    String hex = Hex.of(oid.toByteArray());
    Map<ByteString, NodeInfo> nodes = new ConcurrentHashMap<>();
    List<String> failures = new ArrayList<>();
    try {
      for (NodeInfo n : GcsServiceGrpc.newBlockingStub(channel(gcsAddress))
          .withDeadlineAfter(RPC_DEADLINE_S, TimeUnit.SECONDS)
          .getAllNodes(GetAllNodesRequest.getDefaultInstance()).getNodesList()) {
        nodes.put(n.getNodeId(), n);
      }
    } catch (StatusRuntimeException e) {
      throw new ObjectLostException("object " + hex + " is on another node, and the GCS at " + gcsAddress
          + " (which knows where nodes are) does not answer: " + e.getStatus());
    }
    for (ByteString node : locations) {
      String label = "node " + Hex.of(node.toByteArray());
      NodeInfo info = nodes.get(node);
      if (node.equals(selfNode.get())) {
        failures.add(label + " (this node) no longer holds it");
        continue;
      }
      if (info == null || !info.getAlive()) {
        failures.add(label + (info == null ? " is not a node of this cluster" : " is dead (" + info.getDeathReason() + ")"));
        continue;
      }
      // A stream slot of this node (capped per serving node and process), held while streaming.
      try {
        if (!slots.acquire(node, PULL_DEADLINE_S * 1000)) {
          failures.add(label + ": no stream slot within " + PULL_DEADLINE_S + " s (" + slots.limit()
              + " pulls from it in flight)");
          continue;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ObjectLostException("interrupted while waiting to pull object " + hex);
      }
      try {
        stream(s, id, oid, Rpc.target(info.getRayletAddress()));
      } catch (StatusRuntimeException e) {
        failures.add(label + " at " + Rpc.target(info.getRayletAddress()) + ": " + e.getStatus());
        continue;
      } finally {
        slots.release(node);
      }
      record(oid, owner);
      return;
    }
    throw new ObjectLostException("object " + hex + " is lost: no node could provide it ("
        + (failures.isEmpty() ? "no node holds a copy" : String.join("; ", failures)) + ")");
  }

  /**
   * Whether {@code node}'s store still holds {@code oid} (its raylet sends a first chunk
   * within {@link #PROBE_DEADLINE_MS}); false when the node is dead or unknown. For the
   * owner's lineage reconstruction (ObjectRecovery).
   *
   * @param oid the object
   * @param node the node
   * @return whether a copy is there
   */
  public boolean probe(ByteString oid, ByteString node) {
    if (node.equals(selfNode.get())) {
      return store.get().contains(ObjectId.fromBytes(oid.toByteArray()));
    }
    NodeInfo info = null;
    try {
      for (NodeInfo n : GcsServiceGrpc.newBlockingStub(channel(gcsAddress))
          .withDeadlineAfter(RPC_DEADLINE_S, TimeUnit.SECONDS)
          .getAllNodes(GetAllNodesRequest.getDefaultInstance()).getNodesList()) {
        if (n.getNodeId().equals(node)) {
          info = n;
        }
      }
    } catch (StatusRuntimeException e) {
      return false;
    }
    if (info == null || !info.getAlive()) {
      return false;
    }
    ReadObjectRequest req = ReadObjectRequest.newBuilder().setObjectId(oid).setChunkSize(64).setTimeoutMs(0).build();
    String raylet = Rpc.target(info.getRayletAddress());
    io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
    try {
      return ctx.call(() -> RayletServiceGrpc.newBlockingStub(channel(raylet))
          .withDeadlineAfter(PROBE_DEADLINE_MS, TimeUnit.MILLISECONDS).readObject(req).hasNext());
    } catch (Exception e) {
      return false;
    } finally {
      ctx.cancel(null);
    }
  }

  /** How long a probe of one copy may take. */
  static final long PROBE_DEADLINE_MS = 3_000;

  private void stream(SharedStore s, ObjectId id, ByteString oid, String raylet) {
    ReadObjectRequest req = ReadObjectRequest.newBuilder().setObjectId(oid).setChunkSize(CHUNK_SIZE)
        .setTimeoutMs(2000).build();
    Iterator<ObjectChunk> chunks = RayletServiceGrpc.newBlockingStub(channel(raylet))
        .withDeadlineAfter(PULL_DEADLINE_S, TimeUnit.SECONDS).readObject(req);
    ObjectBuilder b = null;
    long dataSize = 0;
    boolean sealed = false;
    try {
      while (chunks.hasNext()) {
        ObjectChunk c = chunks.next();
        if (b == null) {
          dataSize = c.getTotalSize();
          try {
            b = s.create(id, c.getTotalSize(), c.getMetadataSize());
          } catch (ObjectExistsException e) {
            waitForOtherWriter(s, id);
            return;
          }
        }
        ByteBuffer target = c.getOffset() < dataSize ? b.data() : b.metadata();
        long at = c.getOffset() < dataSize ? c.getOffset() : c.getOffset() - dataSize;
        target.position((int) at);
        target.put(c.getData().asReadOnlyByteBuffer());
      }
      if (b == null) {
        throw new ObjectLostException("the raylet at " + raylet + " sent no chunk of object " + id);
      }
      b.seal();
      sealed = true;
    } finally {
      if (b != null && !sealed) {
        try {
          b.abort();
        } catch (RuntimeException e) {
          // best effort: the raylet reclaims what a process leaves unsealed
        }
      }
    }
  }

  private static void waitForOtherWriter(SharedStore s, ObjectId id) {
    try {
      s.getOne(id, PULL_DEADLINE_S * 1000).close();
    } catch (StoreTimeoutException e) {
      throw new ObjectLostException("object " + id + " was being copied into this node's store by another "
          + "process, which did not finish within " + PULL_DEADLINE_S + " s");
    }
  }

  private void record(ByteString oid, Address owner) {
    if (owner == null || owner.getPort() == 0) {
      return;
    }
    try {
      CoreWorkerServiceGrpc.newBlockingStub(channel(Rpc.target(owner)))
          .withDeadlineAfter(RPC_DEADLINE_S, TimeUnit.SECONDS)
          .addObjectLocation(AddObjectLocationRequest.newBuilder().setObjectId(oid).setNodeId(selfNode.get()).build());
    } catch (StatusRuntimeException e) {
      // The owner is gone: nothing to record.
    }
  }

  /** Closes the channels. */
  public void close() {
    for (ManagedChannel ch : channels.values()) {
      ch.shutdownNow();
    }
  }
}
