package io.polyray.api.function;

import java.io.Serializable;

/**
 * The common parent of the remote function types. They are {@link Serializable} so that
 * polyray can read, from a method reference, which method it names (its class, name and
 * JVM signature) without calling it; only method references of named methods
 * ({@code Class::method}, {@code Class::new}) are accepted, not lambdas.
 */
public interface PolyRayFunc extends Serializable {}
