package io.polyray.runtime.ref;

import io.polyray.runtime.codec.CodecHooks;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.ObjectRef;

/**
 * Codec hooks of a Java process: ObjectRefs decode to {@link ObjectRefImpl}, actor
 * handles to the handle class of the actor's language, and back. Protocol messages
 * found in a value encode as references too.
 */
public class RefHooks implements CodecHooks {
  /** A shared instance (stateless). */
  public static final RefHooks INSTANCE = new RefHooks();

  /** Hooks without extra behaviour; subclasses add borrow tracking. */
  public RefHooks() {}

  @Override
  public ObjectRef encodeObjectRef(Object obj) {
    if (obj instanceof ObjectRefImpl) {
      return ((ObjectRefImpl<?>) obj).toProto();
    }
    return obj instanceof ObjectRef ? (ObjectRef) obj : null;
  }

  @Override
  public ActorHandle encodeActorHandle(Object obj) {
    if (obj instanceof AbstractActorHandle) {
      return ((AbstractActorHandle) obj).toProto();
    }
    return obj instanceof ActorHandle ? (ActorHandle) obj : null;
  }

  @Override
  public Object decodeObjectRef(ObjectRef ref) {
    return new ObjectRefImpl<Object>(ref);
  }

  @Override
  public Object decodeActorHandle(ActorHandle handle) {
    return AbstractActorHandle.of(handle);
  }
}
