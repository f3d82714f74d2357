package ctxtest;

import io.polyray.api.PolyRay;
import io.polyray.api.RuntimeContext;
import java.util.Map;
import java.util.TreeMap;

/** The runtime context of a Java task and a Java actor, as a map (tests/api/test_runtime_context_xlang.py). */
public class Ctx {
  public Ctx() {}

  static Map<String, String> describe() {
    RuntimeContext c = PolyRay.getRuntimeContext();
    Map<String, String> m = new TreeMap<>();
    m.put("job_id", c.getJobId());
    m.put("node_id", c.getNodeId());
    m.put("worker_id", c.getWorkerId());
    m.put("task_id", String.valueOf(c.getTaskId()));
    m.put("actor_id", String.valueOf(c.getActorId()));
    m.put("restarted", String.valueOf(c.wasCurrentActorRestarted()));
    m.put("namespace", c.getNamespace());
    m.put("is_driver", String.valueOf(c.isDriver()));
    StringBuilder res = new StringBuilder();
    for (Map.Entry<String, Double> e : c.getAssignedResources().entrySet()) {
      res.append(res.length() == 0 ? "" : ",").append(e.getKey()).append('=').append(e.getValue());
    }
    m.put("resources", res.toString());
    return m;
  }

  public static Map<String, String> context() {
    return describe();
  }

  public Map<String, String> actorContext() {
    return describe();
  }

  public long pid() {
    return ProcessHandle.current().pid();
  }
}
