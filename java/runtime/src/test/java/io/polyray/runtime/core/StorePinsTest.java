package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;

/**
 * StorePins with a fake raylet whose PinObjects calls the test answers: a put's own pin is
 * closed only after the answer; ids queued while calls are open go out together, at most
 * maxIds per call and maxInFlight calls; one owner per call; a failed call closes every hold
 * and reports not pinned; putters block (bounded) when too many objects wait.
 */
class StorePinsTest {
  private static final class Call {
    final List<ByteString> ids;
    final Address owner;
    final BiConsumer<List<Boolean>, Throwable> done;

    Call(List<ByteString> ids, Address owner, BiConsumer<List<Boolean>, Throwable> done) {
      this.ids = ids;
      this.owner = owner;
      this.done = done;
    }

    void answer() {
      done.accept(new ArrayList<>(Collections.nCopies(ids.size(), true)), null);
    }

    void fail() {
      done.accept(null, new RuntimeException("raylet gone"));
    }
  }

  private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger closed = new AtomicInteger();

  private StorePins pins(int maxInFlight, int maxIds, int maxUnpinned) {
    return new StorePins((ids, owner, done) -> calls.add(new Call(ids, owner, done)), maxInFlight, maxIds,
        maxUnpinned);
  }

  private AutoCloseable hold() {
    return closed::incrementAndGet;
  }

  private static ByteString id(int i) {
    byte[] b = new byte[28];
    b[0] = (byte) i;
    return ByteString.copyFrom(b);
  }

  private static Address owner(String w) {
    return Address.newBuilder().setWorkerId(ByteString.copyFromUtf8(w)).build();
  }

  @Test
  void putsMadeWhileCallsAreOpenGoOutTogetherAndKeepTheirPinUntilAnswered() {
    StorePins p = pins(1, 3, 100);
    p.add(id(0), hold(), owner("me"), 1000);
    assertEquals(1, calls.size());
    for (int i = 1; i <= 4; i++) {
      p.add(id(i), hold(), owner("me"), 1000);
    }
    assertEquals(1, calls.size(), "a call went out beyond maxInFlight");
    assertEquals(0, closed.get(), "a hold was closed before the raylet answered");
    calls.get(0).answer();
    assertEquals(1, closed.get());
    assertEquals(List.of(id(1), id(2), id(3)), calls.get(1).ids);
    calls.get(1).answer();
    assertEquals(List.of(id(4)), calls.get(2).ids);
    calls.get(2).answer();
    assertEquals(5, closed.get());
    assertEquals(0, p.waiting());
  }

  @Test
  void oneCallCarriesOneOwner() {
    StorePins p = pins(1, 10, 100);
    p.add(id(0), hold(), owner("a"), 1000);
    p.add(id(1), hold(), owner("b"), 1000);
    p.add(id(2), hold(), owner("a"), 1000);
    p.add(id(3), hold(), owner("b"), 1000);
    calls.get(0).answer();
    assertEquals(owner("b"), calls.get(1).owner);
    assertEquals(List.of(id(1), id(3)), calls.get(1).ids);
    calls.get(1).answer();
    assertEquals(List.of(id(2)), calls.get(2).ids);
    calls.get(2).answer();
    assertEquals(4, closed.get());
  }

  @Test
  void aFailedCallClosesEveryHoldAndReportsNotPinned() throws Exception {
    StorePins p = pins(2, 10, 100);
    CompletableFuture<Boolean> a = p.add(id(0), hold(), owner("me"), 1000);
    CompletableFuture<Boolean> b = p.add(id(1), hold(), owner("me"), 1000);
    assertEquals(2, calls.size());
    calls.get(0).fail();
    calls.get(1).answer();
    assertFalse(a.get(1, TimeUnit.SECONDS));
    assertTrue(b.get(1, TimeUnit.SECONDS));
    assertEquals(2, closed.get());
  }

  @Test
  void puttersBlockWhenTooManyObjectsWaitAndFailBounded() throws Exception {
    StorePins p = pins(1, 2, 2);
    p.add(id(0), hold(), owner("me"), 1000);
    p.add(id(1), hold(), owner("me"), 1000);
    assertThrows(IllegalStateException.class, () -> p.add(id(2), hold(), owner("me"), 50));
    assertEquals(1, closed.get(), "the refused object's hold was not closed");
    CompletableFuture<Void> late = CompletableFuture.runAsync(() -> p.add(id(3), hold(), owner("me"), 10_000));
    Thread.sleep(50);
    assertFalse(late.isDone());
    calls.get(0).answer();
    late.get(5, TimeUnit.SECONDS);
    // id 1 and the late id 3 go out in one or two calls (which thread pumps first varies).
    for (int i = 1; i < calls.size(); i++) {
      calls.get(i).answer();
    }
    int sent = 0;
    for (Call c : calls) {
      sent += c.ids.size();
    }
    assertEquals(3, sent);
    assertEquals(4, closed.get());
    assertEquals(0, p.waiting());
  }

  @Test
  void closeClosesWhatIsQueuedAndLaterAdds() throws Exception {
    StorePins p = pins(1, 10, 100);
    p.add(id(0), hold(), owner("me"), 1000);
    CompletableFuture<Boolean> queued = p.add(id(1), hold(), owner("me"), 1000);
    CompletableFuture.runAsync(() -> {
      try {
        Thread.sleep(30);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      calls.get(0).answer();
    });
    p.close(5000);
    assertFalse(queued.get(1, TimeUnit.SECONDS));
    assertEquals(2, closed.get());
    assertFalse(p.add(id(2), hold(), owner("me"), 1000).get(1, TimeUnit.SECONDS));
    assertEquals(3, closed.get());
    assertEquals(1, calls.size(), "a call went out after close");
  }
}
