package io.polyray.runtime.codec;

import com.google.protobuf.InvalidProtocolBufferException;
import io.polyray.api.exception.ActorDiedException;
import io.polyray.api.exception.CrossLanguageException;
import io.polyray.api.exception.GcsUnavailableException;
import io.polyray.api.exception.GetTimeoutException;
import io.polyray.api.exception.NodeDiedException;
import io.polyray.api.exception.ObjectLostException;
import io.polyray.api.exception.ObjectStoreFullException;
import io.polyray.api.exception.OwnerDiedException;
import io.polyray.api.exception.PolyRayException;
import io.polyray.api.exception.TaskCancelledException;
import io.polyray.api.exception.TaskException;
import io.polyray.api.exception.WorkerCrashedException;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorReason;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Language;

/**
 * Errors as values (docs/protocol.md §7.6): Java exceptions to
 * {@link ErrorRecord}s, with their cause chains, and records back to the exceptions of
 * {@code io.polyray.api.exception}.
 */
public final class ErrorRecords {
  /** Causes followed when describing an exception (a longer chain is cut). */
  static final int MAX_CAUSE_DEPTH = 16;

  private ErrorRecords() {}

  /**
   * The record of an exception thrown by user code: kind TASK_ERROR, the class name,
   * message, language JAVA, the stack trace (the runtime's own frames cut off), and the
   * cause chain as nested records. An exception raised from an error value (a
   * {@link TaskException} of a nested call) keeps that value's record as its cause, so
   * the chain shows every hop.
   *
   * @param t the exception
   * @return its record
   */
  public static ErrorRecord fromThrowable(Throwable t) {
    return fromThrowable(t, MAX_CAUSE_DEPTH);
  }

  private static ErrorRecord fromThrowable(Throwable t, int depth) {
    ErrorRecord inner = recordOf(t);
    if (inner != null) {
      // This hop re-raised a remote error: same kind, type and message, this hop's
      // frames, and the original record as the cause.
      return ErrorRecord.newBuilder()
          .setKind(inner.getKind())
          .setTypeName(inner.getTypeName())
          .setMessage(inner.getMessage())
          .setLanguage(Language.JAVA)
          .setTraceback(traceback(t))
          .setCause(inner)
          .build();
    }
    ErrorRecord.Builder b = ErrorRecord.newBuilder()
        .setKind(ErrorKind.TASK_ERROR)
        .setTypeName(t.getClass().getName())
        .setMessage(t.getMessage() == null ? "" : t.getMessage())
        .setLanguage(Language.JAVA)
        .setTraceback(traceback(t));
    Throwable cause = t.getCause();
    if (cause != null && cause != t && depth > 1) {
      b.setCause(fromThrowable(cause, depth - 1));
    }
    return b.build();
  }

  /** The record a PolyRayException was built from, or null. */
  private static ErrorRecord recordOf(Throwable t) {
    if (!(t instanceof PolyRayException)) {
      return null;
    }
    byte[] bytes = ((PolyRayException) t).getErrorRecord();
    if (bytes == null) {
      return null;
    }
    try {
      return ErrorRecord.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      return null;
    }
  }

  /**
   * A record of the runtime failing to run a call (unknown class or method, bad
   * arguments, a result with no XLANG form): kind RUNTIME_ERROR, language JAVA.
   *
   * @param typeName the type to report (an exception class name)
   * @param message what went wrong and what to do
   * @return the record
   */
  public static ErrorRecord runtimeError(String typeName, String message) {
    return ErrorRecord.newBuilder()
        .setKind(ErrorKind.RUNTIME_ERROR)
        .setTypeName(typeName)
        .setMessage(message == null ? "" : message)
        .setLanguage(Language.JAVA)
        .build();
  }

  /**
   * A record of a system failure detected by this process.
   *
   * @param kind the failure (WORKER_CRASHED, OBJECT_LOST, ...)
   * @param message what happened
   * @return the record
   */
  public static ErrorRecord system(ErrorKind kind, String message) {
    return ErrorRecord.newBuilder()
        .setKind(kind)
        .setTypeName(systemTypeName(kind))
        .setMessage(message == null ? "" : message)
        .setLanguage(Language.JAVA)
        .build();
  }

  /**
   * The error value of a borrowed object whose owner did not answer GetObject: the owner
   * died when nothing listens at its address (UNAVAILABLE: OWNER_DIED, REASON_OWNER_DIED),
   * else the object is lost.
   *
   * @param objectHex the object's id in hex
   * @param owner the owner's address, as text
   * @param code the gRPC status code of the failed call
   * @return the record
   */
  public static ErrorRecord ownerUnreachable(String objectHex, String owner, io.grpc.Status.Code code) {
    if (code == io.grpc.Status.Code.UNAVAILABLE) {
      return system(ErrorKind.OWNER_DIED, "the owner of object " + objectHex + " at " + owner + " died (" + code
          + "); the object is lost").toBuilder().setReason(ErrorReason.REASON_OWNER_DIED).build();
    }
    return system(ErrorKind.OBJECT_LOST, "the owner of object " + objectHex + " at " + owner
        + " is unreachable (" + code + "); the object is lost");
  }

  private static String systemTypeName(ErrorKind kind) {
    switch (kind) {
      case WORKER_CRASHED:
        return WorkerCrashedException.class.getName();
      case ACTOR_DIED:
        return ActorDiedException.class.getName();
      case OBJECT_LOST:
        return ObjectLostException.class.getName();
      case TASK_CANCELLED:
        return TaskCancelledException.class.getName();
      case NODE_DIED:
        return NodeDiedException.class.getName();
      case OBJECT_STORE_FULL:
        return ObjectStoreFullException.class.getName();
      case GET_TIMEOUT:
        return GetTimeoutException.class.getName();
      case OWNER_DIED:
        return OwnerDiedException.class.getName();
      case GCS_UNAVAILABLE:
        return GcsUnavailableException.class.getName();
      default:
        return RuntimeException.class.getName();
    }
  }

