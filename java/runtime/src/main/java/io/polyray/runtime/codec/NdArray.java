package io.polyray.runtime.codec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * An n-dimensional array as XLANG carries it (ext 3): a dtype, a shape and the
 * elements' little-endian bytes in C order. Decoding gives a read-only view of the
 * memory it was decoded from, without a copy: a large array read from the shared store
 * is a view of shared memory, valid while the store object stays pinned (the pin is
 * held as long as this array, or anything decoded with it, is reachable).
 *
 * <p>1-D arrays of a dtype with a Java primitive array type ({@code long[]},
 * {@code int[]}, {@code short[]}, {@code double[]}, {@code float[]}, {@code boolean[]})
 * decode to that primitive array by default; every other array is an {@code NdArray}.
 */
public final class NdArray {
  private final DType dtype;
  private final long[] shape;
  private final ByteBuffer data;
  /** Keeps the memory under {@link #data} alive (a pinned store object), or null. */
  private final Object keepAlive;

  /**
   * An array over {@code data} (not copied).
   *
   * @param dtype the element type
   * @param shape the dimensions (empty for a 0-d array)
   * @param data exactly {@code product(shape) * itemSize} bytes from its position
   * @throws IllegalArgumentException for a negative dimension or a data size mismatch
   */
  public NdArray(DType dtype, long[] shape, ByteBuffer data) {
    this(dtype, shape, data, null);
  }

  NdArray(DType dtype, long[] shape, ByteBuffer data, Object keepAlive) {
    if (dtype == null || shape == null || data == null) {
      throw new IllegalArgumentException("NdArray needs a dtype, a shape and data");
    }
    long count = elementCount(shape);
    long nbytes = count * dtype.itemSize();
    if (data.remaining() != nbytes) {
      throw new IllegalArgumentException(
          "ndarray " + dtype.typestr() + Arrays.toString(shape) + " needs " + nbytes
              + " bytes, its data has " + data.remaining());
    }
    this.dtype = dtype;
    this.shape = shape.clone();
    this.data = data.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    this.keepAlive = keepAlive;
  }

