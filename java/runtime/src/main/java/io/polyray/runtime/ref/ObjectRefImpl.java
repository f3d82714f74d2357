package io.polyray.runtime.ref;

import io.polyray.api.ObjectRef;
import java.lang.reflect.Type;

/**
 * The runtime's {@link ObjectRef}: the protocol message (object ID and owner address).
 * Equal when the object IDs are equal.
 *
 * @param <T> the value's Java type
 */
public final class ObjectRefImpl<T> implements ObjectRef<T> {
  private final io.polyray.runtime.proto.ObjectRef proto;
  private final Type valueType;

  /**
   * A reference for a message.
   *
   * @param proto the ObjectRef message
   */
  public ObjectRefImpl(io.polyray.runtime.proto.ObjectRef proto) {
    this(proto, null);
  }

  /**
   * A reference for a message whose value the holder expects as {@code valueType}.
   *
   * @param proto the ObjectRef message
   * @param valueType the Java type {@code get} converts the value to (null: its natural form)
   */
  public ObjectRefImpl(io.polyray.runtime.proto.ObjectRef proto, Type valueType) {
    this.proto = proto;
    this.valueType = valueType;
  }

  /**
   * The type the value is converted to on {@code get}.
   *
   * @return the declared type, or null for the value's natural form
   */
  public Type valueType() {
    return valueType;
  }

  /**
   * The protocol message.
   *
   * @return the ObjectRef message
   */
  public io.polyray.runtime.proto.ObjectRef toProto() {
    return proto;
  }

  @Override
  public byte[] getId() {
    return proto.getObjectId().toByteArray();
  }

  @Override
  public String getIdHex() {
    return Hex.of(getId());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ObjectRefImpl && ((ObjectRefImpl<?>) o).proto.getObjectId().equals(proto.getObjectId());
  }

  @Override
  public int hashCode() {
    return proto.getObjectId().hashCode();
  }

  @Override
  public String toString() {
    return "ObjectRef(" + getIdHex() + ")";
  }
}
