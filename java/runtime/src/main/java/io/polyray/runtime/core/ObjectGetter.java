package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.api.ObjectRef;
import io.polyray.api.exception.GetTimeoutException;
import io.polyray.api.exception.ObjectLostException;
import io.polyray.api.exception.PolyRayException;
import io.polyray.api.exception.TaskCancelledException;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.codec.KeepAlive;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.codec.StoredEnvelope;
import io.polyray.runtime.codec.XlangConverter;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.GetObjectsReply;
import io.polyray.runtime.proto.GetObjectsRequest;
import io.polyray.runtime.proto.NotifyWorkerBlockedRequest;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.ObjectView;
import io.polyray.runtime.store.StoreTimeoutException;
import java.lang.ref.Reference;
import java.lang.reflect.Type;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The get side of a {@link CoreWorker}: waits for objects, fetches borrowed ones from
 * their owners, decodes values inline or from the node's store.
 */
final class ObjectGetter {
  private final CoreWorker w;

  /** Borrowed objects being fetched from their owners (io thread). */
  private final Set<ByteString> fetching = new HashSet<>();
  /** Borrowed objects no copy of which could be read: the next GetObject says {@code lost}. */
  private final Set<ByteString> lost = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** How many times one get has a lost object recomputed (or asks its owner) before it raises. */
  static final int MAX_RECOVERIES_PER_GET = 8;

  /** Local reads and early copies of borrowed values in this node's store. */
  private final LocalCopies copies;

  ObjectGetter(CoreWorker w) {
    this.w = w;
    this.copies = new LocalCopies(w);
  }

  /** GetObjects calls open per owner, and ids per call (docs/ownership.md, "Fan-out"). */
  static final int MAX_FETCHES_PER_OWNER = RuntimeSpec.FANOUT_MAX_FETCHES_IN_FLIGHT_PER_OWNER;
  static final int MAX_IDS_PER_FETCH = RuntimeSpec.FANOUT_MAX_IDS_PER_FETCH;

  /** The fetches of one owner (io thread): ids queued, calls open, ids found not ready. */
  private static final class OwnerFetches {
    final Address address;
    final ArrayDeque<ByteString> queue = new ArrayDeque<>();
    final Set<ByteString> asked = new HashSet<>();
    final List<Context.CancellableContext> waitingCalls = new ArrayList<>();
    int inFlight;
    boolean legacy;

    OwnerFetches(Address address) {
      this.address = address;
    }
  }

  /** Owners of objects being fetched, by worker id (io thread). */
  private final Map<ByteString, OwnerFetches> owners = new HashMap<>();

  /** Starts asking the owner of a borrowed object for it (io thread): queued on its owner. */
  private void startFetch(ObjectRefImpl<?> ref) {
    startFetches(List.of(ref));
  }

  /**
   * Starts asking the owners of borrowed objects for them (io thread): all are queued on
   * their owners first, then each owner's queue is sent, so one get of many refs makes full
   * batches rather than a first call per ref.
   */
  private void startFetches(List<ObjectRefImpl<?>> refs) {
    List<io.polyray.runtime.proto.ObjectRef> protos = new ArrayList<>(refs.size());
    for (ObjectRefImpl<?> ref : refs) {
      protos.add(ref.toProto());
    }
    fetchBorrowed(protos);
  }

  /** Starts asking the owners of these borrowed objects for them (io thread; actor call arguments too). */
  void fetchBorrowed(List<io.polyray.runtime.proto.ObjectRef> refs) {
    List<OwnerFetches> touched = new ArrayList<>();
    for (io.polyray.runtime.proto.ObjectRef ref : refs) {
      ByteString oid = ref.getObjectId();
      if (w.memoryStore.getIfReady(oid) != null || !fetching.add(oid)) {
        continue;
      }
      Address owner = ref.getOwner();
      if (lost.contains(oid)) {
        fetchOnce(oid, owner); // GetObject(lost): every owner checks the copies
        continue;
      }
      OwnerFetches q = owners.computeIfAbsent(owner.getWorkerId(), k -> new OwnerFetches(owner));
      q.queue.add(oid);
      if (!touched.contains(q)) {
        touched.add(q);
      }
    }
    for (OwnerFetches q : touched) {
      pump(q);
    }
  }

