package io.polyray.runtime.core;

import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.store.ObjectBuilder;
import io.polyray.runtime.store.ObjectExistsException;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.SharedStore;

/** Writing encoded values into the node's shared store (shared by the CoreWorker and the Java worker). */
public final class StoreWrites {
  private StoreWrites() {
  }

  /**
   * Creates, writes and seals {@code enc} under {@code id}; aborts the object when the
   * write fails. An object already sealed under that ID (a retried task on this node) is
   * left as it is.
   *
   * @param s the store
   * @param id the object's ID
   * @param enc the value
   * @throws io.polyray.runtime.store.StoreFullException when the value does not fit
   */
  public static void writeSealed(SharedStore s, ObjectId id, Encoded enc) {
    StoreLayout layout = StoreLayout.of(enc);
    byte[] meta = layout.metadata();
    try {
      ObjectBuilder b = s.create(id, layout.dataSize(), meta.length);
      try {
        layout.write(b.data());
        b.metadata().put(meta);
        b.seal();
      } catch (RuntimeException e) {
        b.abort();
        throw e;
      }
    } catch (ObjectExistsException e) {
      // a retried task already sealed it: pin that copy
    }
  }
}
