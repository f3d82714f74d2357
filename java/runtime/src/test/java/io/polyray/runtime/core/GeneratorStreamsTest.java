package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.api.ObjectRef;
import io.polyray.api.ObjectRefGenerator;
import io.polyray.api.exception.GetTimeoutException;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.ref.ObjectRefImpl;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The caller's bookkeeping of generator tasks ({@link GeneratorStreams}) with a fake owner: items
 * are held until taken, in order; the end stops the stream, an error end comes at its place; close
 * releases what is held and discards what comes later; a bad item is discarded; waits are bounded.
 */
class GeneratorStreamsTest {
  /** Counts holds per object and records what was discarded. */
  static final class FakeOwner implements GeneratorStreams.Owner {
    final Map<ByteString, Integer> holds = new HashMap<>();
    final List<ByteString> recorded = new ArrayList<>();
    final List<ByteString> discarded = new ArrayList<>();
    boolean endFailed;

    @Override
    public synchronized void hold(ByteString oid) {
      holds.merge(oid, 1, Integer::sum);
    }

    @Override
    public synchronized void record(ReturnObject item) {
      recorded.add(item.getObjectId());
    }

    @Override
    public synchronized void release(ByteString oid) {
      holds.merge(oid, -1, Integer::sum);
      if (holds.get(oid) == 0) {
        holds.remove(oid);
      }
    }

    @Override
    public synchronized void discard(ReturnObject item) {
      discarded.add(item.getObjectId());
    }

    @Override
    public ObjectRef<?> ref(ByteString oid, Type type) {
      return new ObjectRefImpl<>(io.polyray.runtime.proto.ObjectRef.newBuilder().setObjectId(oid)
          .setOwner(Address.getDefaultInstance()).build(), type);
    }

    @Override
    public boolean failed(ByteString endId) {
      return endFailed;
    }

    synchronized int held() {
      return holds.size();
    }
  }

  private static final ByteString TASK = ByteString.copyFrom(new byte[24]);

  private static ReturnObject item(int k) {
    return ReturnObject.newBuilder().setObjectId(GeneratorStreams.itemId(TASK, k)).build();
  }

  private static ObjectRef<Long> endRef(FakeOwner owner) {
    @SuppressWarnings("unchecked")
    ObjectRef<Long> end = (ObjectRef<Long>) owner.ref(Ids.returnId(TASK, 1), Long.class);
    return end;
  }

  @Test
  void itemsComeInOrderAndTheEndStopsTheStream() {
    FakeOwner owner = new FakeOwner();
    GeneratorStreams s = new GeneratorStreams(owner);
    ObjectRefGenerator<Long> gen = s.generator(s.open(TASK, Long.class), endRef(owner));
    s.onItem(TASK, item(1), 2); // out of order: kept until item 0 is taken
    s.onItem(TASK, item(0), 1);
    assertEquals(2, owner.held());
    assertTrue(gen.hasNext(0));
    ObjectRef<Long> first = gen.next(0);
    assertEquals(GeneratorStreams.itemId(TASK, 0), ByteString.copyFrom(first.getId()));
    assertEquals(Long.class, ((ObjectRefImpl<?>) first).valueType());
    assertEquals(1, owner.held(), "a taken item is its ref's, not the stream's");
    assertEquals(GeneratorStreams.itemId(TASK, 1), ByteString.copyFrom(gen.next(0).getId()));
    assertEquals(0, owner.held());
    assertThrows(GetTimeoutException.class, () -> gen.next(0), "no item 2 and no end yet: bounded");
  }

  @Test
  void aRetrysRepeatedItemsAreDiscardedAndEveryItemComesOnceInOrder() {
    FakeOwner owner = new FakeOwner();
    GeneratorStreams s = new GeneratorStreams(owner);
    ObjectRefGenerator<Long> gen = s.generator(s.open(TASK, Long.class), endRef(owner));
    s.onItem(TASK, item(0), 1);
    s.onItem(TASK, item(1), 2);
    assertEquals(GeneratorStreams.itemId(TASK, 0), ByteString.copyFrom(gen.next(0).getId()));
    // The worker died; the retry yields 0 (taken), 1 (held), then 2 (new).
    s.onItem(TASK, item(0), 1);
    s.onItem(TASK, item(1), 2);
    s.onItem(TASK, item(2), 3);
    assertEquals(List.of(GeneratorStreams.itemId(TASK, 0), GeneratorStreams.itemId(TASK, 1)), owner.discarded);
    assertEquals(3, owner.recorded.size(), "each item recorded once");
    assertEquals(GeneratorStreams.itemId(TASK, 1), ByteString.copyFrom(gen.next(0).getId()));
    assertEquals(GeneratorStreams.itemId(TASK, 2), ByteString.copyFrom(gen.next(0).getId()));
    assertEquals(0, owner.held());
    assertThrows(GetTimeoutException.class, () -> gen.next(0), "no repeat comes out again");
  }

  @Test
  void theEndAfterTheLastItemEndsIterationAndLeavesTheTable() {
    FakeOwner owner = new FakeOwner();
    GeneratorStreams s = new GeneratorStreams(owner);
    ObjectRefGenerator<Long> gen = s.generator(s.open(TASK, null), endRef(owner));
    s.onItem(TASK, item(0), 1);
    assertThrows(GetTimeoutException.class, () -> {
      gen.next(0);
      gen.next(0); // nothing more yet and no end: bounded
    });
    s.onEnd(TASK);
    assertEquals(0, s.openCount());
    assertFalse(gen.hasNext());
    assertThrows(NoSuchElementException.class, gen::next);
    assertEquals(0, owner.held());
  }

