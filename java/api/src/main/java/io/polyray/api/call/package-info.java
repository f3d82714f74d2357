/**
 * Calls about to be submitted: {@link io.polyray.api.call.TaskCaller} (tasks), {@link
 * io.polyray.api.call.ActorCreator} (actors) and {@link
 * io.polyray.api.call.ActorTaskCaller} (actor methods). Their setters carry the options
 * Ray's Java users know ({@code setName}, {@code setResource}, {@code setMaxRestarts},
 * ...); {@code remote()} submits.
 */
package io.polyray.api.call;
