package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A job's runtime env in the Java SDK: where it is read from, and that lease requests carry it
 * so the raylet prepares it and never hands a worker of one env to a task of another (a fake
 * raylet records the requests; no cluster).
 */
class RuntimeEnvTest {
  private final FakeRaylet.Directory raylets = new FakeRaylet.Directory();
  private final NormalTaskSubmitter submitter = new NormalTaskSubmitter(raylets, new FakePushStreams(),
      new RecordingFinisher(), new ManualScheduler(), () -> false);

  private static TaskSpec spec(int n, String runtimeEnv) {
    ByteString taskId = ByteString.copyFrom(new byte[] {(byte) n})
        .concat(ByteString.copyFrom(new byte[RuntimeSpec.IDS_TASK_BYTES - 1]));
    return TaskSpec.newBuilder().setTaskId(taskId).setName("f").putResources("CPU", 1.0)
        .setRuntimeEnv(runtimeEnv).build();
  }

  @Test
  void theSystemPropertyIsTheJobsRuntimeEnv() {
    String before = System.getProperty(RuntimeEnvConfig.PROPERTY);
    try {
      System.setProperty(RuntimeEnvConfig.PROPERTY, "  {\"env_vars\":{\"A\":\"1\"}} ");
      assertEquals("{\"env_vars\":{\"A\":\"1\"}}", RuntimeEnvConfig.fromEnvironment());
      assertEquals("{\"env_vars\":{\"A\":\"1\"}}", new CoreWorker.Options().runtimeEnv);
    } finally {
      if (before == null) {
        System.clearProperty(RuntimeEnvConfig.PROPERTY);
      } else {
        System.setProperty(RuntimeEnvConfig.PROPERTY, before);
      }
    }
  }

  @Test
  void leaseRequestsCarryTheEnvAndTwoEnvsNeverShareALease() {
    TaskSpec a = spec(1, "{\"env_vars\":{\"V\":\"a\"}}");
    TaskSpec b = spec(2, "{\"env_vars\":{\"V\":\"b\"}}");
    submitter.submit(new PendingTask(a, List.of()));
    submitter.submit(new PendingTask(b, List.of()));
    List<FakeRaylet.Call> requests = raylets.local.requests;
    assertEquals(2, requests.size(), "one lease request per runtime env");
    assertEquals(a.getRuntimeEnv(), requests.get(0).request.getTask().getRuntimeEnv());
    assertEquals(b.getRuntimeEnv(), requests.get(1).request.getTask().getRuntimeEnv());
  }
}
