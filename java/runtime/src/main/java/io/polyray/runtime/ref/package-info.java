/**
 * The runtime's implementations of the API's reference types: {@link
 * io.polyray.runtime.ref.ObjectRefImpl} and the actor handles of each language, each a
 * thin wrapper over its protocol message, and {@link io.polyray.runtime.ref.RefHooks},
 * the codec hooks that map between the two.
 */
package io.polyray.runtime.ref;
