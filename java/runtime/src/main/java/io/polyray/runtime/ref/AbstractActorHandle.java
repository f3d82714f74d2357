package io.polyray.runtime.ref;

import io.polyray.api.BaseActorHandle;
import io.polyray.api.Language;

/**
 * What the runtime's actor handles share: the protocol message. Equal when the actor
 * IDs are equal.
 */
public abstract class AbstractActorHandle implements BaseActorHandle {
  private final io.polyray.runtime.proto.ActorHandle proto;
  // The counted reference this handle holds while it lives (core.ActorHandles), or null.
  private volatile Object held;

  /**
   * A handle for a message.
   *
   * @param proto the ActorHandle message
   */
  protected AbstractActorHandle(io.polyray.runtime.proto.ActorHandle proto) {
    this.proto = proto;
  }

  /**
   * The handle of a message, of the class for the actor's language.
   *
   * @param proto the ActorHandle message
   * @return a {@link JavaActorHandle}, {@link PyActorHandleImpl} or {@link CppActorHandleImpl}
   */
  public static AbstractActorHandle of(io.polyray.runtime.proto.ActorHandle proto) {
    switch (proto.getLanguage()) {
      case PYTHON:
        return new PyActorHandleImpl(proto);
      case CPP:
        return new CppActorHandleImpl(proto);
      default:
        return new JavaActorHandle<Object>(proto);
    }
  }

  /**
   * Keeps {@code ref} (a counted reference) while this handle lives.
   *
   * @param ref the reference, or null
   * @return this handle
   */
  public AbstractActorHandle holding(Object ref) {
    this.held = ref;
    return this;
  }

  /**
   * The counted reference this handle holds.
   *
   * @return the reference, or null
   */
  public Object held() {
    return held;
  }

  /**
   * The protocol message.
   *
   * @return the ActorHandle message
   */
  public io.polyray.runtime.proto.ActorHandle toProto() {
    return proto;
  }

  @Override
  public byte[] getActorId() {
    return proto.getActorId().toByteArray();
  }

  @Override
  public String getActorIdHex() {
    return Hex.of(getActorId());
  }

  @Override
  public Language getLanguage() {
    int n = proto.getLanguageValue();
    return n >= 0 && n < Language.values().length ? Language.fromNumber(n) : null;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AbstractActorHandle
        && ((AbstractActorHandle) o).proto.getActorId().equals(proto.getActorId());
  }

  @Override
  public int hashCode() {
    return proto.getActorId().hashCode();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "(" + getLanguage() + ", " + getActorIdHex() + ")";
  }
}
