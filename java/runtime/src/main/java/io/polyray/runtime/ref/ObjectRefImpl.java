package io.polyray.runtime.ref;

import io.polyray.api.ObjectRef;

/**
 * The runtime's {@link ObjectRef}: the protocol message (object ID and owner address).
 * Equal when the object IDs are equal.
 *
 * @param <T> the value's Java type
 */
public final class ObjectRefImpl<T> implements ObjectRef<T> {
  private final io.polyray.runtime.proto.ObjectRef proto;

  /**
   * A reference for a message.
   *
   * @param proto the ObjectRef message
   */
  public ObjectRefImpl(io.polyray.runtime.proto.ObjectRef proto) {
    this.proto = proto;
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
