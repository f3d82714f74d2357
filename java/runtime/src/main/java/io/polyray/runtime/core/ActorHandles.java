package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.ObjectRef;

/**
 * Actor handles counted like references: an actor goes when its last handle goes (issue
 * 17; docs/fault-tolerance.md, "Lifetime"). The rule of the Python core
 * ({@code python/polyray/core/actor_handles.py}): every handle of a non-detached actor is
 * a reference to one pseudo-object owned by the actor's creator. A Java handle holds a
 * counted {@code ObjectRefImpl} of it, so the reference goes when the garbage collector
 * clears the handle (a {@link java.lang.ref.Cleaner}, as for ObjectRefs: not
 * deterministic, as in Ray's Java API); handles inside values add the pseudo-object to
 * their nested refs; a call through a handle counts it as an argument. When the owner's
 * ReferenceCounter frees it, the owner asks the GCS to destroy the actor (KillActor with
 * out_of_scope).
 */
public final class ActorHandles {
  private ActorHandles() {}

  /**
   * The pseudo-object id of an actor's handles: the actor id's 12 unique bytes, 8 zero
   * bytes, its JobID and index 0 (no return or put uses index 0).
   *
   * @param actorId the actor (16 bytes)
   * @return the 28-byte id
   */
  public static ByteString handleObjectId(ByteString actorId) {
    return actorId.substring(0, 12).concat(ByteString.copyFrom(new byte[8])).concat(actorId.substring(12, 16))
        .concat(ByteString.copyFrom(new byte[4]));
  }

  /**
   * Whether an id is a handle pseudo-object's.
   *
   * @param oid an object id
   * @return true for handle pseudo-objects
   */
  public static boolean isHandleObjectId(ByteString oid) {
    if (oid.size() != 28) {
      return false;
    }
    for (int i = 12; i < 20; i++) {
      if (oid.byteAt(i) != 0) {
        return false;
      }
    }
    for (int i = 24; i < 28; i++) {
      if (oid.byteAt(i) != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * The actor of a handle pseudo-object id.
   *
   * @param oid the pseudo-object id
   * @return the actor id
   */
  public static ByteString actorIdOf(ByteString oid) {
    return oid.substring(0, 12).concat(oid.substring(20, 24));
  }

  /**
   * Whether handles of this actor are counted (not detached, not from getActor).
   *
   * @param handle the handle
   * @return true when counted
   */
  public static boolean counted(ActorHandle handle) {
    return !handle.getDetached() && handle.getActorId().size() == 16;
  }

  /**
   * The reference a counted handle holds, in protocol form.
   *
   * @param handle the handle
   * @return the ObjectRef message, or null when the handle is not counted
   */
  public static ObjectRef handleRef(ActorHandle handle) {
    if (!counted(handle)) {
      return null;
    }
    return ObjectRef.newBuilder().setObjectId(handleObjectId(handle.getActorId())).setOwner(handle.getOwner())
        .build();
  }
}
