package io.polyray.runtime.ref;

import io.polyray.api.ActorHandle;

/**
 * The runtime's handle on a Java actor.
 *
 * @param <A> the actor's class
 */
public final class JavaActorHandle<A> extends AbstractActorHandle implements ActorHandle<A> {
  /**
   * A handle for a message.
   *
   * @param proto the ActorHandle message (language JAVA)
   */
  public JavaActorHandle(io.polyray.runtime.proto.ActorHandle proto) {
    super(proto);
  }

  @Override
  public String getClassName() {
    return toProto().getClassDescriptor().getJava().getClassName();
  }
}
