package io.polyray.runtime.ref;

import io.polyray.api.PyActorHandle;

/** The runtime's handle on a Python actor. */
public final class PyActorHandleImpl extends AbstractActorHandle implements PyActorHandle {
  /**
   * A handle for a message.
   *
   * @param proto the ActorHandle message (language PYTHON)
   */
  public PyActorHandleImpl(io.polyray.runtime.proto.ActorHandle proto) {
    super(proto);
  }

  @Override
  public String getModuleName() {
    return toProto().getClassDescriptor().getPython().getModule();
  }

  @Override
  public String getClassName() {
    return toProto().getClassDescriptor().getPython().getQualname();
  }
}