  /** Sends what `q` queued: at most MAX_FETCHES_PER_OWNER calls open, MAX_IDS_PER_FETCH ids each. */
  private void pump(OwnerFetches q) {
    if (w.shuttingDown) {
      return;
    }
    while (!q.queue.isEmpty()) {
      if (q.inFlight >= MAX_FETCHES_PER_OWNER) {
        // Every slot taken: when new ids wait and a call only waits on slow objects, cancel
        // that call; its ids go out again with the new ones.
        boolean fresh = false;
        for (ByteString oid : q.queue) {
          if (!q.asked.contains(oid)) {
            fresh = true;
            break;
          }
        }
        if (fresh && !q.waitingCalls.isEmpty()) {
          q.waitingCalls.remove(0).cancel(null);
        }
        return;
      }
      List<ByteString> ids = new ArrayList<>();
      while (!q.queue.isEmpty() && ids.size() < MAX_IDS_PER_FETCH) {
        ByteString oid = q.queue.poll();
        if (w.memoryStore.getIfReady(oid) != null) {
          fetching.remove(oid);
          q.asked.remove(oid);
          continue;
        }
        ids.add(oid);
      }
      if (ids.isEmpty()) {
        break;
      }
      if (q.legacy) {
        for (ByteString oid : ids) {
          q.asked.remove(oid);
          fetchOnce(oid, q.address); // an owner without GetObjects
        }
        continue;
      }
      sendBatch(q, ids);
    }
    if (q.queue.isEmpty() && q.inFlight == 0) {
      owners.remove(q.address.getWorkerId());
    }
  }

  private void sendBatch(OwnerFetches q, List<ByteString> ids) {
    boolean onlyWaits = q.asked.containsAll(ids);
    q.inFlight++;
    Context.CancellableContext ctx = Context.current().withCancellation();
    if (onlyWaits) {
      q.waitingCalls.add(ctx);
    }
    GetObjectsRequest req = GetObjectsRequest.newBuilder().addAllObjectIds(ids)
        .setTimeoutMs(RuntimeSpec.RPC_GET_OBJECT_WAIT_MS).build();
    ctx.run(() -> CoreWorkerServiceGrpc.newStub(w.channels.get(q.address)).withDeadlineAfter(
        RuntimeSpec.RPC_GET_OBJECT_WAIT_MS + 10_000L, TimeUnit.MILLISECONDS).getObjects(req,
        new StreamObserver<GetObjectsReply>() {
          private boolean done;

          private void finish(List<ByteString> requeue) {
            if (done) {
              return;
            }
            done = true;
            q.inFlight--;
            q.waitingCalls.remove(ctx);
            if (!requeue.isEmpty() && !w.shuttingDown) {
              for (int i = requeue.size() - 1; i >= 0; i--) {
                q.queue.addFirst(requeue.get(i));
              }
            } else {
              requeue.forEach(fetching::remove);
            }
            pump(q);
          }

          @Override
          public void onNext(GetObjectsReply reply) {
            Set<ByteString> answered = new HashSet<>();
            for (int i = 0; i < reply.getObjectIdsCount() && i < reply.getObjectsCount(); i++) {
              ByteString oid = reply.getObjectIds(i);
              if (!answered.add(oid) || !fetching.contains(oid)) {
                continue;
              }
              q.asked.remove(oid);
              fetching.remove(oid);
              apply(oid, q.address, reply.getObjects(i));
            }
            List<ByteString> rest = new ArrayList<>();
            for (ByteString oid : ids) {
              if (!answered.contains(oid)) {
                rest.add(oid);
              }
            }
            q.asked.addAll(rest);
            finish(rest);
          }

          @Override
          public void onError(Throwable t) {
            Status.Code code = Status.fromThrowable(t).getCode();
            if (code == Status.Code.CANCELLED && ctx.isCancelled()) {
              finish(ids); // cancelled here to make room: asked again with the new ones
              return;
            }
            if (code == Status.Code.UNIMPLEMENTED) {
              q.legacy = true; // an owner that serves only GetObject
              finish(ids);
              return;
            }
            if (code == Status.Code.UNAVAILABLE) {
              w.ownerWatch.markDead(q.address.getWorkerId()); // nothing listens: no more local reads
            }
            for (ByteString oid : ids) {
              q.asked.remove(oid);
              fetching.remove(oid);
              if (!w.shuttingDown) {
                w.memoryStore.set(oid, MemoryStore.Entry.error(ErrorRecords.ownerUnreachable(
                    Hex.of(oid.toByteArray()), Rpcs.target(q.address), code)));
              }
            }
            finish(List.of());
          }

          @Override
          public void onCompleted() {
            finish(List.of());
          }
        }));
  }

