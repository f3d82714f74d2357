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

  @Override
  public boolean isDriver() {
    return core.isDriver;
  }
}
