/**
 * The polyray Java runtime. {@link io.polyray.runtime.WorkerMain} is the main class of a
 * Java worker process; the subpackages hold the store binding ({@code store}), the
 * generated protocol classes ({@code proto}), the value codec ({@code codec}), the
 * reference implementations ({@code ref}) and the worker ({@code worker}).
 */
package io.polyray.runtime;
