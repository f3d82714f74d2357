package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The BorrowTracker's order rule alone ({@link BorrowTracker.Queue}, docs/ownership.md, "The
 * reference protocol"): a removal waits until every earlier hold, to any owner, was answered;
 * one call per (owner, borrower) at a time, in decision order; lends go apart, keyed by the
 * caller they are made for.
 */
class BorrowQueueTest {
  private static ByteString id(String s) {
    return ByteString.copyFromUtf8(s);
  }

  @Test
  void aRemovalWaitsForAnEarlierAddToAnotherOwner() {
    BorrowTracker.Queue q = new BorrowTracker.Queue();
    BorrowTracker.Key inner = new BorrowTracker.Key(id("inner"), ByteString.EMPTY);
    BorrowTracker.Key outer = new BorrowTracker.Key(id("outer"), ByteString.EMPTY);
    q.decide(inner, List.of(id("g")), List.of(), List.of(), List.of()); // found inside the outer value
    q.decide(outer, List.of(), List.of(), List.of(id("o")), List.of()); // then the outer ref is dropped
    List<Long> addSeqs = new ArrayList<>();
    List<Long> rmSeqs = new ArrayList<>();
    assertNull(q.take(outer, rmSeqs));
    UpdateBorrowsRequest.Builder add = q.take(inner, addSeqs);
    assertNotNull(add);
    assertEquals(List.of(id("g")), add.getAddedList());
    assertNull(q.take(outer, rmSeqs)); // sent, not answered yet
    q.answered(inner, addSeqs);
    UpdateBorrowsRequest.Builder rm = q.take(outer, rmSeqs);
    assertNotNull(rm);
    assertEquals(List.of(id("o")), rm.getRemovedList());
    q.answered(outer, rmSeqs);
    assertTrue(q.idle());
  }

  @Test
  void acknowledgementsCarryTheirLenders() {
    BorrowTracker.Queue q = new BorrowTracker.Queue();
    BorrowTracker.Key own = new BorrowTracker.Key(id("owner"), ByteString.EMPTY);
    q.decide(own, List.of(), List.of(), List.of(), List.of(id("a")), id("lender1"));
    q.decide(own, List.of(), List.of(), List.of(id("r")), List.of(id("b")), id("lender2"));
    UpdateBorrowsRequest.Builder b = q.take(own, new ArrayList<>());
    assertNotNull(b);
    assertEquals(List.of(id("a"), id("b")), b.getLentReceivedList());
    assertEquals(List.of(id("lender1"), id("lender2")), b.getLentReceivedLendersList());
    assertEquals(List.of(id("r")), b.getRemovedList());
  }

  @Test
  void oneCallPerKeyInOrderAndLendsApart() {
    BorrowTracker.Queue q = new BorrowTracker.Queue();
    BorrowTracker.Key own = new BorrowTracker.Key(id("owner"), ByteString.EMPTY);
    BorrowTracker.Key lend = new BorrowTracker.Key(id("owner"), id("caller"));
    q.decide(lend, List.of(), List.of(id("g")), List.of(), List.of()); // a return's ref, for the caller
    q.decide(own, List.of(), List.of(), List.of(id("g")), List.of()); // the executor's own hold ends
    q.decide(own, List.of(id("h")), List.of(), List.of(), List.of()); // later: waits behind the removal
    List<Long> sa = new ArrayList<>();
    List<Long> sb = new ArrayList<>();
    List<Long> sc = new ArrayList<>();
    assertNull(q.take(own, sb)); // the removal waits for the lend
    UpdateBorrowsRequest.Builder a = q.take(lend, sa);
    assertEquals(List.of(id("g")), a.getLentList());
    q.answered(lend, sa);
    UpdateBorrowsRequest.Builder b = q.take(own, sb);
    assertEquals(List.of(id("g")), b.getRemovedList());
    assertTrue(b.getAddedList().isEmpty());
    assertNull(q.take(own, sc)); // one call per key
    q.answered(own, sb);
    UpdateBorrowsRequest.Builder c = q.take(own, sc);
    assertEquals(List.of(id("h")), c.getAddedList());
    q.answered(own, sc);
    assertTrue(q.idle());
  }

  @Test
  void nothingDecidedLeavesItIdle() {
    BorrowTracker.Queue q = new BorrowTracker.Queue();
    q.decide(new BorrowTracker.Key(id("owner"), ByteString.EMPTY), List.of(), List.of(), List.of(), List.of());
    assertTrue(q.idle());
    assertTrue(q.waiting().isEmpty());
  }
}
