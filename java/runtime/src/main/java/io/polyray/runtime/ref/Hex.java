package io.polyray.runtime.ref;

import io.polyray.runtime.ids.Ids;

/** Lower-case hex of IDs, as the protocol shows them: {@link Ids#hex(byte[])} and {@link Ids#parseHex}. */
public final class Hex {
  private Hex() {}

  /**
   * Hex of bytes.
   *
   * @param b the bytes
   * @return two lower-case digits per byte
   */
  public static String of(byte[] b) {
    return Ids.hex(b);
  }

  /**
   * Bytes of hex.
   *
   * @param s an even number of hex digits
   * @return the bytes
   * @throws IllegalArgumentException for anything else
   */
  public static byte[] parse(String s) {
    return Ids.parseHex(s);
  }
}
