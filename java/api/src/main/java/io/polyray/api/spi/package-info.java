/**
 * The interface between the API and a runtime (internal). {@link
 * io.polyray.api.spi.PolyRayRuntime} is what the runtime implements; {@link
 * io.polyray.api.spi.FunctionSpec} and {@link io.polyray.api.spi.CallOptions} describe a
 * call; {@link io.polyray.api.spi.PolyRayRuntimeFactory} is found with {@link
 * java.util.ServiceLoader}. User code does not need this package.
 */
package io.polyray.api.spi;
