package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.KeepAlive;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.codec.StoredEnvelope;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.ObjectView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The reads of borrowed values in this node's store that a get makes before, or instead of,
 * its owners' answers (docs/ownership.md, "Local reads" and "Early reads"; the decisions are
 * {@link EarlyReads}'s, the watch of owners' deaths {@link OwnerWatch}'s).
 */
final class LocalCopies {
  private final CoreWorker w;

  LocalCopies(CoreWorker w) {
    this.w = w;
  }

  /**
   * The values of the borrowed refs a get takes from this node's store without its owners'
   * answers, by index in {@code refs} (docs/ownership.md, "Local reads"): decoded as after an
   * answer (ndarrays view the store); a ref listed twice gets a second read; an error value or
   * a copy gone meanwhile is left to the owner.
   */
  Map<Integer, Object> readLocal(List<ObjectRefImpl<?>> refs) {
    if (!EarlyReads.LOCAL_READS) {
      return Map.of();
    }
    List<io.polyray.runtime.proto.ObjectRef> protos = new ArrayList<>(refs.size());
    for (ObjectRefImpl<?> r : refs) {
      protos.add(r.toProto());
    }
    Map<ByteString, List<Integer>> at = EarlyReads.toReadLocally(protos, new EarlyReads.Facts() {
      @Override
      public boolean ready(ByteString oid) {
        return w.memoryStore.getIfReady(oid) != null;
      }

      @Override
      public boolean owned(ByteString oid) {
        return w.references.isOwned(oid);
      }

      @Override
      public boolean registered(ByteString oid) {
        return w.references.isBorrowRegistered(oid);
      }

      @Override
      public boolean ownerDead(ByteString workerId) {
        return w.ownerWatch.isDead(workerId);
      }
    });
    if (at.isEmpty()) {
      return Map.of();
    }
    Map<Integer, Object> out = new HashMap<>();
    List<ByteString> ids = new ArrayList<>(at.keySet());
    for (int k = 0; k < ids.size(); k += EarlyReads.STORE_READ_BATCH) {
      List<ByteString> chunk = ids.subList(k, Math.min(ids.size(), k + EarlyReads.STORE_READ_BATCH));
      List<ObjectView> views;
      try {
        List<ObjectId> oids = new ArrayList<>(chunk.size());
        for (ByteString id : chunk) {
          oids.add(ObjectId.fromBytes(id.toByteArray()));
        }
        views = w.store().get(oids, 0);
      } catch (RuntimeException e) {
        break; // no store here (closed, shutting down): ask the owners
      }
      for (int j = 0; j < chunk.size(); j++) {
        ObjectView view = views.get(j);
        if (view == null) {
          continue;
        }
        List<Integer> idx = at.get(chunk.get(j));
        for (int n = 0; n < idx.size(); n++) {
          ObjectView v = n == 0 ? view : getNow(chunk.get(j));
          Object value = v == null ? EarlyReads.NOT_PLAIN : decodeLocal(v);
          if (value == EarlyReads.NOT_PLAIN) {
            break;
          }
          out.put(idx.get(n), value);
        }
      }
    }
    Map<ByteString, io.polyray.runtime.proto.Address> owners = new HashMap<>();
    for (Integer i : out.keySet()) {
      io.polyray.runtime.proto.Address owner = protos.get(i).getOwner();
      owners.putIfAbsent(owner.getWorkerId(), owner);
    }
    owners.values().forEach(w.ownerWatch::note); // once per owner, not per ref
    return out;
  }

  private ObjectView getNow(ByteString oid) {
    try {
      return w.store().get(List.of(ObjectId.fromBytes(oid.toByteArray())), 0).get(0);
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** A local copy's value (the view released unless the value views it), or NOT_PLAIN for an error value. */
  private Object decodeLocal(ObjectView view) {
    KeepAlive keepAlive = new KeepAlive(view);
    try {
      StoredEnvelope stored = StoreLayout.unpack(view.metadata(), view.data());
      if (stored.format() == Format.FORMAT_ERROR) {
        return EarlyReads.NOT_PLAIN;
      }
      return w.codec.decode(stored, false, keepAlive);
    } catch (RuntimeException x) {
      return EarlyReads.NOT_PLAIN; // the owner path reports it
    } finally {
      keepAlive.releaseIfUnused();
    }
  }

  /** Copies into {@code early} the plain values of the borrowed refs a get asks for (EarlyReads). */
  void copyEarly(List<ObjectRefImpl<?>> fetch, Map<ByteString, Object> early) {
    List<io.polyray.runtime.proto.ObjectRef> protos = new ArrayList<>(fetch.size());
    for (ObjectRefImpl<?> r : fetch) {
      protos.add(r.toProto());
    }
    List<ByteString> ids = EarlyReads.toCopy(protos, w.references::isOwned);
    if (!ids.isEmpty()) {
      early.putAll(EarlyReads.copy(ids, this::storeGetNow, w.codec));
    }
  }

  /** This node's store, read without waiting (EarlyReads.LocalStore). */
  private List<EarlyReads.Held> storeGetNow(List<ByteString> ids) {
    List<ObjectId> oids = new ArrayList<>(ids.size());
    for (ByteString id : ids) {
      oids.add(ObjectId.fromBytes(id.toByteArray()));
    }
    List<EarlyReads.Held> out = new ArrayList<>(ids.size());
    for (ObjectView v : w.store().get(oids, 0)) {
      out.add(v == null ? null : new EarlyReads.Held() {
        @Override
        public java.nio.ByteBuffer metadata() {
          return v.metadata();
        }

        @Override
        public java.nio.ByteBuffer data() {
          return v.data();
        }

        @Override
        public void close() {
          v.close();
        }
      });
    }
    return out;
  }
}
