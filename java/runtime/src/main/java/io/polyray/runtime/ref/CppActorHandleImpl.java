package io.polyray.runtime.ref;

import io.polyray.api.CppActorHandle;

/** The runtime's handle on a C++ actor. */
public final class CppActorHandleImpl extends AbstractActorHandle implements CppActorHandle {
  /**
   * A handle for a message.
   *
   * @param proto the ActorHandle message (language CPP)
   */
  public CppActorHandleImpl(io.polyray.runtime.proto.ActorHandle proto) {
    super(proto);
  }

  @Override
  public String getClassName() {
    return toProto().getClassDescriptor().getCpp().getClassName();
  }

  @Override
  public String getCreateFunctionName() {
    return toProto().getClassDescriptor().getCpp().getFunctionName();
  }
}
