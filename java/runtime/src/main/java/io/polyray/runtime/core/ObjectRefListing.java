package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * (State API.) The listing of the references a CoreWorker counts, owned and borrowed, one
 * page at a time in object id order (CoreWorkerService/GetObjectRefs; docs/observability.md,
 * "Objects"): counts from the {@link ReferenceCounter}, status and size from the
 * {@link MemoryStore}, copies from {@link ObjectLocations}.
 */
final class ObjectRefListing {
  private ObjectRefListing() {}

  /**
   * A page of the references counted by {@code w}.
   *
   * @param w the CoreWorker
   * @param request the request (validated)
   * @return the reply
   */
  static io.polyray.runtime.proto.GetObjectRefsReply page(CoreWorker w,
      io.polyray.runtime.proto.GetObjectRefsRequest request) {
    int cap = RuntimeSpec.STATE_MAX_OBJECT_REFS_PER_REPLY;
    int limit = request.getLimit() <= 0 || request.getLimit() > cap ? cap : request.getLimit();
    List<ReferenceCounter.RefRow> rows = new ArrayList<>();
    int total = w.references.listing(request.getPageToken(), limit + 1, rows);
    boolean more = rows.size() > limit;
    if (more) {
      rows = rows.subList(0, limit);
    }
    io.polyray.runtime.proto.GetObjectRefsReply.Builder b = io.polyray.runtime.proto.GetObjectRefsReply.newBuilder()
        .setPid((int) ProcessHandle.current().pid()).setLanguage(io.polyray.runtime.proto.Language.JAVA)
        .setIsDriver(w.isDriver).setTotal(total);
    Address self = w.address;
    ByteString node = w.nodeId;
    b.setAddress(self != null ? self : Address.newBuilder().setWorkerId(w.workerId)
        .setNodeId(node == null ? ByteString.EMPTY : node).build());
    for (ReferenceCounter.RefRow r : rows) {
      io.polyray.runtime.proto.ObjectRefInfo.Builder info = io.polyray.runtime.proto.ObjectRefInfo.newBuilder()
          .setObjectId(r.oid).setOwned(r.owned).setLocalRefs(r.local).setSubmittedTaskRefs(r.submitted)
          .addAllBorrowers(r.borrowers).setContainedIn(r.containedIn).setLent(r.lent).setSize(-1);
      if (!r.owned && r.owner != null) {
        info.setOwner(r.owner);
      }
      MemoryStore.Entry e = w.memoryStore.getIfReady(r.oid);
      if (e == null) {
        info.setStatus(io.polyray.runtime.proto.ObjectRefStatus.OBJECT_PENDING);
        if (!r.inStoreNode.isEmpty()) {
          info.addLocations(r.inStoreNode);
        }
      } else if (e.error != null) {
        info.setStatus(io.polyray.runtime.proto.ObjectRefStatus.OBJECT_FAILED);
      } else {
        info.setStatus(io.polyray.runtime.proto.ObjectRefStatus.OBJECT_READY).setSize(e.size);
        if (e.inStoreNode != null && !e.inStoreNode.isEmpty()) {
          info.addAllLocations(r.owned ? w.locations.of(r.oid, e.inStoreNode)
              : (e.locations.isEmpty() ? List.of(e.inStoreNode) : e.locations));
        }
      }
      b.addObjects(info);
    }
    if (more) {
      b.setNextPageToken(rows.get(rows.size() - 1).oid);
    }
    return b.build();
  }
}
