package jobs3;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import java.util.ArrayList;
import java.util.List;
import rtenv.Where;

/**
 * A Java driver submitted as a job with a working dir (tests/jobs/test_jobs_three_nodes.py): it
 * sets no code search path and no address; the job gives both ($POLYRAY_ADDRESS, and the
 * working dir's jars on every Java worker's classpath). It runs rtenv.Where (only in the working
 * dir's rtenv.jar) on each node named in args, pinned by the node's custom resource.
 */
public final class JobDriver {
  private JobDriver() {}

  public static void main(String[] args) {
    PolyRay.init();
    try {
      List<ObjectRef<String>> refs = new ArrayList<>();
      for (String node : args) {
        refs.add(PolyRay.task(Where::where, node).setResource(node, 0.01).remote());
      }
      for (int i = 0; i < args.length; i++) {
        System.out.println("RESULT " + args[i] + "=" + PolyRay.get(refs.get(i), 150_000));
      }
    } finally {
      PolyRay.shutdown();
    }
  }
}
