/**
 * The value envelope codec (docs/protocol.md §8-§11): Java values to XLANG
 * (canonical msgpack with polyray's extension types) and back, RAW, ARROW and ERROR
 * envelopes, conversion of decoded values to declared Java types, error records, and
 * the layout of an envelope in a shared-store object.
 *
 * <p>Entry points: {@link io.polyray.runtime.codec.Codec} (encode/decode),
 * {@link io.polyray.runtime.codec.XlangConverter} (to a method's parameter types),
 * {@link io.polyray.runtime.codec.ErrorRecords} (exceptions ⇄ records) and
 * {@link io.polyray.runtime.codec.StoreLayout} (store objects).
 */
package io.polyray.runtime.codec;
