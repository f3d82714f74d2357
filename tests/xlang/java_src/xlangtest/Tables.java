package xlangtest;

import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.util.TransferPair;
import java.util.ArrayList;

/** Arrow tables: ARROW envelopes as arrow-java VectorSchemaRoots. */
public class Tables {
  /** The table with an extra int64 column "doubled" = 2 * column "x". */
  public static VectorSchemaRoot addColumn(VectorSchemaRoot in) {
    BigIntVector x = (BigIntVector) in.getVector("x");
    int n = in.getRowCount();
    BufferAllocator alloc = x.getAllocator();
    List<FieldVector> vectors = new ArrayList<>();
    for (FieldVector v : in.getFieldVectors()) {
      TransferPair tp = v.getTransferPair(alloc);
      tp.splitAndTransfer(0, n);
      vectors.add((FieldVector) tp.getTo());
    }
    BigIntVector doubled = new BigIntVector("doubled", alloc);
    doubled.allocateNew(n);
    for (int i = 0; i < n; i++) {
      if (x.isNull(i)) {
        doubled.setNull(i);
      } else {
        doubled.set(i, 2 * x.get(i));
      }
    }
    doubled.setValueCount(n);
    vectors.add(doubled);
    return new VectorSchemaRoot(vectors);
  }

  /** The sum of an int64 column. */
  public static long sumColumn(VectorSchemaRoot in, String column) {
    BigIntVector v = (BigIntVector) in.getVector(column);
    long s = 0;
    for (int i = 0; i < in.getRowCount(); i++) {
      if (!v.isNull(i)) {
        s += v.get(i);
      }
    }
    return s;
  }

  /** The number of IPC bytes, for callers that want the raw stream. */
  public static long ipcSize(io.polyray.runtime.codec.ArrowIpc ipc) {
    return ipc.toByteArray().length;
  }
}
