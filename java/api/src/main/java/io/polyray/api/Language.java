package io.polyray.api;

/** The language a function, actor, worker or error belongs to (protocol enum {@code Language}). */
public enum Language {
  /** Python (protocol value 0). */
  PYTHON,
  /** Java (protocol value 1). */
  JAVA,
  /** C++ (protocol value 2). */
  CPP;

  /**
   * The language of a protocol {@code Language} number.
   *
   * @param number the protocol value (0, 1 or 2)
   * @return the language
   * @throws IllegalArgumentException for another number
   */
  public static Language fromNumber(int number) {
    Language[] all = values();
    if (number < 0 || number >= all.length) {
      throw new IllegalArgumentException("unknown polyray language number " + number);
    }
    return all[number];
  }

  /**
   * The protocol number of this language.
   *
   * @return 0 for PYTHON, 1 for JAVA, 2 for CPP
   */
  public int number() {
    return ordinal();
  }
}
