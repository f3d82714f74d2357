package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.GetDeadWorkersReply;
import io.polyray.runtime.proto.GetDeadWorkersRequest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A dead borrower's borrows and the lends made to it are released ({@link
 * ReferenceCounter#dropBorrower}, {@link ReferenceCounter#holders}, {@link BorrowerWatch};
 * docs/ownership.md, "The reference protocol", Deaths): the same cases as Python's
 * tests/core/unit/test_borrower_death.py and C++'s core_borrower_watch_test, with a manual
 * clock and a fake GCS that answers GetDeadWorkers from a set.
 */
class BorrowerWatchTest {
  private static final ByteString SELF = id('s');
  private static final ByteString DEAD = id('d');
  private static final ByteString ALIVE = id('a');
  private static final ByteString CALLER = id('c');

  private final ManualScheduler clock = new ManualScheduler();
  private final List<ByteString> freed = new ArrayList<>();
  private final Set<ByteString> dead = new HashSet<>();
  private final List<List<ByteString>> asked = new ArrayList<>();
  private boolean gcsAway;
  private BorrowerWatch watch;
  private final ReferenceCounter rc = new ReferenceCounter(new ReferenceCounter.Listener() {
    @Override
    public void free(ByteString oid, ByteString inStoreNode) {
      freed.add(oid);
    }

    @Override
    public void borrowChanged(Address owner, List<ByteString> added, List<ByteString> removed) {}

    @Override
    public void firstHolder() {
      watch.start();
    }
  });

  BorrowerWatchTest() {
    watch = new BorrowerWatch(rc, clock, this::answer, SELF, 1000);
  }

  /** The fake GCS: answers at once (on the test's thread, as the io thread would). */
  private void answer(GetDeadWorkersRequest request, long deadlineS, StreamObserver<GetDeadWorkersReply> reply) {
    List<ByteString> ids = new ArrayList<>();
    request.getWorkersList().forEach(a -> ids.add(a.getWorkerId()));
    asked.add(ids);
    if (gcsAway) {
      reply.onError(Status.UNAVAILABLE.asRuntimeException());
      return;
    }
    GetDeadWorkersReply.Builder b = GetDeadWorkersReply.newBuilder();
    ids.stream().filter(dead::contains).forEach(b::addDeadWorkerIds);
    reply.onNext(b.build());
    reply.onCompleted();
  }

  private static ByteString id(char c) {
    return ByteString.copyFromUtf8(String.valueOf(c).repeat(28));
  }

  private static Address addr(ByteString worker) {
    return Address.newBuilder().setWorkerId(worker).setNodeId(id('N')).build();
  }

