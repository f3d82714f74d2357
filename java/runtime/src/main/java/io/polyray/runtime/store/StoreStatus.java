package io.polyray.runtime.store;

/**
 * Status codes of the C store API ({@code prs_status} in polyray_store.h).
 *
 * <p>Mirrored as an enum so Java code can switch on a failure's cause; the
 * numeric codes are the C library's and must not change.
 */
public enum StoreStatus {
  /** The call succeeded. */
  OK(0, "ok"),
  /** A bad argument: null, a size out of range, a bad segment name. */
  INVALID(1, "invalid argument"),
  /** An object id that is not {@link ObjectId#SIZE} bytes. */
  ID_LENGTH(2, "bad object id length"),
  /** No such object (or not created by this caller, for seal/abort). */
  NOT_FOUND(3, "object not found"),
  /** The object (or, when creating a store, the segment) already exists. */
  EXISTS(4, "already exists"),
  /** Seal, abort or write of an object that is already sealed. */
  SEALED(5, "object already sealed"),
  /** An operation that needs a sealed object got an unsealed one. */
  NOT_SEALED(6, "object not sealed"),
  /** No room, even after evicting every unpinned sealed object. */
  FULL(7, "store full"),
  /** Some objects were not sealed within the timeout. */
  TIMEOUT(8, "timed out"),
  /** The store handle was closed. */
  CLOSED(9, "store handle closed"),
  /** Open of a segment that does not exist. */
  NO_SEGMENT(10, "no such store segment"),
  /** The requested capacity cannot be mapped on this machine. */
  NO_MEMORY(11, "capacity cannot be mapped"),
  /** The object index or pin table has no free slot. */
  TABLE_FULL(12, "store table full"),
  /** Release of an object this process does not pin. */
  NOT_PINNED(13, "object not pinned by this process"),
  /** The segment is not a polyray store (magic or version mismatch). */
  BAD_SEGMENT(14, "not a polyray store segment"),
  /** An OS call failed; the message carries errno's text. */
  SYSTEM(15, "system error"),
  /** A code this binding does not know (a newer C library). */
  UNKNOWN(-1, "unknown status");

  private static final StoreStatus[] BY_CODE = new StoreStatus[16];

  static {
    for (StoreStatus s : values()) {
      if (s.code >= 0) {
        BY_CODE[s.code] = s;
      }
    }
  }

  private final int code;
  private final String description;

  StoreStatus(int code, String description) {
    this.code = code;
    this.description = description;
  }

  /** Human-readable name, the same words as the C library's {@code prs_status_name}. */
  public String description() {
    return description;
  }

  /** The numeric {@code prs_status} value. */
  public int code() {
    return code;
  }

  /** The status for a C return code; {@link #UNKNOWN} for codes this binding predates. */
  public static StoreStatus fromCode(int code) {
    return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : UNKNOWN;
  }
}
