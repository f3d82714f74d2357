package io.polyray.runtime.codec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.apache.arrow.vector.util.VectorSchemaRootAppender;

/**
 * ARROW envelopes as arrow-java tables: an IPC stream ({@link ArrowIpc}) to a
 * {@link VectorSchemaRoot} and back. Roots are allocated from one process-wide
 * allocator; whoever gets a root closes it (a Java worker closes the roots it passed to
 * a task and the root a task returned, after encoding it). Arrow's memory needs
 * {@code --add-opens=java.base/java.nio=ALL-UNNAMED} on Java 17.
 */
public final class ArrowTables {
  private ArrowTables() {}

  private static final class Holder {
    static final BufferAllocator ROOT = new RootAllocator(Long.MAX_VALUE);
  }

  /**
   * The allocator that decoded tables use.
   *
   * @return the process-wide root allocator
   */
  public static BufferAllocator allocator() {
    return Holder.ROOT;
  }

  /**
   * Reads an IPC stream into one root: every record batch, appended in order.
   *
   * @param ipc the stream
   * @return a new root (the caller closes it)
   * @throws IllegalArgumentException for a malformed stream
   */
  public static VectorSchemaRoot toRoot(ArrowIpc ipc) {
    BufferAllocator alloc = allocator();
    try (ArrowStreamReader reader = new ArrowStreamReader(
        new ByteArrayReadableSeekableByteChannel(ipc.toByteArray()), alloc)) {
      VectorSchemaRoot batch = reader.getVectorSchemaRoot();
      VectorSchemaRoot out = VectorSchemaRoot.create(batch.getSchema(), alloc);
      try {
        out.allocateNew();
        out.setRowCount(0);
        while (reader.loadNextBatch()) {
          VectorSchemaRootAppender.append(false, out, batch);
        }
        return out;
      } catch (RuntimeException | IOException e) {
        out.close();
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("malformed ARROW envelope: " + e.getMessage(), e);
    }
  }

  /**
   * Writes a root as an IPC stream (schema, one record batch, end marker).
   *
   * @param root the table (not closed)
   * @return the stream as an {@link ArrowIpc}
   */
  public static ArrowIpc fromRoot(VectorSchemaRoot root) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ArrowStreamWriter w = new ArrowStreamWriter(root, null, Channels.newChannel(out))) {
      w.start();
      w.writeBatch();
      w.end();
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot write the Arrow table: " + e.getMessage(), e);
    }
    return new ArrowIpc(ByteBuffer.wrap(out.toByteArray()));
  }

  /**
   * Closes every {@link VectorSchemaRoot} among {@code values} (once each), ignoring others.
   *
   * @param values values, possibly roots; nulls are skipped
   */
  public static void closeRoots(Object... values) {
    List<Object> seen = new ArrayList<>();
    for (Object v : values) {
      if (v instanceof VectorSchemaRoot && seen.stream().noneMatch(s -> s == v)) {
        seen.add(v);
        try {
          ((VectorSchemaRoot) v).close();
        } catch (RuntimeException ignored) {
          // already closed or released: nothing more to free
        }
      }
    }
  }
}
