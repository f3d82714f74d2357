package io.polyray.runtime.codec;

import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.ObjectRef;

/**
 * Hooks for code without a CoreWorker (tools, tests): references are their protobuf
 * messages both ways.
 */
public final class ProtoHooks implements CodecHooks {
  /** The shared instance (stateless). */
  public static final ProtoHooks INSTANCE = new ProtoHooks();

  private ProtoHooks() {}

  /** {@code obj} itself when it is an ObjectRef message. */
  @Override
  public ObjectRef encodeObjectRef(Object obj) {
    return obj instanceof ObjectRef ? (ObjectRef) obj : null;
  }

  /** {@code obj} itself when it is an ActorHandle message. */
  @Override
  public ActorHandle encodeActorHandle(Object obj) {
    return obj instanceof ActorHandle ? (ActorHandle) obj : null;
  }

  /** The message itself. */
  @Override
  public Object decodeObjectRef(ObjectRef ref) {
    return ref;
  }

  /** The message itself. */
  @Override
  public Object decodeActorHandle(ActorHandle handle) {
    return handle;
  }
}
