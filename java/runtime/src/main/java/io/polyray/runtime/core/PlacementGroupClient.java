package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.polyray.api.ObjectRef;
import io.polyray.api.exception.PolyRayException;
import io.polyray.api.placement.PlacementGroup;
import io.polyray.api.placement.PlacementStrategy;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.CreatePlacementGroupRequest;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.GcsServiceGrpc;
import io.polyray.runtime.proto.GetPlacementGroupReply;
import io.polyray.runtime.proto.GetPlacementGroupRequest;
import io.polyray.runtime.proto.ListPlacementGroupsReply;
import io.polyray.runtime.proto.ListPlacementGroupsRequest;
import io.polyray.runtime.proto.PlacementGroupInfo;
import io.polyray.runtime.proto.PlacementGroupState;
import io.polyray.runtime.proto.RemovePlacementGroupRequest;
import io.polyray.runtime.proto.ResourceMap;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Placement groups from Java through the GCS (as python/polyray/util/placement_group.py):
 * CreatePlacementGroup, RemovePlacementGroup, GetPlacementGroup with
 * {@code wait_until_created} (long polls of at most {@link #POLL_MS}: the GCS answers
 * when the group leaves PENDING or just before the deadline), ListPlacementGroups for a
 * look-up by name.
 */
final class PlacementGroupClient {
  /** Each long poll of the GCS for a group's creation lasts at most this long. */
  static final long POLL_MS = 20_000;

  private final CoreWorker w;

  PlacementGroupClient(CoreWorker w) {
    this.w = w;
  }

  private GcsServiceGrpc.GcsServiceBlockingStub gcs(long deadlineMs) {
    return GcsServiceGrpc.newBlockingStub(w.channels.get(w.gcsAddress)).withDeadlineAfter(deadlineMs,
        TimeUnit.MILLISECONDS);
  }

  private PolyRayException failed(String what, StatusRuntimeException e) {
    return new PolyRayException("the GCS at " + w.gcsAddress + " did not " + what + ": " + e.getStatus().getCode()
        + ": " + e.getStatus().getDescription(), e);
  }

  PlacementGroup create(List<Map<String, Double>> bundles, PlacementStrategy strategy, String name) {
    ByteString id = Ids.placementGroupId(w.jobId);
    PlacementGroupInfo.Builder info = PlacementGroupInfo.newBuilder().setPlacementGroupId(id)
        .setStrategy(io.polyray.runtime.proto.PlacementStrategy.valueOf(strategy.name())).setName(name)
        .setJobId(w.jobId);
    for (Map<String, Double> b : bundles) {
      info.addBundles(ResourceMap.newBuilder().putAllAmounts(b));
    }
    try {
      gcs(RuntimeSpec.RPC_TIMEOUT_S * 1000L).createPlacementGroup(CreatePlacementGroupRequest.newBuilder()
          .setGroup(info).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT
          || e.getStatus().getCode() == Status.Code.ALREADY_EXISTS) {
        throw new IllegalArgumentException(e.getStatus().getDescription(), e);
      }
      throw failed("create placement group " + Hex.of(id.toByteArray()), e);
    }
    return new PlacementGroup(Hex.of(id.toByteArray()), name, strategy, bundles);
  }

  void remove(PlacementGroup pg) {
    try {
      gcs(RuntimeSpec.RPC_TIMEOUT_S * 1000L).removePlacementGroup(RemovePlacementGroupRequest.newBuilder()
          .setPlacementGroupId(id(pg)).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        throw new IllegalArgumentException("no placement group " + pg.getId(), e);
      }
      throw failed("remove placement group " + pg.getId(), e);
    }
  }

  Optional<PlacementGroup> get(String name) {
    ListPlacementGroupsRequest.Builder req = ListPlacementGroupsRequest.newBuilder();
    while (true) {
      ListPlacementGroupsReply page;
      try {
        page = gcs(RuntimeSpec.RPC_TIMEOUT_S * 1000L).listPlacementGroups(req.build());
      } catch (StatusRuntimeException e) {
        throw failed("list placement groups", e);
      }
      for (PlacementGroupInfo g : page.getGroupsList()) {
        if (g.getName().equals(name) && g.getState() != PlacementGroupState.PG_REMOVED) {
          return Optional.of(handle(g));
        }
      }
      if (page.getNextPageToken().isEmpty()) {
        return Optional.empty();
      }
      req.setPageToken(page.getNextPageToken());
    }
  }

  static PlacementGroup handle(PlacementGroupInfo g) {
    List<Map<String, Double>> bundles = new ArrayList<>();
    for (ResourceMap b : g.getBundlesList()) {
      bundles.add(b.getAmountsMap());
    }
    return new PlacementGroup(Hex.of(g.getPlacementGroupId().toByteArray()), g.getName(),
        PlacementStrategy.valueOf(g.getStrategy().name()), bundles);
  }

  private static ByteString id(PlacementGroup pg) {
    return ByteString.copyFrom(Hex.parse(pg.getId()));
  }

  /** Waits up to timeoutMs; true once CREATED. */
  boolean waitCreated(PlacementGroup pg, long timeoutMs) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(0, timeoutMs));
    while (true) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      long poll = Math.max(500, Math.min(left, POLL_MS));
      GetPlacementGroupReply reply = null;
      try {
        // The GCS answers just before this deadline while the group is pending.
        reply = gcs(poll).getPlacementGroup(GetPlacementGroupRequest.newBuilder().setPlacementGroupId(id(pg))
            .setWaitUntilCreated(left > 0).build());
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
          throw new IllegalArgumentException("no placement group " + pg.getId(), e);
        }
        if (e.getStatus().getCode() != Status.Code.DEADLINE_EXCEEDED) {
          throw failed("answer GetPlacementGroup(" + pg.getId() + ")", e);
        }
      }
      if (reply != null && reply.getGroup().getState() != PlacementGroupState.PG_PENDING) {
        return reply.getGroup().getState() == PlacementGroupState.PG_CREATED;
      }
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
    }
  }

  /** A ref set to true once the group is created (an error if it is removed first). */
  ObjectRef<Boolean> ready(PlacementGroup pg) {
    ByteString oid = w.nextPutId();
    w.references.addOwned(oid);
    ObjectRef<Boolean> ref = w.ownedRef(oid, Boolean.class);
    w.onIo(() -> poll(pg, oid));
    return ref;
  }

  private void poll(PlacementGroup pg, ByteString oid) {
    if (w.shuttingDown) {
      return;
    }
    GcsServiceGrpc.newStub(w.channels.get(w.gcsAddress)).withDeadlineAfter(POLL_MS + 5_000, TimeUnit.MILLISECONDS)
        .getPlacementGroup(GetPlacementGroupRequest.newBuilder().setPlacementGroupId(id(pg)).setWaitUntilCreated(true)
            .build(), new StreamObserver<GetPlacementGroupReply>() {
              private GetPlacementGroupReply reply;

              @Override
              public void onNext(GetPlacementGroupReply value) {
                reply = value;
              }

              @Override
              public void onError(Throwable t) {
                Status s = Status.fromThrowable(t);
                if (s.getCode() == Status.Code.DEADLINE_EXCEEDED) {
                  w.onIo(() -> poll(pg, oid));
                  return;
                }
                fail(oid, "cannot learn the state of placement group " + pg.getId() + ": " + s.getCode() + " "
                    + s.getDescription());
              }

              @Override
              public void onCompleted() {
                PlacementGroupState state = reply == null ? PlacementGroupState.PG_PENDING : reply.getGroup().getState();
                if (state == PlacementGroupState.PG_CREATED) {
                  Encoded enc = w.codec.encode(Boolean.TRUE, "placement group readiness");
                  w.memoryStore.set(oid, MemoryStore.Entry.value(enc.toEnvelope(), enc.size(), List.of()));
                } else if (state == PlacementGroupState.PG_REMOVED) {
                  fail(oid, "placement group " + pg.getId() + " was removed before it was created");
                } else {
                  w.onIo(() -> poll(pg, oid));
                }
              }
            });
  }

  private void fail(ByteString oid, String message) {
    w.memoryStore.set(oid, MemoryStore.Entry.error(ErrorRecords.system(ErrorKind.RUNTIME_ERROR, message)));
  }
}
