/**
 * The polyray Java API: what user code programs against.
 *
 * <p>{@link io.polyray.api.ObjectRef} and the actor handles ({@link io.polyray.api.ActorHandle},
 * {@link io.polyray.api.PyActorHandle}, {@link io.polyray.api.CppActorHandle}) are the values
 * that stand for remote objects and actors inside arguments and results; the runtime
 * implements them. Errors raised by remote tasks and system failures are the exceptions of
 * {@link io.polyray.api.exception}.
 */
package io.polyray.api;
