package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.ExitRequest;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.FunctionDescriptor;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.RegisterWorkerRequest;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.RefHooks;
import io.polyray.runtime.store.SharedStore;
import java.io.File;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WorkerMain as the raylet starts it: a separate JVM with the runtime's classes and
 * lib/* on its class path, the POLYRAY_* environment, and user code in a jar inside a
 * code-search-path directory.
 */
class WorkerMainProcessTest {
  static final Codec CODEC = new Codec(RefHooks.INSTANCE);

  static Path module() {
    return Paths.get(System.getProperty("basedir", ".")).toAbsolutePath();
  }

  static String javaBin() {
    return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** Compiles one class into a jar in {@code libDir}. */
  static void buildJar(Path tmp, Path libDir) throws Exception {
    Path src = tmp.resolve("src/demo/Greet.java");
    Files.createDirectories(src.getParent());
    Files.writeString(src, "package demo;\n"
        + "public class Greet {\n"
        + "  public static String hi(String who) { System.out.println(\"greeting \" + who); return \"hi \" + who; }\n"
        + "}\n");
    Path classes = tmp.resolve("classes");
    Files.createDirectories(classes);
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertEquals(0, javac.run(null, null, null, "-d", classes.toString(), src.toString()));
    Files.createDirectories(libDir);
    try (OutputStream os = Files.newOutputStream(libDir.resolve("demo.jar"));
        JarOutputStream jar = new JarOutputStream(os)) {
      jar.putNextEntry(new JarEntry("demo/Greet.class"));
      jar.write(Files.readAllBytes(classes.resolve("demo/Greet.class")));
      jar.closeEntry();
    }
  }

  static TaskSpec task(FakeNode node, String cls, String method, Object... args) {
    TaskSpec.Builder b = TaskSpec.newBuilder().setType(TaskType.NORMAL_TASK).setLanguage(Language.JAVA)
        .setFunction(FunctionDescriptor.newBuilder().setJava(
            JavaFunctionDescriptor.newBuilder().setClassName(cls).setMethodName(method)))
        .setTaskId(FakeNode.randomBytes(24)).setJobId(ByteString.copyFrom(new byte[] {1, 0, 0, 0}))
        .setCaller(node.ownerAddress()).setNumReturns(1);
    for (Object a : args) {
      b.addArgs(TaskArg.newBuilder().setValue(CODEC.encode(a).toEnvelope()));
    }
    return b.build();
  }

  @Test
  void theRayletsCommandLineRunsTasks(@TempDir Path tmp) throws Exception {
    Path lib = tmp.resolve("lib");
    buildJar(tmp, lib);
    String storeName = "/polyray-jmain-" + ProcessHandle.current().pid();
    try (SharedStore store = SharedStore.create(storeName, 16L << 20); FakeNode node = new FakeNode(store)) {
      Path out = tmp.resolve("worker.log");
      ByteString workerId = FakeNode.randomBytes(28);
      ProcessBuilder pb = new ProcessBuilder(javaBin(),
          "-cp", module().resolve("target/classes") + File.pathSeparator + module().resolve("target/lib") + "/*",
          "-Dpolyray.store.library=" + System.getProperty("polyray.store.library"),
          "io.polyray.runtime.WorkerMain");
      Map<String, String> env = pb.environment();
      env.put("POLYRAY_RAYLET_ADDRESS", node.address());
      env.put("POLYRAY_GCS_ADDRESS", "127.0.0.1:1");
      env.put("POLYRAY_NODE_ID", Hex.of(node.nodeId.toByteArray()));
      env.put("POLYRAY_WORKER_ID", Hex.of(workerId.toByteArray()));
      env.put("POLYRAY_JOB_ID", "01000000");
      env.put("POLYRAY_STARTUP_TOKEN", "tok-42");
      env.put("POLYRAY_STORE_NAME", storeName);
      env.put("POLYRAY_CODE_SEARCH_PATH", lib + File.pathSeparator + "/nonexistent");
      env.put("POLYRAY_NODE_IP", "127.0.0.1");
      pb.redirectErrorStream(true).redirectOutput(out.toFile());
      Process p = pb.start();
      ManagedChannel ch = null;
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (node.registrations.isEmpty() && p.isAlive() && System.nanoTime() < deadline) {
          Thread.sleep(20);
        }
        assertFalse(node.registrations.isEmpty(), () -> "no registration; output: " + read(out));
        RegisterWorkerRequest reg = node.registrations.get(0);
        assertEquals(p.pid(), reg.getPid());
        assertEquals("tok-42", reg.getStartupToken());
        assertEquals(workerId, reg.getWorkerId());
        assertEquals(Language.JAVA, reg.getLanguage());

        ch = Rpc.channel("127.0.0.1:" + reg.getPort());
        TaskSpec hi = task(node, "demo.Greet", "hi", "jvm");
        TaskSpec missing = task(node, "demo.Missing", "f");
        Iterator<PushTasksReply> replies = pushBlocking(ch, List.of(hi, missing));
        List<TaskResult> results = new ArrayList<>();
        replies.forEachRemaining(r -> results.addAll(r.getResultsList()));
        assertEquals(2, results.size());
        assertEquals(Format.FORMAT_XLANG, results.get(0).getReturns(0).getValue().getFormat());
        assertEquals("hi jvm", CODEC.decode(results.get(0).getReturns(0).getValue()));
        ErrorRecord e = (ErrorRecord) CODEC.decode(results.get(1).getReturns(0).getValue());
        assertTrue(e.getMessage().contains("class demo.Missing was not found in the code search path [" + lib
            + ", /nonexistent (missing)]"), e.getMessage());

        assertTrue(CoreWorkerServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
            .exit(ExitRequest.newBuilder().build()).getAccepted());
        assertTrue(p.waitFor(10, TimeUnit.SECONDS), "the worker exits when asked to");
        assertEquals(0, p.exitValue());
        assertTrue(read(out).contains("greeting jvm"), "user output reaches the process's stdout");
      } finally {
        if (ch != null) {
          ch.shutdownNow();
        }
        p.destroyForcibly();
        SharedStore.unlink(storeName);
      }
    }
  }

  /** PushTasks from a blocking client: the async stub, drained into a list. */
  static Iterator<PushTasksReply> pushBlocking(ManagedChannel ch, List<TaskSpec> tasks) throws Exception {
    List<PushTasksReply> got = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
    io.grpc.stub.StreamObserver<PushTasksRequest> req = CoreWorkerServiceGrpc.newStub(ch)
        .withDeadlineAfter(30, TimeUnit.SECONDS)
        .pushTasks(new io.grpc.stub.StreamObserver<PushTasksReply>() {
          @Override
          public void onNext(PushTasksReply r) {
            got.add(r);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    req.onNext(PushTasksRequest.newBuilder().addAllTasks(tasks).build());
    req.onCompleted();
    done.get(30, TimeUnit.SECONDS);
    return got.iterator();
  }

  static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (Exception e) {
      return "<" + e + ">";
    }
  }

  @Test
  void anIncompleteEnvironmentExitsWithAClearMessage(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("out.log");
    ProcessBuilder pb = new ProcessBuilder(javaBin(), "-cp", module().resolve("target/classes") + File.pathSeparator
        + module().resolve("target/lib") + "/*", "io.polyray.runtime.WorkerMain");
    pb.environment().keySet().removeIf(k -> k.startsWith("POLYRAY_"));
    pb.redirectErrorStream(true).redirectOutput(out.toFile());
    Process p = pb.start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(2, p.exitValue());
    assertTrue(read(out).contains("missing environment variable POLYRAY_RAYLET_ADDRESS"), read(out));
  }
}
