package io.polyray.runtime.ref;

/** Lower-case hex of IDs, as the protocol shows them. */
public final class Hex {
  private static final char[] DIGITS = "0123456789abcdef".toCharArray();

  private Hex() {}

  /**
   * Hex of bytes.
   *
   * @param b the bytes
   * @return two lower-case digits per byte
   */
  public static String of(byte[] b) {
    char[] out = new char[b.length * 2];
    for (int i = 0; i < b.length; i++) {
      out[2 * i] = DIGITS[(b[i] >> 4) & 0xf];
      out[2 * i + 1] = DIGITS[b[i] & 0xf];
    }
    return new String(out);
  }

  /**
   * Bytes of hex.
   *
   * @param s an even number of hex digits
   * @return the bytes
   * @throws IllegalArgumentException for anything else
   */
  public static byte[] parse(String s) {
    if (s.length() % 2 != 0) {
      throw new IllegalArgumentException("hex string of odd length " + s.length());
    }
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      int hi = Character.digit(s.charAt(2 * i), 16);
      int lo = Character.digit(s.charAt(2 * i + 1), 16);
      if (hi < 0 || lo < 0) {
        throw new IllegalArgumentException("not a hex string: " + s);
      }
      out[i] = (byte) (hi << 4 | lo);
    }
    return out;
  }
}