  /** Records an owner's answer about `oid` (a GetObject reply that is not timed_out). */
  private void apply(ByteString oid, Address owner, GetObjectReply reply) {
    if (!reply.getFound()) {
      w.memoryStore.set(oid, MemoryStore.Entry.error(reply.hasFailure() ? reply.getFailure()
          : ErrorRecords.system(ErrorKind.OBJECT_LOST, "the owner at " + Rpcs.target(owner)
              + " does not know object " + Hex.of(oid.toByteArray()))));
      return;
    }
    ReturnObject obj = reply.getObject();
    if (obj.hasValue()) {
      w.memoryStore.set(oid, MemoryStore.Entry.value(obj.getValue(), obj.getSize(), List.of()));
    } else {
      ByteString node = obj.getInStoreNode();
      if (node.isEmpty() && reply.getLocationsCount() > 0) {
        node = reply.getLocations(0);
      }
      List<ByteString> copies = new ArrayList<>();
      copies.add(node);
      for (ByteString n : reply.getLocationsList()) {
        if (!copies.contains(n)) {
          copies.add(n);
        }
      }
      w.memoryStore.set(oid, MemoryStore.Entry.inStore(node, obj.getSize(), List.of(), copies));
    }
  }

  private void fetchOnce(ByteString oid, Address owner) {
    if (w.shuttingDown) {
      fetching.remove(oid);
      return;
    }
    GetObjectRequest req = GetObjectRequest.newBuilder().setObjectId(oid).setTimeoutMs(RuntimeSpec.RPC_GET_OBJECT_WAIT_MS)
        .setLost(lost.remove(oid)).build();
    CoreWorkerServiceGrpc.newStub(w.channels.get(owner)).withDeadlineAfter(RuntimeSpec.RPC_GET_OBJECT_WAIT_MS + 10_000L,
        TimeUnit.MILLISECONDS).getObject(req, new StreamObserver<GetObjectReply>() {
          private boolean answered;

          @Override
          public void onNext(GetObjectReply reply) {
            answered = true;
            if (reply.getTimedOut()) {
              fetchOnce(oid, owner); // the owner is alive and the object not ready yet
              return;
            }
            fetching.remove(oid);
            apply(oid, owner, reply);
          }

          @Override
          public void onError(Throwable t) {
            fetching.remove(oid);
            if (w.shuttingDown) {
              return;
            }
            Status.Code code = Status.fromThrowable(t).getCode();
            if (code == Status.Code.UNAVAILABLE) {
              w.ownerWatch.markDead(owner.getWorkerId());
            }
            w.memoryStore.set(oid, MemoryStore.Entry.error(ErrorRecords.ownerUnreachable(
                Hex.of(oid.toByteArray()), Rpcs.target(owner), code)));
          }

          @Override
          public void onCompleted() {
            if (!answered) {
              fetching.remove(oid);
            }
          }
        });
  }

