package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.GetDeadWorkersReply;
import io.polyray.runtime.proto.GetDeadWorkersRequest;
import io.polyray.runtime.proto.ObjectRef;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Local reads' decision (EarlyReads.toReadLocally, OwnerWatch.readsLocally) and the watch of
 * owners' deaths (OwnerWatch) against a fake GCS on a manual clock.
 */
class OwnerWatchTest {
  private final ManualScheduler clock = new ManualScheduler();
  private final List<GetDeadWorkersRequest> asked = new ArrayList<>();
  private final Set<ByteString> gcsDead = new HashSet<>();
  private boolean gcsAway;

  private final OwnerWatch watch = new OwnerWatch(clock, this::ask, 1000, 60_000);

  private void ask(GetDeadWorkersRequest req, long deadlineS, StreamObserver<GetDeadWorkersReply> reply) {
    asked.add(req);
    if (gcsAway) {
      reply.onError(Status.UNAVAILABLE.asRuntimeException());
      return;
    }
    GetDeadWorkersReply.Builder b = GetDeadWorkersReply.newBuilder();
    for (Address a : req.getWorkersList()) {
      if (gcsDead.contains(a.getWorkerId())) {
        b.addDeadWorkerIds(a.getWorkerId());
      }
    }
    reply.onNext(b.build());
    reply.onCompleted();
  }

  private static Address owner(String id) {
    return Address.newBuilder().setWorkerId(ByteString.copyFromUtf8(id)).build();
  }

  private static ObjectRef ref(int i, String owner) {
    ObjectRef.Builder b = ObjectRef.newBuilder().setObjectId(ByteString.copyFrom(new byte[] {(byte) i, 1, 2}));
    if (owner != null) {
      b.setOwner(owner(owner));
    }
    return b.build();
  }

  @Test
  void onlyARegisteredBorrowOfAnOwnerNotKnownDeadIsReadLocally() {
    assertTrue(OwnerWatch.readsLocally(true, false, true, false));
    assertFalse(OwnerWatch.readsLocally(false, false, true, false)); // no owner
    assertFalse(OwnerWatch.readsLocally(true, true, true, false));   // owned here
    assertFalse(OwnerWatch.readsLocally(true, false, false, false)); // borrow not registered
    assertFalse(OwnerWatch.readsLocally(true, false, true, true));   // owner known dead
  }

  @Test
  void theGetsRefsAreSortedIdByIdWithEachIndexOfARefListedTwice() {
    watch.markDead(ByteString.copyFromUtf8("dead"));
    Set<Integer> registered = Set.of(0, 1, 2, 4, 5, 6);
    List<ObjectRef> refs = List.of(ref(0, "a"), ref(1, "dead"), ref(2, "a"), ref(3, "a"), ref(0, "a"),
        ref(4, null), ref(5, "a"), ref(6, "me"));
    Map<ByteString, List<Integer>> at = EarlyReads.toReadLocally(refs, new EarlyReads.Facts() {
      @Override
      public boolean ready(ByteString oid) {
        return oid.byteAt(0) == 5; // already in the memory store
      }

      @Override
      public boolean owned(ByteString oid) {
        return oid.byteAt(0) == 6;
      }

      @Override
      public boolean registered(ByteString oid) {
        return registered.contains((int) oid.byteAt(0));
      }

      @Override
      public boolean ownerDead(ByteString workerId) {
        return watch.isDead(workerId);
      }
    });
    assertEquals(List.of(refs.get(0).getObjectId(), refs.get(2).getObjectId()), new ArrayList<>(at.keySet()));
    assertEquals(List.of(0, 4), at.get(refs.get(0).getObjectId()));
  }

  @Test
  void anOwnerReadLocallyIsWatchedUntilTheGcsSaysItIsDead() {
    watch.note(owner("a"));
    watch.note(owner("b"));
    clock.advanceMs(999);
    assertEquals(0, asked.size(), "the first round waits one interval");
    clock.advanceMs(1);
    assertEquals(1, asked.size());
    assertEquals(2, asked.get(0).getWorkersCount(), "one call names every watched owner");
    assertFalse(watch.isDead(ByteString.copyFromUtf8("a")));
    gcsDead.add(ByteString.copyFromUtf8("a"));
    clock.advanceMs(1000);
    assertTrue(watch.isDead(ByteString.copyFromUtf8("a")), "no grace round: dead at the first answer");
    assertEquals(List.of(ByteString.copyFromUtf8("b")), watch.watched());
    watch.note(owner("a"));
    assertEquals(List.of(ByteString.copyFromUtf8("b")), watch.watched(), "a dead owner is not watched again");
  }

  @Test
  void aGcsAwayChangesNothingAndIdleOwnersStopTheWatch() {
    watch.note(owner("a"));
    gcsAway = true;
    gcsDead.add(ByteString.copyFromUtf8("a"));
    clock.advanceMs(3000);
    assertEquals(3, asked.size(), "asked again every round");
    assertFalse(watch.isDead(ByteString.copyFromUtf8("a")));
    gcsAway = false;
    gcsDead.clear();
    clock.advanceMs(60_000);
    int calls = asked.size();
    clock.advanceMs(5000);
    assertEquals(calls, asked.size(), "an owner not read from for 60 s is no longer watched: no more calls");
    assertTrue(watch.watched().isEmpty());
    watch.note(owner("a")); // a new local read starts the watch again
    clock.advanceMs(1000);
    assertEquals(calls + 1, asked.size());
  }

  @Test
  void anUnavailableCallMarksTheOwnerDeadAndCloseStopsTheWatch() {
    watch.note(owner("a"));
    watch.markDead(ByteString.copyFromUtf8("a"));
    assertTrue(watch.isDead(ByteString.copyFromUtf8("a")));
    assertTrue(watch.watched().isEmpty());
    watch.note(owner("b"));
    watch.close();
    clock.advanceMs(5000);
    assertEquals(0, asked.size());
  }
}
