package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.NdArray;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ObjectRef;
import io.polyray.runtime.ref.RefHooks;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * EarlyReads (docs/ownership.md, "Early reads"): which refs of a get are copied early, and
 * which stored values are copied (plain XLANG data only), against a fake store.
 */
class EarlyReadsTest {
  private final Codec codec = new Codec(RefHooks.INSTANCE, 64);

  private static ByteString id(int i) {
    byte[] b = new byte[28];
    b[0] = (byte) i;
    b[27] = 7;
    return ByteString.copyFrom(b);
  }

  private static ObjectRef ref(int i, String owner) {
    ObjectRef.Builder b = ObjectRef.newBuilder().setObjectId(id(i));
    if (owner != null) {
      b.setOwner(Address.newBuilder().setWorkerId(ByteString.copyFromUtf8(owner)));
    }
    return b.build();
  }

  /** A sealed copy of an encoded value, counting its releases. */
  final class FakeHeld implements EarlyReads.Held {
    final ByteBuffer meta;
    final ByteBuffer data;
    int closed;

    FakeHeld(Object value) {
      Encoded enc = codec.encode(value);
      StoreLayout layout = StoreLayout.of(enc);
      meta = ByteBuffer.wrap(layout.metadata());
      data = ByteBuffer.allocate((int) layout.dataSize());
      layout.write(data);
      data.clear();
    }

    @Override
    public ByteBuffer metadata() {
      return meta.duplicate();
    }

    @Override
    public ByteBuffer data() {
      return data.duplicate();
    }

    @Override
    public void close() {
      closed++;
    }
  }

  @Test
  void aGetOfFewerThanEightBorrowedRefsAsksTheOwnersOnly() {
    List<ObjectRef> refs = new ArrayList<>();
    for (int i = 0; i < EarlyReads.MIN_REFS - 1; i++) {
      refs.add(ref(i, "owner"));
    }
    refs.add(ref(0, "owner")); // listed twice: counted once
    refs.add(ref(50, "me"));   // owned here
    refs.add(ref(51, null));   // no owner
    assertEquals(List.of(), EarlyReads.toCopy(refs, oid -> oid.equals(id(50))));
    assertEquals(EarlyReads.Decision.ASK_OWNER, EarlyReads.decide(true, EarlyReads.MIN_REFS - 1));
    assertEquals(EarlyReads.Decision.ASK_OWNER, EarlyReads.decide(false, 100));
  }

  @Test
  void eightDistinctBorrowedRefsAreCopiedEarlyOnceEach() {
    List<ObjectRef> refs = new ArrayList<>();
    for (int i = 0; i < EarlyReads.MIN_REFS; i++) {
      refs.add(ref(i, i % 2 == 0 ? "a" : "b"));
    }
    refs.add(ref(3, "b"));
    refs.add(ref(50, "me"));
    List<ByteString> got = EarlyReads.toCopy(refs, oid -> oid.equals(id(50)));
    assertEquals(EarlyReads.MIN_REFS, got.size());
    assertEquals(id(0), got.get(0));
    assertFalse(got.contains(id(50)));
    assertEquals(EarlyReads.Decision.COPY_EARLY, EarlyReads.decide(true, EarlyReads.MIN_REFS));
  }

  @Test
  void plainValuesAreCopiedAndOthersLeftForTheAnswerEveryPinReleased() {
    Map<String, Object> map = new LinkedHashMap<>();
    map.put("k", new byte[100]);
    map.put("n", null);
    Map<ByteString, FakeHeld> held = new HashMap<>();
    held.put(id(0), new FakeHeld(List.of(new byte[1000], 7L, "s")));
    held.put(id(1), new FakeHeld(map));
    held.put(id(2), new FakeHeld(NdArray.of(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}))); // ext 3
    held.put(id(3), new FakeHeld(List.of(1L, NdArray.of(new double[] {1.5})))); // ext nested
    byte[] big = new byte[5000];
    big[4999] = 9;
    held.put(id(4), new FakeHeld(big));
    List<ByteString> ids = List.of(id(0), id(1), id(2), id(3), id(4), id(5)); // id(5): not here
    List<List<ByteString>> calls = new ArrayList<>();
    Map<ByteString, Object> got = EarlyReads.copy(ids, asked -> {
      calls.add(List.copyOf(asked));
      List<FakeHeld> out = new ArrayList<>();
      for (ByteString oid : asked) {
        out.add(held.get(oid));
      }
      return out;
    }, codec);
    assertEquals(Set.of(id(0), id(1), id(4)), got.keySet());
    List<?> l = (List<?>) got.get(id(0));
    assertEquals(1000, ((byte[]) l.get(0)).length);
    assertEquals(7L, l.get(1));
    assertEquals("s", l.get(2));
    assertEquals(map.keySet(), ((Map<?, ?>) got.get(id(1))).keySet());
    assertArrayEquals(big, (byte[]) got.get(id(4)));
    for (FakeHeld h : held.values()) {
      assertEquals(1, h.closed, "every pin is released once");
    }
    assertEquals(1, calls.size());
  }

  @Test
  void theStoreIsReadInBatchesAndAClosedStoreLeavesTheRestToTheAnswers() {
    List<ByteString> ids = new ArrayList<>();
    for (int i = 0; i < EarlyReads.STORE_READ_BATCH + 3; i++) {
      byte[] b = new byte[28];
      b[0] = (byte) i;
      b[1] = (byte) (i >> 8);
      ids.add(ByteString.copyFrom(b));
    }
    List<Integer> sizes = new ArrayList<>();
    Map<ByteString, Object> got = EarlyReads.copy(ids, asked -> {
      sizes.add(asked.size());
      if (sizes.size() == 2) {
        throw new IllegalStateException("store closed");
      }
      List<FakeHeld> out = new ArrayList<>();
      for (int i = 0; i < asked.size(); i++) {
        out.add(i == 0 ? new FakeHeld(5L) : null);
      }
      return out;
    }, codec);
    assertEquals(List.of(EarlyReads.STORE_READ_BATCH, 3), sizes);
    assertEquals(Map.of(ids.get(0), 5L), got);
  }

  @Test
  void isPlainRejectsExtTruncatedAndTrailingBytes() {
    assertTrue(EarlyReads.isPlain(ByteBuffer.wrap(new byte[] {(byte) 0x92, 0x01, (byte) 0xc0})));
    assertFalse(EarlyReads.isPlain(ByteBuffer.wrap(new byte[] {(byte) 0x91, (byte) 0xd4, 0x01, 0x00})));
    assertFalse(EarlyReads.isPlain(ByteBuffer.wrap(new byte[] {(byte) 0x92, 0x01})));
    assertFalse(EarlyReads.isPlain(ByteBuffer.wrap(new byte[] {0x01, 0x02})));
    assertFalse(EarlyReads.isPlain(ByteBuffer.wrap(new byte[] {(byte) 0xc4, 0x05, 0x01})));
    assertTrue(EarlyReads.isPlain(ByteBuffer.wrap(new byte[] {(byte) 0x81, (byte) 0xa1, 0x6b, (byte) 0xcd, 0x01, 0x02})));
    assertFalse(EarlyReads.isPlain(ByteBuffer.wrap(new byte[] {(byte) 0xc1})));
  }
}