  /** Entries of every ref, waiting (and fetching borrowed ones) until the deadline. */
  private List<MemoryStore.Entry> await(List<ObjectRefImpl<?>> refs, long timeoutMs, Map<ByteString, Object> early) {
    long deadline = timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    List<MemoryStore.Entry> out = new ArrayList<>(refs.size());
    List<CompletableFuture<MemoryStore.Entry>> futures = new ArrayList<>(refs.size());
    boolean missing = false;
    List<ObjectRefImpl<?>> fetch = new ArrayList<>();
    for (ObjectRefImpl<?> r : refs) {
      ByteString oid = r.toProto().getObjectId();
      MemoryStore.Entry e = w.memoryStore.getIfReady(oid);
      if (e == null) {
        missing = true;
        if (!w.isOwnedRef(r)) {
          fetch.add(r);
        }
        futures.add(w.memoryStore.future(oid));
      } else {
        futures.add(CompletableFuture.completedFuture(e));
      }
    }
    if (!fetch.isEmpty()) {
      w.onIo(() -> startFetches(fetch)); // one batch per owner, not a call per ref
      if (early != null) {
        copies.copyEarly(fetch, early);
      }
    }
    boolean blocked = missing && blocksCpu();
    if (blocked) {
      notifyBlocked(true);
    }
    try {
      if (missing && futures.size() > 1) {
        awaitAllOrFirstError(refs, futures, deadline);
      }
      int notReady = 0;
      for (int i = 0; i < futures.size(); i++) {
        CompletableFuture<MemoryStore.Entry> f = futures.get(i);
        try {
          if (deadline == Long.MAX_VALUE) {
            out.add(f.get());
          } else {
            long left = deadline - System.nanoTime();
            out.add(f.get(Math.max(0, left), TimeUnit.NANOSECONDS));
          }
        } catch (TimeoutException e) {
          notReady++;
          out.add(null);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new TaskCancelledException("interrupted while waiting for object "
              + refs.get(i).getIdHex());
        } catch (ExecutionException e) {
          throw new PolyRayException("waiting for object " + refs.get(i).getIdHex() + " failed: " + e.getCause(),
              e.getCause());
        }
      }
      if (notReady > 0) {
        String first = "";
        for (int i = 0; i < out.size(); i++) {
          if (out.get(i) == null) {
            first = refs.get(i).getIdHex();
            break;
          }
        }
        throw new GetTimeoutException("get() timed out after " + timeoutMs + " ms: " + notReady + " of "
            + refs.size() + " object(s) not ready (first: " + first + ")");
      }
      return out;
    } finally {
      if (blocked) {
        notifyBlocked(false);
      }
      Reference.reachabilityFence(refs);
    }
  }

  /**
   * First error wins (as Ray's get and the Python getter): waits until every entry is ready
   * or one of them is an error, and then throws the first error in list order among the
   * entries known at that moment, without waiting for the others. Returns when all are
   * ready or the deadline passed (the caller's loop then reports what is missing).
   */
  private void awaitAllOrFirstError(List<ObjectRefImpl<?>> refs, List<CompletableFuture<MemoryStore.Entry>> futures,
      long deadline) {
    CompletableFuture<Object> firstError = new CompletableFuture<>();
    for (CompletableFuture<MemoryStore.Entry> f : futures) {
      f.thenAccept(e -> {
        if (isError(e)) {
          firstError.complete(e);
        }
      });
    }
    CompletableFuture<Object> either = CompletableFuture.anyOf(
        CompletableFuture.allOf(futures.toArray(new CompletableFuture<?>[0])), firstError);
    try {
      if (deadline == Long.MAX_VALUE) {
        either.get();
      } else {
        either.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
    } catch (TimeoutException | ExecutionException e) {
      return; // the caller's loop reports it
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TaskCancelledException("interrupted while waiting for " + refs.size() + " objects");
    }
    if (!firstError.isDone()) {
      return;
    }
    for (int i = 0; i < futures.size(); i++) {
      MemoryStore.Entry e = futures.get(i).getNow(null);
      if (e != null && isError(e)) {
        decodeEntry(refs.get(i), e); // throws its error
      }
    }
  }

  private static boolean isError(MemoryStore.Entry e) {
    return e != null && (e.error != null || (e.envelope != null && e.envelope.getFormat() == Format.FORMAT_ERROR));
  }

  /** A worker waiting in a normal task lends its CPUs to the node meanwhile. */
  private boolean blocksCpu() {
    return !w.isDriver && w.currentTask.get() != null && !w.inActor;
  }

  private void notifyBlocked(boolean blocked) {
    w.onIo(() -> w.rayletAsync().withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS).notifyWorkerBlocked(
        NotifyWorkerBlockedRequest.newBuilder().setWorkerId(w.workerId).setBlocked(blocked).build(), Rpcs.ignore()));
  }

  /**
   * The value of a reference, converted to its declared type.
   *
   * @param r the reference
   * @param timeoutMs negative: no limit
   * @return the value
   */
  public Object get(ObjectRef<?> r, long timeoutMs) {
    ObjectRefImpl<?> ref = CoreWorker.check(r);
    long deadline = deadline(timeoutMs);
    Map<Integer, Object> local = copies.readLocal(List.of(ref));
    if (!local.isEmpty()) {
      return convert(local.get(0), ref);
    }
    MemoryStore.Entry e = await(List.of(ref), timeoutMs, null).get(0);
    Object v = convert(decodeRecovering(ref, e, deadline), ref);
    Reference.reachabilityFence(ref);
    return v;
  }

