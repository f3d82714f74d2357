package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ObjectIdTest {
  @Test
  void hexRoundTripAndEquality() {
    byte[] b = new byte[ObjectId.SIZE];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) (i * 37);
    }
    ObjectId id = ObjectId.fromBytes(b);
    String hex = id.toHex();
    assertEquals(56, hex.length());
    assertEquals(hex, hex.toLowerCase());
    assertEquals(id, ObjectId.fromHex(hex));
    assertEquals(id, ObjectId.fromHex(hex.toUpperCase()));
    assertEquals(id.hashCode(), ObjectId.fromHex(hex).hashCode());
    assertArrayEquals(b, id.toBytes());
    assertEquals(hex, id.toString());
  }

  @Test
  void copiesItsBytes() {
    byte[] b = new byte[ObjectId.SIZE];
    ObjectId id = ObjectId.fromBytes(b);
    b[0] = 1;
    assertEquals(0, id.toBytes()[0]);
    id.toBytes()[1] = 5;
    assertEquals(0, id.toBytes()[1]);
    assertNotEquals(id, ObjectId.fromBytes(b));
  }

  @Test
  void wrongLengthNamesExpectedAndActual() {
    InvalidObjectIdException e =
        assertThrows(InvalidObjectIdException.class, () -> ObjectId.fromBytes(new byte[27]));
    assertTrue(e.getMessage().contains("28"), e.getMessage());
    assertTrue(e.getMessage().contains("27"), e.getMessage());
    assertEquals(StoreStatus.ID_LENGTH, e.status());
    e = assertThrows(InvalidObjectIdException.class, () -> ObjectId.fromBytes(new byte[29]));
    assertTrue(e.getMessage().contains("29"), e.getMessage());
    assertThrows(InvalidObjectIdException.class, () -> ObjectId.fromBytes(null));
  }

  @Test
  void badHex() {
    InvalidObjectIdException e =
        assertThrows(InvalidObjectIdException.class, () -> ObjectId.fromHex("abcd"));
    assertTrue(e.getMessage().contains("56 hex digits"), e.getMessage());
    assertTrue(e.getMessage().contains("got 4"), e.getMessage());
    String bad = "zz" + "00".repeat(27);
    e = assertThrows(InvalidObjectIdException.class, () -> ObjectId.fromHex(bad));
    assertTrue(e.getMessage().contains("position 0"), e.getMessage());
    assertThrows(InvalidObjectIdException.class, () -> ObjectId.fromHex(null));
  }
}
