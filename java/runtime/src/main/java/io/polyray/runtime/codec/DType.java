package io.polyray.runtime.codec;

/**
 * The element types an XLANG ndarray may have (docs/protocol.md §10.4), named by their
 * numpy array-interface type strings. Data is always little-endian, C order.
 */
public enum DType {
  /** {@code |b1}: bool, one byte 0 or 1; Java {@code boolean[]}. */
  BOOL("|b1", 1),
  /** {@code |i1}: int8 (Java has no byte ndarray type: {@code byte[]} is bin). */
  INT8("|i1", 1),
  /** {@code |u1}: uint8. */
  UINT8("|u1", 1),
  /** {@code <i2}: int16; Java {@code short[]}. */
  INT16("<i2", 2),
  /** {@code <u2}: uint16. */
  UINT16("<u2", 2),
  /** {@code <i4}: int32; Java {@code int[]}. */
  INT32("<i4", 4),
  /** {@code <u4}: uint32. */
  UINT32("<u4", 4),
  /** {@code <i8}: int64; Java {@code long[]}. */
  INT64("<i8", 8),
  /** {@code <u8}: uint64. */
  UINT64("<u8", 8),
  /** {@code <f4}: float32; Java {@code float[]}. */
  FLOAT32("<f4", 4),
  /** {@code <f8}: float64; Java {@code double[]}. */
  FLOAT64("<f8", 8);

  private final String typestr;
  private final int itemSize;

  DType(String typestr, int itemSize) {
    this.typestr = typestr;
    this.itemSize = itemSize;
  }

  /**
   * The numpy type string, as written on the wire.
   *
   * @return e.g. {@code <f8}
   */
  public String typestr() {
    return typestr;
  }

  /**
   * Bytes per element.
   *
   * @return 1, 2, 4 or 8
   */
  public int itemSize() {
    return itemSize;
  }

  /**
   * Whether elements are integers (signed or unsigned).
   *
   * @return true for the int and uint types
   */
  public boolean isInteger() {
    return this != BOOL && this != FLOAT32 && this != FLOAT64;
  }

  /**
   * Whether elements are unsigned integers.
   *
   * @return true for UINT8..UINT64
   */
  public boolean isUnsigned() {
    return this == UINT8 || this == UINT16 || this == UINT32 || this == UINT64;
  }

  /**
   * The dtype of a type string.
   *
   * @param typestr a numpy array-interface type string
   * @return the dtype, or null when it has no XLANG form
   */
  public static DType fromTypestr(String typestr) {
    for (DType d : values()) {
      if (d.typestr.equals(typestr)) {
        return d;
      }
    }
    return null;
  }
}
