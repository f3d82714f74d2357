package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.api.ObjectRef;
import io.polyray.api.ObjectRefGenerator;
import io.polyray.api.exception.GetTimeoutException;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.ReturnObject;
import java.lang.ref.Cleaner;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Generator tasks this process called (the caller's side of {@code num_returns="streaming"},
 * as python/polyray/core/generators.py): the items each one reported so far.
 *
 * <p>The worker sends each item as it is produced, as a TaskResult with
 * {@code generator_item = k} (1-based) on the task's own result stream, before the task's
 * end; item k is a return object owned here, id = return id k + 1 (return 1 is the end: the
 * item count, or the generator's error). The submitters hand each item to {@link #onItem}
 * and the task's end to {@link #onEnd} (io thread, in arrival order, so every item is
 * recorded before the end); the consumer ({@link Gen}) takes the refs in order.
 *
 * <p>Retries: a generator task whose worker died runs again (maxRetries / maxTaskRetries, as
 * Python's) and yields from item 0; the items already taken or held are repeats and are
 * discarded, so the consumer sees every item once, in order.
 *
 * <p>Invariants: an item is held by its stream (one hold, {@link Owner#hold}) until the
 * consumer takes it (its ObjectRef then holds it) or the stream is closed; a closed stream
 * lets go of what it holds and discards what arrives later; a stream leaves the table at its
 * end or close, whichever is first. Thread-safe.
 */
final class GeneratorStreams {
  /** What the streams need of the owner (the CoreWorker's tables; a fake in unit tests). */
  interface Owner {
    /** Counts an arriving item as owned here and held once (before it is recorded). */
    void hold(ByteString oid);

    /** Records the item's value or store location, as a task return. */
    void record(ReturnObject item);

    /** Lets go of the stream's hold (the object is freed unless a ref holds it). */
    void release(ByteString oid);

    /**
     * An item the stream does not keep: acknowledge the refs nested in it; free its store copy,
     * unless the object is still owned here (a retry's repeat of an item a ref holds: that copy
     * is one more of the live object, freed with it).
     */
    void discard(ReturnObject item);

    /** A counted ref of an owned object, converting to {@code type} on get. */
    ObjectRef<?> ref(ByteString oid, Type type);

    /** Whether the task's end object is an error (it is known: called after the end). */
    boolean failed(ByteString endId);
  }

  /** One generator task's items: arrived and held, in order. Guarded by itself. */
  static final class Stream {
    final ByteString taskId;
    final Type itemType;
    final Map<Integer, ByteString> held = new HashMap<>();
    int next;
    boolean ended;
    boolean closed;
    boolean finished;

    Stream(ByteString taskId, Type itemType) {
      this.taskId = taskId;
      this.itemType = itemType;
    }
  }

  private static final Cleaner CLEANER = Cleaner.create();

  private final Owner owner;
  private final Map<ByteString, Stream> streams = new ConcurrentHashMap<>();

  GeneratorStreams(Owner owner) {
    this.owner = owner;
  }

  /** The owner's tables of a CoreWorker. */
  static Owner ownerOf(CoreWorker w) {
    return new Owner() {
      @Override
      public void hold(ByteString oid) {
        w.references.addOwned(oid);
        w.references.addSubmitted(List.of(oid));
      }

      @Override
      public void record(ReturnObject item) {
        w.owned.recordReturn(item);
      }

      @Override
      public void release(ByteString oid) {
        w.references.removeSubmitted(List.of(oid));
      }

      @Override
      public void discard(ReturnObject item) {
        ByteString oid = item.getObjectId();
        if (!w.references.isOwned(oid)) {
          w.owned.dropReturn(item);
          return;
        }
        if (item.getKindCase() == ReturnObject.KindCase.IN_STORE_NODE && !item.getInStoreNode().isEmpty()) {
          w.locations.add(oid, item.getInStoreNode());
        }
        if (item.getNestedRefsCount() > 0) {
          w.references.ackReturned(item.getNestedRefsList(), w.workerId, item.getLender());
        }
      }

      @Override
      public ObjectRef<?> ref(ByteString oid, Type type) {
        return w.ownedRef(oid, type);
      }

      @Override
      public boolean failed(ByteString endId) {
        // A task's error comes as an ERROR value (a failure of the call itself as an error entry).
        MemoryStore.Entry e = w.memoryStore.getIfReady(endId);
        return e != null && (e.error != null || e.envelope != null
            && e.envelope.getFormat() == io.polyray.runtime.proto.Format.FORMAT_ERROR);
      }
    };
  }

  /** The object id of a generator task's item {@code k} (0-based). */
  static ByteString itemId(ByteString taskId, int k) {
    return Ids.returnId(taskId, k + 2);
  }

  /**
   * The type of a generator's items from the callee's declared return type: the element type
   * of an {@code Iterator<T>}, {@code Iterable<T>} (any collection) or {@code Stream<T>};
   * otherwise the type itself (a Python or C++ callee's {@code returnType} is the item type).
   */
  static Type itemType(Type returnType) {
    if (returnType instanceof ParameterizedType) {
      ParameterizedType p = (ParameterizedType) returnType;
      if (p.getRawType() instanceof Class && isSequence((Class<?>) p.getRawType())
          && p.getActualTypeArguments().length == 1) {
        Type t = p.getActualTypeArguments()[0];
        return t instanceof Class || t instanceof ParameterizedType ? t : null;
      }
      return returnType;
    }
    if (returnType instanceof Class && isSequence((Class<?>) returnType)) {
      return null; // raw: the items' natural form
    }
    return returnType;
  }

  private static boolean isSequence(Class<?> c) {
    return java.util.Iterator.class.isAssignableFrom(c) || Iterable.class.isAssignableFrom(c)
        || java.util.stream.BaseStream.class.isAssignableFrom(c);
  }

  /** (Before the task is submitted.) Starts keeping the items of {@code taskId}. */
  Stream open(ByteString taskId, Type itemType) {
    Stream s = new Stream(taskId, itemType);
    streams.put(taskId, s);
    return s;
  }

  /** How many streams are open (neither ended nor closed), for tests. */
  int openCount() {
    return streams.size();
  }

  /** (Io thread.) Item {@code k} (1-based) of a generator task arrived. */
  void onItem(ByteString taskId, ReturnObject item, int k) {
    Stream s = streams.get(taskId);
    ByteString oid = item.getObjectId();
    if (s == null || k < 1 || !oid.equals(itemId(taskId, k - 1))) {
      owner.discard(item);
      return;
    }
    synchronized (s) {
      // Taken or held already: a retried attempt yields its items again from the first (the
      // first copy stays; items are deterministic by index, as Ray's generator retries require).
      if (s.closed || k - 1 < s.next || s.held.containsKey(k - 1)) {
        owner.discard(item);
        return;
      }
      owner.hold(oid);
      owner.record(item);
      s.held.put(k - 1, oid);
      s.notifyAll();
    }
  }

  /** (Io thread, after the end object was set.) The generator task ended: no item comes after. */
  void onEnd(ByteString taskId) {
    Stream s = streams.remove(taskId);
    if (s == null) {
      return;
    }
    synchronized (s) {
      s.ended = true;
      s.notifyAll();
    }
  }

  /** The consumer is gone: lets go of the items held and of those still to come. */
  void close(Stream s) {
    List<ByteString> release;
    synchronized (s) {
      if (s.closed) {
        return;
      }
      s.closed = true;
      release = new ArrayList<>(s.held.values());
      s.held.clear();
      s.notifyAll();
    }
    streams.remove(s.taskId, s);
    release.forEach(owner::release);
  }

  /**
   * Waits for item {@code s.next} or the end.
   *
   * @return the item's id (taken: the caller makes its ref, then releases the hold), or null at the end
   */
  private ByteString await(Stream s, long timeoutMs) {
    long deadline = timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() + timeoutMs * 1_000_000L;
    synchronized (s) {
      while (true) {
        if (s.closed || s.finished) {
          return null;
        }
        ByteString oid = s.held.get(s.next);
        if (oid != null || s.ended) {
          return oid;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new GetTimeoutException("the generator task's item " + s.next + " did not come within "
              + timeoutMs + " ms");
        }
        try {
          s.wait(Math.max(1, Math.min(left / 1_000_000L, 60_000L)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new GetTimeoutException("interrupted while waiting for the generator task's item " + s.next, e);
        }
      }
    }
  }

  /** The consumer's view of one stream. */
  final class Gen<T> implements ObjectRefGenerator<T> {
    private final Stream stream;
    private final ObjectRef<Long> end;
    private final Cleaner.Cleanable cleanable;

    Gen(Stream stream, ObjectRef<Long> end) {
      this.stream = stream;
      this.end = end;
      GeneratorStreams streams = GeneratorStreams.this;
      // Dropped without close: the items not taken are released once it is collected.
      this.cleanable = CLEANER.register(this, () -> streams.close(stream));
    }

    @Override
    public boolean hasNext() {
      return hasNext(-1);
    }

    @Override
    public boolean hasNext(long timeoutMs) {
      ByteString oid = await(stream, timeoutMs);
      if (oid != null) {
        return true;
      }
      synchronized (stream) {
        // At the end with no item: a failed generator's error is one more "item" (its end ref).
        return !stream.closed && !stream.finished && owner.failed(Ids.returnId(stream.taskId, 1));
      }
    }

    @Override
    public ObjectRef<T> next() {
      return next(-1);
    }

    @Override
    @SuppressWarnings("unchecked")
    public ObjectRef<T> next(long timeoutMs) {
      ByteString oid = await(stream, timeoutMs);
      synchronized (stream) {
        if (oid != null) {
          ObjectRef<T> ref = (ObjectRef<T>) owner.ref(oid, stream.itemType);
          stream.held.remove(stream.next);
          stream.next++;
          owner.release(oid); // the ref holds it now
          return ref;
        }
        if (!stream.closed && !stream.finished && owner.failed(Ids.returnId(stream.taskId, 1))) {
          stream.finished = true;
          return (ObjectRef<T>) (ObjectRef<?>) end; // its get throws the generator's error, at its place
        }
        stream.finished = true;
      }
      throw new NoSuchElementException("the generator task ended after " + stream.next + " item(s)");
    }

    @Override
    public ObjectRef<Long> completed() {
      return end;
    }

    @Override
    public void close() {
      cleanable.clean();
    }

    @Override
    public String toString() {
      return "ObjectRefGenerator(" + io.polyray.runtime.ref.Hex.of(stream.taskId.toByteArray()) + ", next item "
          + stream.next + ")";
    }
  }

  /** The generator of an opened stream whose end ref is {@code end}. */
  <T> ObjectRefGenerator<T> generator(Stream s, ObjectRef<Long> end) {
    return new Gen<>(s, end);
  }
}
