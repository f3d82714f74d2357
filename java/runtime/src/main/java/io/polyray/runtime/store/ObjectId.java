package io.polyray.runtime.store;

import io.polyray.runtime.ids.Ids;
import java.util.Arrays;

/**
 * The id of an object in the shared store: exactly {@link #SIZE} raw bytes
 * (the protocol's ObjectID), shown as lowercase hex.
 *
 * <p>Immutable: it copies its bytes in and out, so an id used as a map key
 * or shared between threads can never change under its holder.
 */
public final class ObjectId {
  /** Length of every object id, in bytes ({@code PRS_OBJECT_ID_SIZE}). */
  public static final int SIZE = Ids.OBJECT_BYTES;

  private final byte[] bytes;
  private final int hash;

  private ObjectId(byte[] bytes) {
    this.bytes = bytes;
    this.hash = Arrays.hashCode(bytes);
  }

  /**
   * The id with these bytes (copied).
   *
   * @throws InvalidObjectIdException if {@code bytes} is null or not {@link #SIZE} long
   */
  public static ObjectId fromBytes(byte[] bytes) {
    if (bytes == null) {
      throw StoreException.fail(StoreStatus.ID_LENGTH, null, "object id bytes are null");
    }
    if (bytes.length != SIZE) {
      throw StoreException.fail(
          StoreStatus.ID_LENGTH,
          null,
          "an object id is " + SIZE + " bytes, got " + bytes.length + " bytes");
    }
    return new ObjectId(bytes.clone());
  }

  /**
   * The id written as {@code 2 * SIZE} hex digits (either case).
   *
   * @throws InvalidObjectIdException if the text is null, of the wrong length, or not hex
   */
  public static ObjectId fromHex(String hex) {
    if (hex == null) {
      throw StoreException.fail(StoreStatus.ID_LENGTH, null, "object id hex is null");
    }
    if (hex.length() != 2 * SIZE) {
      throw StoreException.fail(
          StoreStatus.ID_LENGTH,
          null,
          "an object id is " + (2 * SIZE) + " hex digits (" + SIZE + " bytes), got "
              + hex.length() + " characters: \"" + abbreviate(hex) + "\"");
    }
    byte[] out;
    try {
      out = Ids.parseHex(hex);
    } catch (IllegalArgumentException e) {
      throw StoreException.fail(StoreStatus.ID_LENGTH, null, e.getMessage());
    }
    return new ObjectId(out);
  }

  /** A copy of the raw bytes. */
  public byte[] toBytes() {
    return bytes.clone();
  }

  /** The bytes without a copy, for the binding's native calls only. */
  byte[] rawBytes() {
    return bytes;
  }

  /** Lowercase hex, {@code 2 * SIZE} characters. */
  public String toHex() {
    return Ids.hex(bytes);
  }

  /** Ids are equal when their bytes are. */
  @Override
  public boolean equals(Object o) {
    return o instanceof ObjectId && Arrays.equals(bytes, ((ObjectId) o).bytes);
  }

  /** Consistent with {@link #equals}. */
  @Override
  public int hashCode() {
    return hash;
  }

  /** The hex form, as the C library's messages show ids. */
  @Override
  public String toString() {
    return toHex();
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}
