package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.api.RuntimeContext;
import io.polyray.runtime.proto.GetAllJobsRequest;
import io.polyray.runtime.proto.JobInfo;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.ref.Hex;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * The runtime context of a Java driver or worker, read from its CoreWorker at each call
 * (the running task is the calling thread's), with the values Python's
 * {@code RuntimeContext} gives for the same things.
 */
final class CoreRuntimeContext implements RuntimeContext {
  private final CoreWorker core;
  private static volatile String workerNamespace;
  private static volatile String workerDefaultLifetime;

  CoreRuntimeContext(CoreWorker core) {
    this.core = core;
  }

  private static String hex(ByteString id) {
    return Hex.of(id.toByteArray());
  }

  @Override
  public String getJobId() {
    return hex(core.jobId);
  }

  @Override
  public String getNodeId() {
    return hex(core.nodeId());
  }

  @Override
  public String getWorkerId() {
    return hex(core.workerId);
  }

  @Override
  public String getTaskId() {
    if (core.isDriver) {
      return null;
    }
    return hex(core.context().taskId);
  }

  @Override
  public String getActorId() {
    TaskSpec creation = core.actorCreation;
    return creation == null ? null : hex(creation.getActorId());
  }

  @Override
  public boolean wasCurrentActorRestarted() {
    TaskSpec creation = core.actorCreation;
    return creation != null && creation.getAttempt() > 0;
  }

  @Override
  public Map<String, Double> getAssignedResources() {
    if (core.isDriver) {
      throw new IllegalStateException("getAssignedResources() is only available in a worker (a task or an actor)");
    }
    TaskSpec creation = core.actorCreation;
    TaskSpec spec = creation != null ? creation : core.context().spec;
    Map<String, Double> out = new TreeMap<>();
    if (spec != null) {
      spec.getResourcesMap().forEach((name, amount) -> {
        if (amount != 0) {  // as Python's: a zero amount is no resource
          out.put(name, amount);
        }
      });
    }
    return Collections.unmodifiableMap(out);
  }

  @Override
  public String getNamespace() {
    return jobNamespace(core);
  }

  /**
   * The job's namespace: a driver's own, else (a worker) its job's from the GCS job table,
   * read once (as a Python worker's); what {@code getActor(name)} and named actors use.
   *
   * @param core this process's CoreWorker
   * @return the namespace ("" when the GCS does not answer)
   */
  static String jobNamespace(CoreWorker core) {
    if (core.isDriver || !core.namespace.isEmpty()) {
      return core.namespace;
    }
    String ns = workerNamespace;
    if (ns == null) {  // a worker: its job's, from the GCS job table (as a Python worker's), once
      ns = "";
      try {
        for (JobInfo job : core.gcs().getAllJobs(GetAllJobsRequest.getDefaultInstance()).getJobsList()) {
          if (job.getJobId().equals(core.jobId)) {
            ns = job.getNamespace();
          }
        }
        workerNamespace = ns;
      } catch (RuntimeException e) {
        return "";  // the GCS did not answer: ask again next time
      }
    }
    return ns;
  }

  /**
   * The job's default lifetime of named actors made without one (PolyRayConfig /
   * JobConfig default_actor_lifetime): a driver's own, else (a worker) its job's from the GCS
   * job table, read once (as a Python worker's).
   *
   * @param core this process's CoreWorker
   * @return "detached", "non_detached" or "" (not set, or the GCS does not answer)
   */
  static String jobDefaultLifetime(CoreWorker core) {
    if (core.defaultActorLifetime != null || core.isDriver) {
      return core.defaultActorLifetime == null ? "" : core.defaultActorLifetime;
    }
    String lt = workerDefaultLifetime;
    if (lt == null) {
      lt = "";
      try {
        for (JobInfo job : core.gcs().getAllJobs(GetAllJobsRequest.getDefaultInstance()).getJobsList()) {
          if (job.getJobId().equals(core.jobId)) {
            lt = job.getDefaultActorLifetime();
          }
        }
        workerDefaultLifetime = lt;
      } catch (RuntimeException e) {
        return "";  // the GCS did not answer: ask again next time
      }
    }
    return lt;
  }

  @Override
  public boolean isDriver() {
    return core.isDriver;
  }

  @Override
  public boolean isCanceled() {
    if (core.isDriver) {
      throw new IllegalStateException("isCanceled() is only available in a task or an actor method, not in a driver");
    }
    ByteString task = core.context().taskId;
    return task != null && CancelRequests.requested(task);
  }

  @Override
  public io.polyray.api.BaseActorHandle getCurrentActor() {
    TaskSpec creation = core.actorCreation;
    if (core.isDriver || creation == null) {
      throw new IllegalStateException("getCurrentActor() is only available inside an actor");
    }
    io.polyray.runtime.proto.ActorHandle.Builder h = io.polyray.runtime.proto.ActorHandle.newBuilder()
        .setActorId(creation.getActorId()).setLanguage(io.polyray.runtime.proto.Language.JAVA)
        .setClassDescriptor(creation.getFunction()).setOwner(creation.getCaller())
        .setMaxTaskRetries(creation.getMaxTaskRetries())
        .setDetached(true);  // weak, as Ray's current_actor: it does not keep the actor alive
    return io.polyray.runtime.ref.AbstractActorHandle.of(h.build());
  }
}
