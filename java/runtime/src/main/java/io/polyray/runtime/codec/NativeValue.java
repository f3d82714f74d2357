package io.polyray.runtime.codec;

import io.polyray.api.Language;
import java.util.Arrays;

/**
 * A value native to another language (XLANG ext 4): bytes only that language decodes
 * (a Python pickle, a C++ serialization). Java keeps it opaque and re-encodes it byte
 * for byte, so a Python object can pass through Java code and come back intact.
 */
public final class NativeValue {
  private final int language;
  private final byte[] data;
  /** The ext payload as received ({@code [language, bin]}), re-emitted unchanged; null when built here. */
  private final byte[] payload;

  /**
   * A native value of {@code language}.
   *
   * @param language the language that can decode {@code data}
   * @param data its bytes (copied)
   */
  public NativeValue(Language language, byte[] data) {
    this(language.number(), data.clone(), null);
  }

  NativeValue(int language, byte[] data, byte[] payload) {
    this.language = language;
    this.data = data;
    this.payload = payload;
  }

  /**
   * The language that can decode this value.
   *
   * @return the language, or null for a protocol number this build does not know
   */
  public Language language() {
    return language >= 0 && language < Language.values().length ? Language.fromNumber(language) : null;
  }

  /**
   * The protocol number of the value's language.
   *
   * @return 0 Python, 1 Java, 2 C++ (or another number from a newer peer)
   */
  public int languageNumber() {
    return language;
  }

  /**
   * The opaque bytes.
   *
   * @return a copy of the data
   */
  public byte[] data() {
    return data.clone();
  }

  /** The ext 4 payload to write: the received bytes when there are some, else canonical. */
  byte[] payload() {
    if (payload != null) {
      return payload;
    }
    MsgpackWriter w = new MsgpackWriter(data.length + 8);
    w.writeArrayHeader(2);
    w.writeLong(language);
    w.writeBin(data);
    return w.toByteArray();
  }

  /** Equal language and bytes. */
  @Override
  public boolean equals(Object o) {
    return o instanceof NativeValue
        && ((NativeValue) o).language == language
        && Arrays.equals(((NativeValue) o).data, data);
  }

  @Override
  public int hashCode() {
    return 31 * language + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    Language l = language();
    return "NativeValue(" + (l == null ? "language " + language : l.name()) + ", " + data.length + " bytes)";
  }
}
