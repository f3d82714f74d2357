package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ObjectRef;
import io.polyray.runtime.ref.RefHooks;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * ActorHandles (issue 17: an actor goes with its last handle): the pseudo-object id is the
 * Python and C++ one (actor id's 12 unique bytes, 8 zero bytes, JobID, index 0), handles
 * found by name or detached are not counted, and a codec whose hooks answer
 * {@code refOfHandle} records a counted handle's pseudo-object among the value's nested refs.
 */
class ActorHandlesTest {
  private static final ByteString ACTOR = ByteString.copyFrom(new byte[] {
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 7, 0, 0, 0});
  private static final Address OWNER = Address.newBuilder().setHost("owner").setPort(9)
      .setWorkerId(ByteString.copyFrom(new byte[28])).build();

  @Test
  void idsMatchTheOtherLanguagesAndAreApartFromReturnsAndPuts() {
    ByteString hid = ActorHandles.handleObjectId(ACTOR);
    assertEquals(28, hid.size());
    assertEquals(ByteString.copyFrom(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0, 0, 0, 0, 0,
        7, 0, 0, 0, 0, 0, 0, 0}), hid);
    assertTrue(ActorHandles.isHandleObjectId(hid));
    assertEquals(ACTOR, ActorHandles.actorIdOf(hid));
    ByteString task = ByteString.copyFrom(new byte[] {
        9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 7, 0, 0, 0});
    assertFalse(ActorHandles.isHandleObjectId(task.concat(ByteString.copyFrom(new byte[] {1, 0, 0, 0}))));
    assertFalse(ActorHandles.isHandleObjectId(ByteString.copyFrom(new byte[16])));
  }

  @Test
  void detachedHandlesAreNotCounted() {
    ActorHandle counted = ActorHandle.newBuilder().setActorId(ACTOR).setOwner(OWNER).build();
    ObjectRef ref = ActorHandles.handleRef(counted);
    assertEquals(ActorHandles.handleObjectId(ACTOR), ref.getObjectId());
    assertEquals(OWNER, ref.getOwner());
    assertNull(ActorHandles.handleRef(counted.toBuilder().setDetached(true).build()));
  }

  @Test
  void encodedHandlesHoldTheirPseudoObject() {
    Codec codec = new Codec(new RefHooks() {
      @Override
      public ObjectRef refOfHandle(ActorHandle handle) {
        return ActorHandles.handleRef(handle);
      }
    });
    ActorHandle counted = ActorHandle.newBuilder().setActorId(ACTOR).setOwner(OWNER).build();
    ActorHandle detached = counted.toBuilder().setDetached(true).build();
    Encoded e = codec.encode(List.of(counted, detached));
    assertEquals(2, e.nestedHandles().size());
    assertEquals(1, e.nestedRefs().size());
    assertEquals(ActorHandles.handleObjectId(ACTOR), e.nestedRefs().get(0).getObjectId());
    // The default hooks record none (the codec does not know about counting).
    assertEquals(0, new Codec(RefHooks.INSTANCE).encode(List.of(counted)).nestedRefs().size());
  }
}
