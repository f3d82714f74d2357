package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ObjectRef;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The owner's side of the reference protocol (docs/ownership.md, "The reference protocol"):
 * lends to a caller hold an object until that caller acknowledges each of them, whatever it
 * registered or removed meanwhile; callers that do not acknowledge are released by their
 * first "added"; acknowledgements go to the owners of received refs.
 */
class ReferenceCounterTest {
  private static final ByteString SELF = id('s');
  private static final ByteString CALLER = id('c');
  private static final ByteString OTHER = id('o');

  private final List<ByteString> freed = new ArrayList<>();
  private final List<String> acks = new ArrayList<>();
  private final ReferenceCounter rc = new ReferenceCounter(new ReferenceCounter.Listener() {
    @Override
    public void free(ByteString oid, ByteString inStoreNode) {
      freed.add(oid);
    }

    @Override
    public void borrowChanged(Address owner, List<ByteString> added, List<ByteString> removed) {}

    @Override
    public void lentReceived(Address owner, List<ByteString> oids, ByteString lender) {
      acks.add(owner.getWorkerId().toStringUtf8().substring(0, 1) + oids.size()
          + (lender.isEmpty() ? "" : lender.toStringUtf8().substring(0, 1)));
    }
  });

  private static ByteString id(char c) {
    return ByteString.copyFromUtf8(String.valueOf(c).repeat(28));
  }

  private ByteString ownedWithLocal(char c) {
    ByteString oid = id(c);
    rc.addOwned(oid);
    rc.addLocal(oid, null);
    return oid;
  }

