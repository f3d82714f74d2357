package io.polyray.runtime.ids;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.store.ObjectId;
import org.junit.jupiter.api.Test;

/** The one ID module: sizes, new IDs, derivation of object IDs from task IDs, hex. */
class IdsTest {
  private static final ByteString JOB = ByteString.copyFrom(new byte[] {1, 0, 0, 0});

  @Test
  void sizesAreTheProtocolsAndNewIdsEndWithTheJob() {
    assertEquals(4, Ids.JOB_BYTES);
    assertEquals(24, Ids.TASK_BYTES);
    assertEquals(28, Ids.OBJECT_BYTES);
    ByteString task = Ids.taskId(JOB);
    ByteString actor = Ids.actorId(JOB);
    ByteString pg = Ids.placementGroupId(JOB);
    assertEquals(Ids.TASK_BYTES, task.size());
    assertEquals(Ids.ACTOR_BYTES, actor.size());
    assertEquals(Ids.PLACEMENT_GROUP_BYTES, pg.size());
    assertEquals(Ids.WORKER_BYTES, Ids.workerId().size());
    assertTrue(task.endsWith(JOB) && actor.endsWith(JOB) && pg.endsWith(JOB));
    assertNotEquals(Ids.taskId(JOB), task); // random unique part
    assertEquals(ObjectId.SIZE, Ids.OBJECT_BYTES);
  }

  @Test
  void returnAndPutIdsAreTaskIdThenLittleEndianIndex() {
    ByteString task = Ids.taskId(JOB);
    ByteString r2 = Ids.returnId(task, 2);
    assertEquals(Ids.OBJECT_BYTES, r2.size());
    assertEquals(task, Ids.taskOf(r2));
    assertArrayEquals(new byte[] {2, 0, 0, 0}, r2.substring(Ids.TASK_BYTES).toByteArray());
    ByteString put = Ids.putId(task, 0x0102);
    assertArrayEquals(new byte[] {2, 1, 0, (byte) 0x80}, put.substring(Ids.TASK_BYTES).toByteArray());
    assertEquals(task, Ids.taskOf(put));
  }

  @Test
  void hexRoundTripsAndRefusesGarbage() {
    byte[] b = {0, 1, (byte) 0xab, (byte) 0xff};
    assertEquals("0001abff", Ids.hex(b));
    assertEquals("0001abff", Ids.hex(ByteString.copyFrom(b)));
    assertArrayEquals(b, Ids.parseHex("0001ABff"));
    assertThrows(IllegalArgumentException.class, () -> Ids.parseHex("abc"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ids.parseHex("00zz"));
    assertTrue(e.getMessage().contains("position 2"), e.getMessage());
    ByteString oid = Ids.returnId(Ids.taskId(JOB), 1);
    ObjectId id = ObjectId.fromHex(Ids.hex(oid));
    assertArrayEquals(oid.toByteArray(), id.toBytes());
    assertEquals(Ids.hex(oid), id.toHex());
  }
}
