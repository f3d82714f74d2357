package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.polyray.api.ObjectRef;
import io.polyray.api.exception.PolyRayException;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.NdArray;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.PinObjectsReply;
import io.polyray.runtime.proto.PinObjectsRequest;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.spec.Policies;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.ObjectView;
import io.polyray.runtime.store.SharedStore;
import io.polyray.runtime.store.StoreFullException;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;

/**
 * The objects a {@link CoreWorker} owns: values it puts, arguments too large to inline,
 * and the results (or errors) of the tasks it submitted.
 */
final class OwnedObjects {
  private final CoreWorker w;
  /** The raylet's pins of stored puts, batched and capped (docs/ownership.md, "Pins"). */
  final StorePins pins;

  OwnedObjects(CoreWorker w) {
    this.w = w;
    this.pins = new StorePins(this::pinCall, RuntimeSpec.FANOUT_MAX_PINS_IN_FLIGHT,
        RuntimeSpec.FANOUT_MAX_IDS_PER_PIN, 0);
  }

  private void pinCall(List<ByteString> ids, Address owner, BiConsumer<List<Boolean>, Throwable> done) {
    w.rayletAsync().withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS).pinObjects(
        PinObjectsRequest.newBuilder().addAllObjectIds(ids).setOwner(owner).build(),
        new StreamObserver<PinObjectsReply>() {
          @Override
          public void onNext(PinObjectsReply reply) {
            done.accept(reply.getPinnedList(), null);
          }

          @Override
          public void onError(Throwable t) {
            done.accept(null, t);
          }

          @Override
          public void onCompleted() {}
        });
  }

  /**
   * Stores a value owned by this process.
   *
   * @param value the value
   * @param <T> its type
   * @return its reference
   */
  public <T> ObjectRef<T> put(Object value) {
    if (value instanceof ObjectRef) {
      throw new IllegalArgumentException("put() of an ObjectRef is not allowed; pass the ObjectRef itself");
    }
    Encoded enc = w.codec.encode(value, "the value of put()");
    ByteString oid = w.nextPutId();
    w.references.addOwned(oid);
    ObjectRefImpl<T> ref = w.ownedRef(oid, putType(value));
    storeOwned(oid, enc);
    return ref;
  }

  /** The type a put value comes back as: its own class for scalars and arrays. */
  private static Type putType(Object v) {
    if (v == null || v instanceof List || v instanceof Map) {
      return null; // containers come back in their natural form
    }
    Class<?> c = v.getClass();
    if (c.isArray() || v instanceof Number || v instanceof Boolean || v instanceof String
        || v instanceof Character || v instanceof NdArray) {
      return c;
    }
    return null;
  }

  /** Records an owned object's encoded value: inline, or written to the store. */
  void storeOwned(ByteString oid, Encoded enc) {
    List<ByteString> nestedIds = new ArrayList<>();
    for (io.polyray.runtime.proto.ObjectRef r : enc.nestedRefs()) {
      nestedIds.add(r.getObjectId());
    }
    if (!Policies.travelsInline(enc.size())) {
      putInStore(oid, enc, w.address, false);
      w.references.setInStore(oid, w.nodeId);
      w.memoryStore.set(oid, MemoryStore.Entry.inStore(w.nodeId, enc.size(), w.holdNested(enc.nestedRefs())));
    } else {
      w.memoryStore.set(oid, MemoryStore.Entry.value(enc.toEnvelope(), enc.size(), w.holdNested(enc.nestedRefs())));
    }
    w.references.setContains(oid, nestedIds);
  }

  /**
   * Writes an encoded value into the node's store under {@code oid} and has the raylet
   * pin it for {@code owner}, waiting for the raylet's answer.
   *
   * @param oid the object ID
   * @param enc the value
   * @param owner the object's owner
   */
  public void putInStore(ByteString oid, Encoded enc, Address owner) {
    putInStore(oid, enc, owner, true);
  }

  /**
   * Writes an encoded value into the node's store under {@code oid} (sealed: readable by
   * every process of the node when this returns) and queues the raylet's pin of it for
   * {@code owner}; a pin of our own covers the gap until the raylet's is in place, so the
   * object cannot be evicted in between (StorePins).
   *
   * @param oid the object ID
   * @param enc the value
   * @param owner the object's owner
   * @param wait whether to wait for the raylet's answer
   */
  void putInStore(ByteString oid, Encoded enc, Address owner, boolean wait) {
    CompletableFuture<Boolean> pinned = queueInStore(oid, enc, owner);
    if (wait) {
      awaitPinned(oid, pinned);
    }
  }

  /**
   * Writes an encoded value into the node's store (sealed when this returns) and queues the
   * raylet's pin of it for {@code owner} in the batched {@link StorePins}; this process pins
   * it until the raylet answered.
   *
   * @param oid the object ID
   * @param enc the value
   * @param owner the object's owner
   * @return completes with whether the raylet pinned it
   */
  CompletableFuture<Boolean> queueInStore(ByteString oid, Encoded enc, Address owner) {
    SharedStore s = w.store();
    ObjectId id = ObjectId.fromBytes(oid.toByteArray());
    try {
      StoreWrites.writeSealed(s, id, enc);
    } catch (StoreFullException e) {
      throw new io.polyray.api.exception.ObjectStoreFullException("the value of object " + Hex.of(oid.toByteArray())
          + " (" + enc.size() + " bytes) does not fit in the node's store " + w.storeName + ": " + e.getMessage());
    }
    ObjectView pin = s.getOne(id, 5_000);
    return pins.add(oid, pin, owner, 60_000);
  }

  /**
   * Waits (bounded) for the raylet's answer to a pin {@link #queueInStore} queued.
   *
   * @param oid the object ID
   * @param pinned the pin's future
   * @throws PolyRayException when the raylet did not pin it
   */
  void awaitPinned(ByteString oid, CompletableFuture<Boolean> pinned) {
    boolean ok;
    try {
      ok = pinned.get(RuntimeSpec.RPC_TIMEOUT_S + 5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new PolyRayException("interrupted while the raylet pinned object " + Hex.of(oid.toByteArray()), e);
    } catch (ExecutionException | TimeoutException e) {
      ok = false;
    }
    if (!ok) {
      throw new PolyRayException("the raylet at " + w.rayletAddress + " did not pin object "
          + Hex.of(oid.toByteArray()) + " in store " + w.storeName);
    }
  }

  /** Records a task's results (io thread). */
  void completeTask(TaskSpec spec, List<ReturnObject> returns, List<ByteString> argIds) {
    List<ByteString> stored = new ArrayList<>();
    for (ReturnObject r : returns) {
      if (recordReturn(r)) {
        stored.add(r.getObjectId());
      }
    }
    w.recovery.onFinished(spec, null);
    if (!stored.isEmpty() && spec.getType() == TaskType.NORMAL_TASK && w.lineage.maxBytes > 0) {
      w.lineage.record(spec, argIds, stored); // keeps the spec; takes over the arguments' pins
    } else {
      w.references.removeSubmitted(argIds);
    }
  }

  /**
   * Records one return object (a task's, or a generator task's item; io thread); one no
   * reference holds any more is dropped.
   *
   * @return whether it is a store copy kept here
   */
  boolean recordReturn(ReturnObject r) {
    ByteString oid = r.getObjectId();
    boolean inStore = r.getKindCase() == ReturnObject.KindCase.IN_STORE_NODE;
    if (!w.references.isOwned(oid)) {
      // Every reference to this return is gone already: drop it.
      dropReturn(r);
      return false;
    }
    List<Object> nested = w.holdNested(r.getNestedRefsList());
    if (r.getNestedRefsCount() > 0) {
      // Our own holds are taken (their adds decided first): release the lends (reference protocol).
      w.references.ackReturned(r.getNestedRefsList(), w.workerId, r.getLender());
    }
    if (inStore) {
      w.references.setInStore(oid, r.getInStoreNode());
      w.memoryStore.set(oid, MemoryStore.Entry.inStore(r.getInStoreNode(), r.getSize(), nested));
      return true;
    }
    w.memoryStore.set(oid, MemoryStore.Entry.value(r.getValue(), r.getSize(), nested));
    return false;
  }

  /** A return nobody will read: frees its store copy and releases the lends nested in it. */
  void dropReturn(ReturnObject r) {
    if (r.getKindCase() == ReturnObject.KindCase.IN_STORE_NODE && !r.getInStoreNode().isEmpty()) {
      w.queueFree(r.getObjectId());
    }
    if (r.getNestedRefsCount() > 0) {
      w.references.ackReturned(r.getNestedRefsList(), w.workerId, r.getLender());
    }
  }

  /** Completes every return of a task with an error (io thread). */
  void failTask(TaskSpec spec, ErrorRecord record, List<ByteString> argIds) {
    ErrorRecord lost = w.recovery.onFinished(spec, record);
    if (lost != null) {
      record = lost; // a failed reconstruction: OBJECT_LOST, REASON_RETRIES_EXHAUSTED
    }
    for (int i = 1; i <= spec.getNumReturns(); i++) {
      ByteString oid = Ids.returnId(spec.getTaskId(), i);
      if (w.references.isOwned(oid)) {
        w.memoryStore.set(oid, MemoryStore.Entry.error(record));
      }
    }
    w.references.removeSubmitted(argIds);
  }
}