  static long elementCount(long[] shape) {
    long count = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("ndarray shape " + Arrays.toString(shape) + " has a negative dimension");
      }
      count = Math.multiplyExact(count, d);
    }
    return count;
  }

  /**
   * A 1-D array with a copy of {@code values}' elements.
   *
   * @param values a {@code boolean[]}, {@code short[]}, {@code int[]}, {@code long[]},
   *     {@code float[]} or {@code double[]}
   * @return the array
   * @throws IllegalArgumentException for any other type
   */
  public static NdArray of(Object values) {
    DType dt = dtypeOfPrimitiveArray(values);
    if (dt == null) {
      throw new IllegalArgumentException(
          "NdArray.of takes boolean[], short[], int[], long[], float[] or double[], not "
              + (values == null ? "null" : values.getClass().getTypeName()));
    }
    int n = java.lang.reflect.Array.getLength(values);
    return new NdArray(dt, new long[] {n}, primitiveToBytes(values, dt).asReadOnlyBuffer());
  }

  /**
   * An array of the given dtype and shape over a copy of little-endian {@code bytes}.
   *
   * @param dtype the element type
   * @param shape the dimensions
   * @param bytes the elements' little-endian bytes in C order
   * @return the array
   */
  public static NdArray of(DType dtype, long[] shape, byte[] bytes) {
    return new NdArray(dtype, shape, ByteBuffer.wrap(bytes.clone()));
  }

  /**
   * The element type.
   *
   * @return the dtype
   */
  public DType dtype() {
    return dtype;
  }

  /**
   * The dimensions.
   *
   * @return a copy of the shape (empty for a 0-d array)
   */
  public long[] shape() {
    return shape.clone();
  }

  /**
   * The number of dimensions.
   *
   * @return the shape's length
   */
  public int ndim() {
    return shape.length;
  }

  /**
   * The number of elements.
   *
   * @return the product of the shape (1 for a 0-d array)
   */
  public long size() {
    return elementCount(shape);
  }

  /**
   * The elements' bytes.
   *
   * @return a new read-only little-endian buffer over the data, positioned at 0
   */
  public ByteBuffer data() {
    return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * Total bytes of data.
   *
   * @return {@code size() * dtype().itemSize()}
   */
  public int nbytes() {
    return data.remaining();
  }

  /** The object that keeps the memory of {@link #data()} alive, or null. */
  Object keepAlive() {
    return keepAlive;
  }

  /**
   * An array with the same dtype and shape whose data is a heap copy: independent of
   * the memory this one views (e.g. to keep it after a store object is released).
   *
   * @return the copy
   */
  public NdArray copy() {
    ByteBuffer c = ByteBuffer.allocate(data.remaining());
    c.put(data.duplicate());
    c.flip();
    return new NdArray(dtype, shape, c);
  }

  /**
   * The elements as a 1-D Java primitive array (a copy), for any shape, in C order:
   * {@code boolean[]} for BOOL, {@code byte[]} for INT8/UINT8 (bytes as they are),
   * {@code short[]} for INT16, {@code int[]} for INT32, {@code long[]} for INT64,
   * {@code float[]}, {@code double[]}; UINT16 as {@code char[]}, UINT32 as
   * {@code long[]} (values fit), UINT64 as {@code long[]} (bit patterns; use
   * {@link Long#toUnsignedString(long)}).
   *
   * @return a new primitive array
   */
  public Object toPrimitiveArray() {
    ByteBuffer b = data();
    int n = (int) size();
    switch (dtype) {
      case BOOL: {
        boolean[] out = new boolean[n];
        for (int i = 0; i < n; i++) {
          out[i] = b.get(i) != 0;
        }
        return out;
      }
      case INT8:
      case UINT8: {
        byte[] out = new byte[n];
        b.get(out);
        return out;
      }
      case INT16: {
        short[] out = new short[n];
        b.asShortBuffer().get(out);
        return out;
      }
      case UINT16: {
        char[] out = new char[n];
        b.asCharBuffer().get(out);
        return out;
      }
      case INT32: {
        int[] out = new int[n];
        b.asIntBuffer().get(out);
        return out;
      }
      case UINT32: {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
          out[i] = b.getInt(i * 4) & 0xffffffffL;
        }
        return out;
      }
      case INT64:
      case UINT64: {
        long[] out = new long[n];
        b.asLongBuffer().get(out);
        return out;
      }
      case FLOAT32: {
        float[] out = new float[n];
        b.asFloatBuffer().get(out);
        return out;
      }
      case FLOAT64: {
        double[] out = new double[n];
        b.asDoubleBuffer().get(out);
        return out;
      }
      default:
        throw new AssertionError(dtype);
    }
  }

  /**
   * The dtype a Java primitive array encodes as.
   *
   * @param array any object
   * @return the dtype of a boolean/short/int/long/float/double array, else null
   *     ({@code byte[]} is bin, not an ndarray)
   */
  public static DType dtypeOfPrimitiveArray(Object array) {
    if (array instanceof long[]) {
      return DType.INT64;
    } else if (array instanceof double[]) {
      return DType.FLOAT64;
    } else if (array instanceof int[]) {
      return DType.INT32;
    } else if (array instanceof float[]) {
      return DType.FLOAT32;
    } else if (array instanceof short[]) {
      return DType.INT16;
    } else if (array instanceof boolean[]) {
      return DType.BOOL;
    }
    return null;
  }

  /** The little-endian bytes of a primitive array of dtype {@code dt} (a heap buffer at 0). */
  static ByteBuffer primitiveToBytes(Object array, DType dt) {
    int n = java.lang.reflect.Array.getLength(array);
    ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(n, dt.itemSize())).order(ByteOrder.LITTLE_ENDIAN);
    switch (dt) {
      case INT64:
        b.asLongBuffer().put((long[]) array);
        break;
      case FLOAT64:
        b.asDoubleBuffer().put((double[]) array);
        break;
      case INT32:
        b.asIntBuffer().put((int[]) array);
        break;
      case FLOAT32:
        b.asFloatBuffer().put((float[]) array);
        break;
      case INT16:
        b.asShortBuffer().put((short[]) array);
        break;
      case BOOL: {
        boolean[] a = (boolean[]) array;
        for (int i = 0; i < n; i++) {
          b.put(i, a[i] ? (byte) 1 : (byte) 0);
        }
        break;
      }
      default:
        throw new AssertionError(dt);
    }
    return b;
  }

  /** Equal dtype, shape and bytes. */
  @Override
  public boolean equals(Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof NdArray)) {
      return false;
    }
    NdArray other = (NdArray) o;
    return dtype == other.dtype && Arrays.equals(shape, other.shape) && data.equals(other.data);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + data.hashCode();
  }

  @Override
  public String toString() {
    return "NdArray(" + dtype.typestr() + ", shape=" + Arrays.toString(shape) + ", " + nbytes() + " bytes)";
  }
}
