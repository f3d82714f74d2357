package io.polyray.runtime.store;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;

/**
 * Command-line access to a node's store from a JVM: copies a file into an
 * object, or an object into a file. Used by the cross-language tests and
 * handy for inspecting a store by hand.
 *
 * <pre>
 *   StoreTool put &lt;segment&gt; &lt;hex-id&gt; &lt;file&gt;
 *   StoreTool get &lt;segment&gt; &lt;hex-id&gt; &lt;out-file&gt; [timeoutMs]
 * </pre>
 *
 * <p>Exit status: 0 on success, 1 when the store or a file fails, 2 for bad
 * usage. Errors go to stderr as one line that says what was wrong.
 */
public final class StoreTool {
  private static final String USAGE =
      "usage: StoreTool put <segment> <hex-id> <file>\n"
          + "       StoreTool get <segment> <hex-id> <out-file> [timeoutMs]   (default 0: no wait)";

  private StoreTool() {}

  /** Runs the tool and exits with its status. */
  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs the tool without exiting, so tests can call it in-process.
   *
   * @return the exit status
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0) {
      err.println(USAGE);
      return 2;
    }
    String cmd = args[0];
    try {
      switch (cmd) {
        case "put":
          if (args.length != 4) {
            return usage(err, "put takes 3 arguments, got " + (args.length - 1));
          }
          put(args[1], ObjectId.fromHex(args[2]), Paths.get(args[3]));
          return 0;
        case "get":
          if (args.length != 4 && args.length != 5) {
            return usage(err, "get takes 3 or 4 arguments, got " + (args.length - 1));
          }
          long timeoutMs = 0;
          if (args.length == 5) {
            try {
              timeoutMs = Long.parseLong(args[4]);
            } catch (NumberFormatException e) {
              return usage(err, "timeoutMs must be an integer, got '" + args[4] + "'");
            }
          }
          get(args[1], ObjectId.fromHex(args[2]), Paths.get(args[3]), timeoutMs);
          return 0;
        case "-h":
        case "--help":
        case "help":
          out.println(USAGE);
          return 0;
        default:
          return usage(err, "unknown command '" + cmd + "'");
      }
    } catch (StoreException e) {
      err.println("StoreTool: " + e.getMessage());
      return 1;
    } catch (NoSuchFileException e) {
      err.println("StoreTool: no such file: " + e.getFile());
      return 1;
    } catch (IOException e) {
      err.println("StoreTool: " + e);
      return 1;
    }
  }

  private static int usage(PrintStream err, String problem) {
    err.println("StoreTool: " + problem);
    err.println(USAGE);
    return 2;
  }

  /** Reads the file straight into the object's mapped memory: no intermediate buffer. */
  private static void put(String segment, ObjectId id, Path file) throws IOException {
    try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ);
        SharedStore store = SharedStore.open(segment)) {
      long size = in.size();
      try (ObjectBuilder b = store.create(id, size, 0)) {
        ByteBuffer dst = b.data();
        while (dst.hasRemaining()) {
          if (in.read(dst) < 0) {
            throw new IOException(file + " shrank while being read: expected " + size + " bytes");
          }
        }
        b.seal();
      }
    }
  }

  /** Writes the object's mapped memory straight to the file. */
  private static void get(String segment, ObjectId id, Path file, long timeoutMs)
      throws IOException {
    try (SharedStore store = SharedStore.open(segment);
        ObjectView v = store.getOne(id, timeoutMs);
        FileChannel outCh =
            FileChannel.open(
                file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer src = v.data();
      while (src.hasRemaining()) {
        outCh.write(src);
      }
    }
  }
}
