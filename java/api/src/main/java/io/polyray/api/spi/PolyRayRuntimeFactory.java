package io.polyray.api.spi;

import io.polyray.api.PolyRayConfig;

/**
 * Creates the runtime of a driver. The runtime jar registers one with
 * {@link java.util.ServiceLoader} ({@code META-INF/services/io.polyray.api.spi.PolyRayRuntimeFactory}),
 * so the API needs no compile-time dependency on it.
 */
public interface PolyRayRuntimeFactory {
  /**
   * Connects this process to a cluster as a driver (starting an embedded one when the
   * config has no address).
   *
   * @param config the driver's configuration
   * @return the started runtime
   */
  PolyRayRuntime createDriver(PolyRayConfig config);
}
