/**
 * The exceptions polyray raises in Java (docs/protocol.md §7.6).
 *
 * <p>{@link io.polyray.api.exception.TaskException} is an error raised by a remote task's
 * code (or the runtime's refusal to run it), with the remote language, type name and
 * traceback; {@link io.polyray.api.exception.CrossLanguageException} is the same for a
 * chain of calls that crossed languages. System failures have their own types. Every one
 * is a {@link io.polyray.api.exception.PolyRayException}, unchecked. Each hop of a chain of
 * calls is the {@link Throwable#getCause() cause} of the next.
 */
package io.polyray.api.exception;
