/**
 * The polyray Java API: what user code programs against.
 *
 * <p>{@link io.polyray.api.PolyRay} connects a driver ({@code init}) and submits tasks and
 * actors written in Java (method references), Python ({@link io.polyray.api.PyFunction},
 * {@link io.polyray.api.PyActorClass}) or C++ ({@link io.polyray.api.CppFunction}, {@link
 * io.polyray.api.CppActorClass}); {@code get}, {@code put}, {@code wait}, {@code getActor}
 * and {@code kill} work on their results and actors. {@link io.polyray.api.ObjectRef} and
 * the actor handles ({@link io.polyray.api.ActorHandle}, {@link
 * io.polyray.api.PyActorHandle}, {@link io.polyray.api.CppActorHandle}) stand for remote
 * objects and actors, also inside arguments and results. Errors raised by remote tasks
 * and system failures are the exceptions of {@link io.polyray.api.exception}. The
 * runtime that implements all this is found at run time ({@link io.polyray.api.spi}).
 */
package io.polyray.api;