  @Test
  void counterTracksHoldersOfBorrowsAndLends() {
    ByteString x = id('x');
    rc.addOwned(x);
    rc.addLocal(x, null);
    rc.updateBorrowers(DEAD, List.of(x), List.of(), List.of(), List.of(), addr(DEAD));
    rc.addLent(List.of(x), CALLER, addr(CALLER));
    assertEquals(2, rc.holders().size());
    rc.updateBorrowers(DEAD, List.of(), List.of(x));
    rc.updateBorrowers(DEAD, List.of(), List.of(x)); // a stale removal changes nothing
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(x));
    assertTrue(rc.holders().isEmpty());
    assertTrue(freed.isEmpty(), "the local ref still holds it");
  }

  @Test
  void deadBorrowerAndDeadCallerReleasedLiveBorrowerKept() {
    ByteString onlyDead = id('1');
    ByteString shared = id('2');
    ByteString lent = id('3');
    for (ByteString oid : List.of(onlyDead, shared, lent)) {
      rc.addOwned(oid);
    }
    rc.updateBorrowers(DEAD, List.of(onlyDead, shared), List.of(), List.of(), List.of(), addr(DEAD));
    rc.updateBorrowers(ALIVE, List.of(shared), List.of(), List.of(), List.of(), addr(ALIVE));
    rc.updateBorrowers(DEAD, List.of(), List.of(), List.of(lent), List.of(), addr(DEAD)); // a return in flight
    clock.advanceMs(1000);
    assertEquals(1, asked.size());
    assertEquals(Set.of(DEAD, ALIVE), new HashSet<>(asked.get(0)));
    assertTrue(freed.isEmpty());
    dead.add(DEAD);
    clock.advanceMs(1000);
    assertTrue(freed.isEmpty(), "dead in one round: a grace of one more for updates in flight");
    clock.advanceMs(1000);
    assertEquals(Set.of(onlyDead, lent), new HashSet<>(freed), "the live borrower keeps 'shared'");
    assertEquals(List.of(ALIVE), rc.holders().stream().map(Address::getWorkerId).toList());
    rc.updateBorrowers(ALIVE, List.of(), List.of(shared));
    assertEquals(3, freed.size());
    int calls = asked.size();
    clock.advanceMs(5000);
    assertEquals(calls, asked.size(), "no holders: no calls");
    // A late update of the dead one wakes the watch again; it is dropped again.
    ByteString again = id('4');
    rc.addOwned(again);
    rc.updateBorrowers(DEAD, List.of(again), List.of(), List.of(), List.of(), addr(DEAD));
    clock.advanceMs(2000);
    assertTrue(freed.contains(again));
  }

  @Test
  void gcsAwayKeepsEverythingAndAsksAgain() {
    ByteString x = id('x');
    rc.addOwned(x);
    rc.updateBorrowers(DEAD, List.of(x), List.of(), List.of(), List.of(), addr(DEAD));
    dead.add(DEAD);
    gcsAway = true;
    clock.advanceMs(3000);
    assertEquals(3, asked.size());
    assertTrue(freed.isEmpty());
    gcsAway = false;
    clock.advanceMs(2000);
    assertEquals(List.of(x), freed);
  }

  @Test
  void aDeadLendersUnacknowledgedLendsAreReleasedAfterTheGrace() {
    // Two executors lend x to a live caller; the caller acknowledges the one whose result it
    // got, naming its lender; the other died before its result left: its lend goes with it.
    ByteString x = id('x');
    rc.addOwned(x);
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(x), List.of(), addr(CALLER), addr(DEAD), List.of());
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(x), List.of(), addr(CALLER), addr(ALIVE), List.of());
    assertEquals(3, rc.holders().size(), "the caller and both lenders are watched");
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(x), null, null, List.of(ALIVE));
    assertEquals(2, rc.holders().size(), "the acknowledged lender is no longer watched");
    clock.advanceMs(1000);
    dead.add(DEAD);
    clock.advanceMs(1000);
    assertTrue(freed.isEmpty(), "dead in one round: a grace of one more for an acknowledgement in flight");
    clock.advanceMs(1000);
    assertEquals(List.of(x), freed);
    assertTrue(rc.holders().isEmpty());
  }

  @Test
  void aLendNamingNoLenderIsKeptWhenAnExecutorDies() {
    ByteString x = id('x');
    rc.addOwned(x);
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(x), List.of(), addr(CALLER)); // an older executor
    rc.updateBorrowers(DEAD, List.of(x), List.of(), List.of(), List.of(), addr(DEAD));
    rc.updateBorrowers(DEAD, List.of(), List.of(x));
    dead.add(DEAD);
    clock.advanceMs(4000);
    assertTrue(freed.isEmpty());
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(x), null, null, List.of(DEAD));
    assertEquals(List.of(x), freed);
  }

  @Test
  void ownLendsAreNotAskedAbout() {
    ByteString x = id('x');
    rc.addOwned(x);
    rc.addLocal(x, null);
    rc.addLent(List.of(x), SELF, addr(SELF));
    clock.advanceMs(2000);
    assertTrue(asked.isEmpty());
  }
}