  @Test
  void aFailedGeneratorsErrorComesAtItsPlace() {
    FakeOwner owner = new FakeOwner();
    GeneratorStreams s = new GeneratorStreams(owner);
    ObjectRef<Long> end = endRef(owner);
    ObjectRefGenerator<Long> gen = s.generator(s.open(TASK, null), end);
    s.onItem(TASK, item(0), 1);
    owner.endFailed = true;
    s.onEnd(TASK);
    assertTrue(gen.hasNext());
    gen.next();
    assertTrue(gen.hasNext(), "the error is one more ref, after the items");
    assertSame(end, gen.next());
    assertFalse(gen.hasNext());
  }

  @Test
  void closeReleasesWhatIsHeldAndDiscardsWhatComesLater() {
    FakeOwner owner = new FakeOwner();
    GeneratorStreams s = new GeneratorStreams(owner);
    ObjectRefGenerator<Long> gen = s.generator(s.open(TASK, null), endRef(owner));
    s.onItem(TASK, item(0), 1);
    s.onItem(TASK, item(1), 2);
    gen.next(0);
    gen.close();
    assertEquals(0, owner.held(), "item 1 was released; item 0 is its ref's");
    assertEquals(0, s.openCount());
    s.onItem(TASK, item(2), 3);
    assertEquals(List.of(GeneratorStreams.itemId(TASK, 2)), owner.discarded);
    assertFalse(gen.hasNext(0));
    gen.close(); // twice is fine
    s.onEnd(TASK); // after close: nothing to do
  }

  @Test
  void anItemWithAWrongIdOrForNoStreamIsDiscarded() {
    FakeOwner owner = new FakeOwner();
    GeneratorStreams s = new GeneratorStreams(owner);
    s.onItem(TASK, item(0), 1); // no stream open
    s.open(TASK, null);
    s.onItem(TASK, item(3), 1); // id of item 3 reported as item 1
    s.onItem(TASK, item(0), 0); // positions are 1-based
    assertEquals(3, owner.discarded.size());
    assertEquals(0, owner.held());
    s.onItem(TASK, item(0), 1);
    s.onItem(TASK, item(0), 1); // a duplicate
    assertEquals(1, owner.held());
    assertEquals(4, owner.discarded.size());
  }

  @Test
  void aWaitingConsumerWakesForAnItemFromAnotherThread() throws Exception {
    FakeOwner owner = new FakeOwner();
    GeneratorStreams s = new GeneratorStreams(owner);
    ObjectRefGenerator<Long> gen = s.generator(s.open(TASK, null), endRef(owner));
    CompletableFuture<ObjectRef<Long>> got = CompletableFuture.supplyAsync(() -> gen.next(30_000));
    Thread.sleep(50);
    assertFalse(got.isDone());
    s.onItem(TASK, item(0), 1);
    assertEquals(GeneratorStreams.itemId(TASK, 0), ByteString.copyFrom(got.get(10, TimeUnit.SECONDS).getId()));
  }

  @Test
  void itemsDoNotCountAsResultsOutstandingOnAPushConnection() {
    io.polyray.runtime.proto.TaskResult it = io.polyray.runtime.proto.TaskResult.newBuilder().setTaskId(TASK)
        .addReturns(item(0)).setGeneratorItem(1).build();
    io.polyray.runtime.proto.TaskResult end = io.polyray.runtime.proto.TaskResult.newBuilder().setTaskId(TASK).build();
    io.polyray.runtime.proto.PushTasksReply reply = io.polyray.runtime.proto.PushTasksReply.newBuilder()
        .addResults(it).addResults(it).addResults(end).build();
    assertEquals(1, PushPortClient.ended(reply), "only the end finishes the task the caller pushed");
  }

  @Test
  void severalReturnsAreRefusedAtTheCallAnyCalleeStreams() {
    io.polyray.api.spi.CallOptions o = new io.polyray.api.spi.CallOptions();
    TaskSubmission.checkGenerator(0, o, "Plus1"); // not a generator call
    TaskSubmission.checkGenerator(2, o, "m.gen");
    TaskSubmission.checkGenerator(2, o, "CountUp"); // a C++ callee streams too (issue 19)
    o.setNumReturns(2);
    TaskSubmission.checkGenerator(0, o, "Plus1"); // several returns of a plain call
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TaskSubmission.checkGenerator(2, o, "a.B.gen"));
    assertTrue(e.getMessage().contains("numReturns=2") && e.getMessage().contains("a.B.gen"), e.getMessage());
  }

  /** For the item type: an element type of a sequence. */
  static Iterator<Long> longs() {
    return null;
  }

  static Stream<List<String>> lists() {
    return null;
  }

  @Test
  void theItemTypeIsTheSequencesElementType() throws Exception {
    assertEquals(Long.class,
        GeneratorStreams.itemType(getClass().getDeclaredMethod("longs").getGenericReturnType()));
    assertEquals("java.util.List<java.lang.String>",
        GeneratorStreams.itemType(getClass().getDeclaredMethod("lists").getGenericReturnType()).getTypeName());
    assertEquals(Double.class, GeneratorStreams.itemType(Double.class), "a PyFunction's returnType is the item's");
    assertNull(GeneratorStreams.itemType(Iterator.class));
    assertNull(GeneratorStreams.itemType(null));
  }
}