  /**
   * The values of several references.
   *
   * @param refs the references
   * @param timeoutMs for all of them; negative: no limit
   * @return the values
   */
  public List<Object> getAll(List<? extends ObjectRef<?>> refs, long timeoutMs) {
    List<ObjectRefImpl<?>> impls = new ArrayList<>(refs.size());
    for (ObjectRef<?> r : refs) {
      impls.add(CoreWorker.check(r));
    }
    long deadline = deadline(timeoutMs);
    Map<Integer, Object> local = copies.readLocal(impls);
    List<ObjectRefImpl<?>> asked = impls;
    if (!local.isEmpty()) {
      asked = new ArrayList<>(impls.size() - local.size());
      for (int i = 0; i < impls.size(); i++) {
        if (!local.containsKey(i)) {
          asked.add(impls.get(i));
        }
      }
    }
    Map<ByteString, Object> early = new HashMap<>();
    List<MemoryStore.Entry> entries = await(asked, timeoutMs, early);
    List<Object> out = new ArrayList<>(impls.size());
    for (int i = 0, k = 0; i < impls.size(); i++) {
      if (local.containsKey(i)) {
        out.add(convert(local.get(i), impls.get(i)));
        continue;
      }
      MemoryStore.Entry e = entries.get(k++);
      if (!early.isEmpty() && e.error == null && e.envelope == null && e.inStoreNode != null) {
        // The owner answered that the object is stored: the copy read before its answer is
        // its value (once: a ref listed twice gets a second, separate value).
        ByteString oid = impls.get(i).toProto().getObjectId();
        if (early.containsKey(oid)) {
          out.add(convert(early.remove(oid), impls.get(i)));
          EarlyReads.returned();
          continue;
        }
      }
      out.add(convert(decodeRecovering(impls.get(i), e, deadline), impls.get(i)));
    }
    Reference.reachabilityFence(impls);
    return out;
  }

  private Object convert(Object value, ObjectRefImpl<?> ref) {
    Type t = ref.valueType();
    if (t == null || t == Object.class) {
      return XlangConverter.natural(value);
    }
    if (t == Void.class || t == void.class) {
      return null;
    }
    return XlangConverter.convert(value, t, "the value of object " + ref.getIdHex());
  }

  private static long deadline(long timeoutMs) {
    return timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
  }

  /**
   * The decoded value of a ready entry; a stored object whose copies are all lost is
   * recomputed first (owned: by ObjectRecovery from its lineage; borrowed: by its owner,
   * asked again with {@code lost}), at most {@link #MAX_RECOVERIES_PER_GET} times.
   */
  private Object decodeRecovering(ObjectRefImpl<?> ref, MemoryStore.Entry e, long deadline) {
    ByteString oid = ref.toProto().getObjectId();
    for (int attempt = 0; ; attempt++) {
      try {
        return decodeEntry(ref, e);
      } catch (ObjectLostException x) {
        boolean stored = e.error == null && e.envelope == null;
        if (!stored || attempt >= MAX_RECOVERIES_PER_GET) {
          throw x;
        }
        if (w.isOwnedRef(ref)) {
          w.recovery.recover(oid, e);
        } else {
          // Forget the lost entry here, before waiting: done later on the io thread, the
          // wait below could see the old entry and give up at once.
          w.memoryStore.delete(oid, e);
          lost.add(oid);
          w.onIo(() -> startFetch(ref));
        }
        MemoryStore.Entry next = waitEntry(oid, deadline, ref);
        if (next == e) {
          throw x; // nothing could be done: the loss stands
        }
        e = next;
      }
    }
  }

  private MemoryStore.Entry waitEntry(ByteString oid, long deadline, ObjectRefImpl<?> ref) {
    try {
      CompletableFuture<MemoryStore.Entry> f = w.memoryStore.future(oid);
      return deadline == Long.MAX_VALUE ? f.get() : f.get(Math.max(0, deadline - System.nanoTime()),
          TimeUnit.NANOSECONDS);
    } catch (TimeoutException x) {
      throw new GetTimeoutException("get() timed out while object " + ref.getIdHex() + " was being recomputed");
    } catch (InterruptedException x) {
      Thread.currentThread().interrupt();
      throw new TaskCancelledException("interrupted while waiting for object " + ref.getIdHex());
    } catch (ExecutionException x) {
      throw new PolyRayException("waiting for object " + ref.getIdHex() + " failed: " + x.getCause(), x.getCause());
    }
  }