  @Test
  void twoLendsToARegisteredCallerHoldUntilBothAreAcknowledged() {
    ByteString g = ownedWithLocal('g');
    rc.updateBorrowers(CALLER, List.of(g), List.of()); // the caller already borrows g
    rc.addLent(List.of(g), CALLER);
    rc.addLent(List.of(g), CALLER);
    rc.removeLocal(g);
    rc.updateBorrowers(CALLER, List.of(), List.of(g)); // a stale removal of the earlier borrow
    assertTrue(freed.isEmpty());
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(g));
    assertTrue(freed.isEmpty());
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(g));
    assertEquals(List.of(g), freed);
    assertEquals(0, rc.size());
  }

  @Test
  void aLendFromAnotherExecutorHoldsForTheCallerNamedInIt() {
    ByteString g = ownedWithLocal('g');
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(g), List.of()); // executor's lend
    rc.removeLocal(g);
    assertTrue(freed.isEmpty());
    rc.updateBorrowers(OTHER, List.of(), List.of(), List.of(), List.of(g)); // not OTHER's lend
    assertTrue(freed.isEmpty());
    rc.updateBorrowers(CALLER, List.of(g), List.of()); // the caller's own hold
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(g));
    assertTrue(freed.isEmpty());
    rc.updateBorrowers(CALLER, List.of(), List.of(g));
    assertEquals(List.of(g), freed);
  }

  @Test
  void aCallerThatDoesNotAcknowledgeIsReleasedByItsFirstAdd() {
    ByteString g = ownedWithLocal('g');
    rc.addLent(List.of(g));
    rc.removeLocal(g);
    rc.updateBorrowers(CALLER, List.of(g), List.of());
    assertFalse(freed.contains(g));
    rc.updateBorrowers(CALLER, List.of(), List.of(g));
    assertEquals(List.of(g), freed);
  }

  @Test
  void acknowledgementsGoToEachOwnerAndOwnRefsAreReleasedHere() {
    ByteString mine = ownedWithLocal('m');
    rc.updateBorrowers(SELF, List.of(), List.of(), List.of(mine), List.of()); // lent to this process
    rc.removeLocal(mine);
    assertTrue(freed.isEmpty());
    Address other = Address.newBuilder().setWorkerId(OTHER).build();
    Address self = Address.newBuilder().setWorkerId(SELF).build();
    rc.ackReturned(List.of(
        ObjectRef.newBuilder().setObjectId(mine).setOwner(self).build(),
        ObjectRef.newBuilder().setObjectId(id('x')).setOwner(other).build(),
        ObjectRef.newBuilder().setObjectId(id('y')).setOwner(other).build()), SELF);
    assertEquals(List.of(mine), freed);
    assertEquals(List.of("o2"), acks);
  }

  @Test
  void lendsAreKeptPerLenderAndADeadLendersGoWithIt() {
    ByteString l1 = id('1');
    ByteString l2 = id('2');
    Address a1 = Address.newBuilder().setWorkerId(l1).build();
    Address a2 = Address.newBuilder().setWorkerId(l2).build();
    ByteString g = ownedWithLocal('g');
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(g), List.of(), null, a1, List.of()); // l1 dies
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(g), List.of(), null, a2, List.of()); // the retry
    rc.removeLocal(g);
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(g), null, null, List.of(l2));
    assertTrue(freed.isEmpty(), "l1's lend still holds g");
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(g), null, null, List.of(l2));
    assertTrue(freed.isEmpty(), "a duplicate acknowledgement: nothing of l2's left");
    rc.dropBorrower(l2); // died after its result was acknowledged: nothing to release
    assertTrue(freed.isEmpty());
    rc.dropBorrower(l1);
    assertEquals(List.of(g), freed);
    assertTrue(rc.holders().isEmpty());
  }

  @Test
  void anOwnLendIsAcknowledgedByTheExecutorsName() {
    ByteString g = ownedWithLocal('g');
    rc.addLent(List.of(g), CALLER, Address.newBuilder().setWorkerId(CALLER).build());
    rc.removeLocal(g);
    rc.updateBorrowers(CALLER, List.of(), List.of(), List.of(), List.of(g), null, null, List.of(SELF));
    assertEquals(List.of(g), freed);
    assertTrue(rc.holders().isEmpty());
  }

  @Test
  void acknowledgementsNameTheirLender() {
    Address other = Address.newBuilder().setWorkerId(OTHER).build();
    rc.ackReturned(List.of(ObjectRef.newBuilder().setObjectId(id('x')).setOwner(other).build()), SELF, CALLER);
    assertEquals(List.of("o1c"), acks);
  }

  /** The state API's listing (GetObjectRefs): pages in id order (unsigned bytes), every count copied. */
  @Test
  void listingPagesInIdOrderWithEveryCount() {
    ByteString a = ownedWithLocal('a');
    ByteString c = ownedWithLocal('c');
    ByteString b = ownedWithLocal('b');
    rc.addSubmitted(List.of(b));
    rc.updateBorrowers(OTHER, List.of(c), List.of());
    ByteString node = id('n');
    rc.setInStore(c, node);
    byte[] high = new byte[28];
    java.util.Arrays.fill(high, (byte) 0xff);
    ByteString d = ByteString.copyFrom(high); // borrowed; sorts last as unsigned bytes
    rc.addLocal(d, Address.newBuilder().setWorkerId(CALLER).build());
    List<ReferenceCounter.RefRow> rows = new ArrayList<>();
    assertEquals(4, rc.listing(ByteString.EMPTY, 2, rows));
    assertEquals(List.of(a, b), rows.stream().map(r -> r.oid).toList());
    assertEquals(1, rows.get(1).submitted);
    rows.clear();
    assertEquals(4, rc.listing(b, 10, rows));
    assertEquals(List.of(c, d), rows.stream().map(r -> r.oid).toList());
    assertEquals(List.of(OTHER), rows.get(0).borrowers);
    assertEquals(node, rows.get(0).inStoreNode);
    assertFalse(rows.get(1).owned);
    assertEquals(CALLER, rows.get(1).owner.getWorkerId());
    assertEquals(1, rows.get(1).local);
    rows.clear();
    rc.listing(d, 10, rows);
    assertTrue(rows.isEmpty());
  }
}
