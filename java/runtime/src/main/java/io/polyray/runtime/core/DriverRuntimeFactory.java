package io.polyray.runtime.core;

import io.polyray.api.PolyRayConfig;
import io.polyray.api.spi.PolyRayRuntime;
import io.polyray.api.spi.PolyRayRuntimeFactory;

/** Found by {@code PolyRay.init} through {@link java.util.ServiceLoader}: starts a {@link DriverRuntime}. */
public final class DriverRuntimeFactory implements PolyRayRuntimeFactory {
  /** A factory (instantiated by ServiceLoader). */
  public DriverRuntimeFactory() {}

  @Override
  public PolyRayRuntime createDriver(PolyRayConfig config) {
    return DriverRuntime.start(config);
  }
}