  /** The decoded value of a ready entry (throws its error). */
  private Object decodeEntry(ObjectRefImpl<?> ref, MemoryStore.Entry e) {
    ByteString oid = ref.toProto().getObjectId();
    if (e.error != null) {
      throw ErrorRecords.toException(e.error);
    }
    if (e.envelope != null) {
      if (e.envelope.getFormat() == Format.FORMAT_ERROR) {
        throw ErrorRecords.toException((ErrorRecord) w.codec.decode(e.envelope));
      }
      try {
        return w.codec.decode(e.envelope, false);
      } catch (IllegalArgumentException x) {
        throw new PolyRayException("the value of object " + ref.getIdHex() + " cannot be decoded in Java: "
            + x.getMessage(), x);
      }
    }
    return readFromStore(oid, e, ref.toProto().hasOwner() ? ref.toProto().getOwner() : null);
  }

  /** Reads an object from this node's store: ndarrays are views of shared memory. */
  private Object readFromStore(ByteString oid, MemoryStore.Entry entry, Address owner) {
    String hex = Hex.of(oid.toByteArray());
    ByteString node = entry.inStoreNode;
    if (node != null && !node.isEmpty() && !node.equals(w.nodeId)) {
      // From any node known to hold a copy, the primary first (owned: every copy recorded
      // here; borrowed: those the owner named). ObjectLostException when none has it.
      boolean owned = w.references.isOwned(oid);
      List<ByteString> from = owned ? w.locations.of(oid, node) : (entry.locations.isEmpty() ? List.of(node) : entry.locations);
      w.puller().pull(oid, from, owned ? null : owner);  // a borrower tells the owner of its copy
      if (owned) {
        w.locations.add(oid, w.nodeId);  // this node holds a copy now
      }
    }
    ObjectView view;
    try {
      view = w.store().getOne(ObjectId.fromBytes(oid.toByteArray()), RuntimeSpec.RPC_STORE_WAIT_MS);
    } catch (StoreTimeoutException e) {
      throw new ObjectLostException("object " + hex + " is not in this node's store (freed or evicted)");
    }
    KeepAlive keepAlive = new KeepAlive(view);
    try {
      StoredEnvelope stored = StoreLayout.unpack(view.metadata(), view.data());
      if (stored.format() == Format.FORMAT_ERROR) {
        throw ErrorRecords.toException((ErrorRecord) w.codec.decode(stored, false, null));
      }
      return w.codec.decode(stored, false, keepAlive);
    } catch (IllegalArgumentException x) {
      throw new PolyRayException("object " + hex + " cannot be decoded in Java: " + x.getMessage(), x);
    } finally {
      keepAlive.releaseIfUnused();
    }
  }

  /**
   * Waits until {@code numReturns} references are ready.
   *
   * @param refs the references
   * @param numReturns how many
   * @param timeoutMs negative: no limit
   * @return the ready ones (at most numReturns, input order)
   */
  <T> List<ObjectRef<T>> waitReady(List<ObjectRef<T>> refs, int numReturns, long timeoutMs) {
    Object lock = new Object();
    AtomicInteger ready = new AtomicInteger();
    List<ObjectRefImpl<?>> fetch = new ArrayList<>();
    for (ObjectRef<T> r : refs) {
      ObjectRefImpl<?> ref = CoreWorker.check(r);
      ByteString oid = ref.toProto().getObjectId();
      if (w.memoryStore.getIfReady(oid) == null && !w.isOwnedRef(ref)) {
        fetch.add(ref);
      }
      w.memoryStore.future(oid).whenComplete((e, t) -> {
        ready.incrementAndGet();
        synchronized (lock) {
          lock.notifyAll();
        }
      });
    }
    if (!fetch.isEmpty()) {
      w.onIo(() -> startFetches(fetch));
    }
    long deadline = timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    synchronized (lock) {
      while (ready.get() < numReturns) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(lock, Math.min(left, TimeUnit.SECONDS.toNanos(1)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new TaskCancelledException("interrupted while waiting for objects");
        }
      }
    }
    List<ObjectRef<T>> out = new ArrayList<>();
    for (ObjectRef<T> r : refs) {
      if (out.size() < numReturns && w.memoryStore.getIfReady(ByteString.copyFrom(r.getId())) != null) {
        out.add(r);
      }
    }
    Reference.reachabilityFence(refs);
    return out;
  }
}
