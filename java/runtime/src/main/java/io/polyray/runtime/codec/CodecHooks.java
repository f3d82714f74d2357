package io.polyray.runtime.codec;

import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.ObjectRef;

/**
 * How the codec recognizes and rebuilds ObjectRefs and actor handles, which it does not
 * know itself. On encode, an object of no other XLANG type is offered to
 * {@link #encodeObjectRef} then {@link #encodeActorHandle}; a non-null answer becomes an
 * ext 1 / ext 2 value and is recorded in {@link Encoded#nestedRefs()} /
 * {@link Encoded#nestedHandles()}. On decode, ext 1 / ext 2 messages are handed to
 * {@link #decodeObjectRef} / {@link #decodeActorHandle}.
 */
public interface CodecHooks {
  /**
   * The protobuf form of {@code obj} if it is an ObjectRef.
   *
   * @param obj any value met while encoding
   * @return the ObjectRef message, or null when {@code obj} is not a reference
   */
  ObjectRef encodeObjectRef(Object obj);

  /**
   * The protobuf form of {@code obj} if it is an actor handle.
   *
   * @param obj any value met while encoding
   * @return the ActorHandle message, or null when {@code obj} is not a handle
   */
  ActorHandle encodeActorHandle(Object obj);

  /**
   * The value that stands for a decoded ObjectRef.
   *
   * @param ref the message
   * @return the process's ObjectRef for it
   */
  Object decodeObjectRef(ObjectRef ref);

  /**
   * The value that stands for a decoded actor handle.
   *
   * @param handle the message
   * @return the process's handle for it
   */
  Object decodeActorHandle(ActorHandle handle);

  /**
   * The reference an encoded actor handle holds (recorded in {@link Encoded#nestedRefs()}
   * too, so the value holds the handle like a ref; issue 17, "an actor goes with its last
   * handle").
   *
   * @param handle the handle met while encoding
   * @return the ObjectRef message, or null when the handle holds none
   */
  default ObjectRef refOfHandle(ActorHandle handle) {
    return null;
  }
}