  /**
   * A Java stack trace in the usual form ({@code type: message} then {@code \tat}
   * lines), without causes (they are records of their own) and without the frames of
   * the runtime that invoked the user's method.
   *
   * @param t the exception
   * @return the traceback text
   */
  public static String traceback(Throwable t) {
    StringBuilder sb = new StringBuilder();
    sb.append(t);
    sb.append('\n');
    StackTraceElement[] frames = t.getStackTrace();
    int end = frames.length;
    for (int i = 1; i < frames.length; i++) {
      String c = frames[i].getClassName();
      if (c.startsWith("jdk.internal.reflect.") || c.startsWith("java.lang.reflect.")
          || c.startsWith("io.polyray.runtime.worker.")) {
        end = i;
        break;
      }
    }
    for (int i = 0; i < end; i++) {
      sb.append("\tat ").append(frames[i]).append('\n');
    }
    return sb.toString();
  }

  /**
   * The exception a Java consumer raises for an error value: the system failure types
   * for their kinds; else {@link CrossLanguageException} when the chain crossed
   * languages, {@link TaskException} otherwise. Each record's cause becomes the
   * exception's cause.
   *
   * @param record the error
   * @return the exception (not thrown)
   */
  public static PolyRayException toException(ErrorRecord record) {
    return toException(record, MAX_CAUSE_DEPTH * 2);
  }

  /** The first record along the cause chain with a reason set, or null. */
  private static ErrorRecord firstReason(ErrorRecord r) {
    for (int i = 0; r != null && i < MAX_CAUSE_DEPTH * 2; i++) {
      if (r.getReason() != ErrorReason.REASON_UNSPECIFIED) {
        return r;
      }
      r = r.hasCause() ? r.getCause() : null;
    }
    return null;
  }

  private static PolyRayException toException(ErrorRecord r, int depth) {
    Throwable cause = r.hasCause() && depth > 1 ? toException(r.getCause(), depth - 1) : null;
    byte[] bytes = XlangEncoder.deterministic(r);
    String msg = r.getMessage();
    switch (r.getKind()) {
      case WORKER_CRASHED:
        return new WorkerCrashedException(withCause(msg, r), cause, bytes);
      case ACTOR_DIED: {
        ErrorRecord why = firstReason(r);
        return new ActorDiedException(withCause(msg, r), cause, bytes,
            why == null ? null : why.getReason().name(),
            why != null && why.getReason() == ErrorReason.REASON_PROCESS_EXITED ? why.getExitCode() : null);
      }
      case OBJECT_LOST:
        if (r.getReason() == ErrorReason.REASON_OWNER_DIED) {
          return new OwnerDiedException(withCause(msg, r), cause, bytes);
        }
        ErrorRecord lostWhy = firstReason(r);
        return new ObjectLostException(withCause(msg, r), cause, bytes,
            lostWhy == null ? null : lostWhy.getReason().name());
      case OWNER_DIED:
        return new OwnerDiedException(withCause(msg, r), cause, bytes);
      case GCS_UNAVAILABLE:
        return new GcsUnavailableException(withCause(msg, r), cause, bytes);
      case TASK_CANCELLED:
        return new TaskCancelledException(withCause(msg, r), cause, bytes);
      case NODE_DIED:
        return new NodeDiedException(withCause(msg, r), cause, bytes);
      case OBJECT_STORE_FULL:
        return new ObjectStoreFullException(withCause(msg, r), cause, bytes);
      case GET_TIMEOUT:
        return new GetTimeoutException(withCause(msg, r), cause, bytes);
      default:
        break;
    }
    String message = r.getTypeName() + ": " + msg + "\n\nRemote traceback:\n" + formatChain(r);
    io.polyray.api.Language lang = apiLanguage(r.getLanguage());
    if (crossedLanguages(r)) {
      return new CrossLanguageException(message, lang, r.getTypeName(), r.getTraceback(), cause, bytes);
    }
    return new TaskException(message, lang, r.getTypeName(), r.getTraceback(), cause, bytes);
  }

  private static String withCause(String msg, ErrorRecord r) {
    return r.hasCause() ? msg + "\n\nCaused by:\n" + formatChain(r.getCause()) : msg;
  }

  private static io.polyray.api.Language apiLanguage(Language l) {
    return l == Language.UNRECOGNIZED ? null : io.polyray.api.Language.fromNumber(l.getNumber());
  }

  private static boolean crossedLanguages(ErrorRecord r) {
    for (int i = 0; r != null && i < 64; i++) {
      if (r.getLanguage() != Language.JAVA) {
        return true;
      }
      r = r.hasCause() ? r.getCause() : null;
    }
    return false;
  }

  /**
   * Every hop of a record's chain, outermost first: {@code [LANG] type: message} and its
   * traceback, joined by "Caused by:".
   *
   * @param record the outermost record
   * @return the text
   */
  public static String formatChain(ErrorRecord record) {
    StringBuilder sb = new StringBuilder();
    ErrorRecord r = record;
    for (int depth = 0; r != null && depth < 32; depth++) {
      if (depth > 0) {
        sb.append("\n\nCaused by:\n");
      }
      sb.append('[').append(r.getLanguage()).append("] ").append(r.getTypeName()).append(": ").append(r.getMessage());
      String tb = r.getTraceback().stripTrailing();
      if (!tb.isEmpty()) {
        sb.append('\n').append(tb);
      }
      r = r.hasCause() ? r.getCause() : null;
    }
    return sb.toString();
  }
}
