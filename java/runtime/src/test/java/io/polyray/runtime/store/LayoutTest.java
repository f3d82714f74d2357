package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import org.junit.jupiter.api.Test;

/**
 * The binding reads C structs at fixed offsets for speed; here JNA lays the
 * same structs out by the platform's C rules, and the offsets must agree.
 */
class LayoutTest {
  /** Exposes JNA's computed field offsets (protected in Structure). */
  public abstract static class Struct extends Structure {
    int offsetOf(String field) {
      return fieldOffset(field);
    }
  }

  @Structure.FieldOrder({"data", "data_size", "metadata", "metadata_size", "found"})
  public static class View extends Struct {
    public Pointer data;
    public long data_size;
    public Pointer metadata;
    public long metadata_size;
    public int found;
  }

  @Structure.FieldOrder({
    "id", "data_size", "metadata_size", "sealed", "creator_pid", "pins", "delete_pending"
  })
  public static class Info extends Struct {
    public byte[] id = new byte[ObjectId.SIZE];
    public long data_size;
    public long metadata_size;
    public int sealed;
    public int creator_pid;
    public long pins;
    public int delete_pending;
  }

  @Structure.FieldOrder({
    "capacity", "bytes_used", "objects", "sealed_objects", "pinned_objects", "evictions",
    "recoveries"
  })
  public static class Stats extends Struct {
    public long capacity;
    public long bytes_used;
    public long objects;
    public long sealed_objects;
    public long pinned_objects;
    public long evictions;
    public long recoveries;
  }

  @Test
  void viewLayout() {
    View v = new View();
    assertEquals(StoreNative.VIEW_SIZE, v.size());
    assertEquals(StoreNative.VIEW_DATA, v.offsetOf("data"));
    assertEquals(StoreNative.VIEW_DATA_SIZE, v.offsetOf("data_size"));
    assertEquals(StoreNative.VIEW_METADATA, v.offsetOf("metadata"));
    assertEquals(StoreNative.VIEW_METADATA_SIZE, v.offsetOf("metadata_size"));
    assertEquals(StoreNative.VIEW_FOUND, v.offsetOf("found"));
  }

  @Test
  void infoLayout() {
    Info i = new Info();
    assertEquals(StoreNative.INFO_SIZE, i.size());
    assertEquals(StoreNative.INFO_ID, i.offsetOf("id"));
    assertEquals(StoreNative.INFO_DATA_SIZE, i.offsetOf("data_size"));
    assertEquals(StoreNative.INFO_METADATA_SIZE, i.offsetOf("metadata_size"));
    assertEquals(StoreNative.INFO_SEALED, i.offsetOf("sealed"));
    assertEquals(StoreNative.INFO_CREATOR_PID, i.offsetOf("creator_pid"));
    assertEquals(StoreNative.INFO_PINS, i.offsetOf("pins"));
    assertEquals(StoreNative.INFO_DELETE_PENDING, i.offsetOf("delete_pending"));
  }

  @Test
  void statsLayout() {
    assertEquals(StoreNative.STATS_SIZE, new Stats().size());
  }
}
