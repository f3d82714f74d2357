package io.polyray.runtime.codec;

import java.util.Arrays;

/**
 * A msgpack extension value of a type polyray does not define (codes other than 1-4):
 * kept as received and re-encoded unchanged, so newer peers' values pass through.
 */
public final class ExtValue {
  private final int type;
  private final byte[] data;

  /**
   * An extension value.
   *
   * @param type the ext type code (-128..127)
   * @param data the payload (copied)
   */
  public ExtValue(int type, byte[] data) {
    if (type < -128 || type > 127) {
      throw new IllegalArgumentException("msgpack ext type must be in -128..127, got " + type);
    }
    this.type = type;
    this.data = data.clone();
  }

  /**
   * The ext type code.
   *
   * @return -128..127
   */
  public int type() {
    return type;
  }

  /**
   * The payload.
   *
   * @return a copy of the payload bytes
   */
  public byte[] data() {
    return data.clone();
  }

  byte[] rawData() {
    return data;
  }

  /** Equal type and payload. */
  @Override
  public boolean equals(Object o) {
    return o instanceof ExtValue && ((ExtValue) o).type == type && Arrays.equals(((ExtValue) o).data, data);
  }

  @Override
  public int hashCode() {
    return 31 * type + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "ExtValue(" + type + ", " + data.length + " bytes)";
  }
}
