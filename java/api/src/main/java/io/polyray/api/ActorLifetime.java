package io.polyray.api;

/** Whether an actor lives as long as its job or beyond it. */
public enum ActorLifetime {
  /** The actor dies when the job that created it finishes (the default). */
  NON_DETACHED,
  /** The actor outlives its job until it is killed; it must have a name. */
  DETACHED
}
