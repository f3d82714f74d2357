package io.polyray.runtime.core;

import io.polyray.api.BaseActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.WaitResult;
import io.polyray.api.placement.PlacementGroup;
import io.polyray.api.placement.PlacementStrategy;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.api.spi.PolyRayRuntime;
import io.polyray.runtime.ref.Hex;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The API's runtime over a {@link CoreWorker}: what a driver ({@link DriverRuntime}) and
 * a Java worker ({@link WorkerRuntime}) share.
 */
public abstract class CoreRuntime implements PolyRayRuntime {
  /** The process's CoreWorker. */
  protected final CoreWorker core;
  private PlacementGroupClient placementGroups;

  /**
   * A runtime over a core.
   *
   * @param core the CoreWorker
   */
  protected CoreRuntime(CoreWorker core) {
    this.core = core;
  }

  /**
   * The CoreWorker.
   *
   * @return the core
   */
  public CoreWorker core() {
    return core;
  }

  @Override
  public <T> ObjectRef<T> put(Object value) {
    return core.put(value);
  }

  @Override
  public Object get(ObjectRef<?> ref, long timeoutMs) {
    return core.get(ref, timeoutMs);
  }

  @Override
  public List<Object> getAll(List<? extends ObjectRef<?>> refs, long timeoutMs) {
    return core.getAll(refs, timeoutMs);
  }

  @Override
  public <T> WaitResult<T> wait(List<ObjectRef<T>> refs, int numReturns, long timeoutMs) {
    List<ObjectRef<T>> ready = core.waitReady(refs, numReturns, timeoutMs);
    Set<ObjectRef<T>> r = new HashSet<>(ready);
    List<ObjectRef<T>> unready = new ArrayList<>();
    for (ObjectRef<T> x : refs) {
      if (!r.contains(x)) {
        unready.add(x);
      }
    }
    return new WaitResult<>(ready, unready);
  }

  @Override
  public <R> ObjectRef<R> submitTask(FunctionSpec function, Object[] args, CallOptions options) {
    return core.submitTask(function, args, options);
  }

  @Override
  public BaseActorHandle createActor(FunctionSpec function, Object[] args, CallOptions options) {
    return core.createActor(function, args, options);
  }

  @Override
  public <R> ObjectRef<R> submitActorTask(BaseActorHandle actor, FunctionSpec function, Object[] args,
      CallOptions options) {
    return core.submitActorTask(actor, function, args, options);
  }

  @Override
  public List<ObjectRef<Object>> submitTaskReturns(FunctionSpec function, Object[] args, CallOptions options) {
    return core.tasks.submitTaskReturns(function, args, options);
  }

  @Override
  public <T> io.polyray.api.ObjectRefGenerator<T> submitTaskGenerator(FunctionSpec function, Object[] args,
      CallOptions options) {
    return core.tasks.submitTaskGenerator(function, args, options);
  }

  @Override
  public <T> io.polyray.api.ObjectRefGenerator<T> submitActorTaskGenerator(BaseActorHandle actor, FunctionSpec function,
      Object[] args, CallOptions options) {
    return core.tasks.submitActorTaskGenerator(actor, function, args, options);
  }

  @Override
  public List<ObjectRef<Object>> submitActorTaskReturns(BaseActorHandle actor, FunctionSpec function, Object[] args,
      CallOptions options) {
    return core.tasks.submitActorTaskReturns(actor, function, args, options);
  }

  @Override
  public void cancel(ObjectRef<?> ref, boolean force, boolean recursive) {
    core.tasks.cancel(ref, force, recursive);
  }

  private PlacementGroupClient placementGroups() {
    synchronized (this) {
      if (placementGroups == null) {
        placementGroups = new PlacementGroupClient(core);
      }
      return placementGroups;
    }
  }

  @Override
  public PlacementGroup createPlacementGroup(List<Map<String, Double>> bundles, PlacementStrategy strategy,
      String name) {
    return placementGroups().create(bundles, strategy, name);
  }

  @Override
  public Optional<PlacementGroup> getPlacementGroup(String name) {
    return placementGroups().get(name);
  }

  @Override
  public void removePlacementGroup(PlacementGroup group) {
    placementGroups().remove(group);
  }

  @Override
  public boolean waitPlacementGroup(PlacementGroup group, long timeoutMs) {
    return placementGroups().waitCreated(group, timeoutMs);
  }

  @Override
  public ObjectRef<Boolean> placementGroupReady(PlacementGroup group) {
    return placementGroups().ready(group);
  }

  @Override
  public Optional<BaseActorHandle> getActor(String name, String namespace) {
    return Optional.ofNullable(core.getNamedActor(name, namespace));
  }

  @Override
  public void kill(BaseActorHandle actor, boolean noRestart) {
    core.killActor(actor, noRestart);
  }

  @Override
  public String getNamespace() {
    return CoreRuntimeContext.jobNamespace(core);
  }

  @Override
  public String getJobId() {
    return Hex.of(core.jobId.toByteArray());
  }

  @Override
  public io.polyray.api.RuntimeContext getRuntimeContext() {
    return new CoreRuntimeContext(core);
  }

  @Override
  public String getGcsAddress() {
    return core.gcsAddress;
  }
}
