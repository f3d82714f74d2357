package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.ObjectRef;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.spec.RuntimeSpec;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Checks on what enters a Java process (docs/fault-tolerance.md, "Bad input"): the same checks
 * as Python's {@code polyray.protocol.validation} and C++'s {@code validation.h}, against the
 * runtime spec's [ids] sizes and [limits]. A failure names the field:
 * {@code TaskSpec.task_id: 3 bytes, expected 24}.
 */
public final class Validation {
  private Validation() {}

  /** A field that failed its check; the message names it. */
  public static final class InvalidInput extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    InvalidInput(String field, String problem) {
      super(field + ": " + problem);
    }
  }

  /** {@code value} is {@code size} bytes (or empty when {@code optional}). */
  public static void checkId(ByteString value, String field, int size, boolean optional) {
    int n = value.size();
    if (n != size && !(optional && n == 0)) {
      throw new InvalidInput(field, n + " bytes, expected " + size);
    }
  }

  static void checkName(String value, String field) {
    if (value.length() > RuntimeSpec.LIMITS_MAX_NAME_BYTES / 4) {
      int n = value.getBytes(StandardCharsets.UTF_8).length;
      if (n > RuntimeSpec.LIMITS_MAX_NAME_BYTES) {
        throw new InvalidInput(field, n + " bytes, at most " + RuntimeSpec.LIMITS_MAX_NAME_BYTES);
      }
    }
  }

  static void checkCount(int n, String field, int limit) {
    if (n > limit) {
      throw new InvalidInput(field, n + " entries, at most " + limit);
    }
  }

  static void checkAddress(Address a, String field) {
    checkId(a.getNodeId(), field + ".node_id", RuntimeSpec.IDS_NODE_BYTES, true);
    checkId(a.getWorkerId(), field + ".worker_id", RuntimeSpec.IDS_WORKER_BYTES, true);
    checkName(a.getHost(), field + ".host");
    if (a.getPort() < 0 || a.getPort() > 65535) {
      throw new InvalidInput(field + ".port", a.getPort() + " is not a port (0..65535)");
    }
    if (a.getPushPort() < 0 || a.getPushPort() > 65535) {
      throw new InvalidInput(field + ".push_port", a.getPushPort() + " is not a port (0..65535)");
    }
  }

  static void checkRef(ObjectRef r, String field) {
    checkId(r.getObjectId(), field + ".object_id", RuntimeSpec.IDS_OBJECT_BYTES, false);
    checkAddress(r.getOwner(), field + ".owner");
  }

  static void checkArg(TaskArg a, String field) {
    switch (a.getKindCase()) {
      case VALUE:
        Envelope env = a.getValue();
        if (env.getFormat() == Format.UNRECOGNIZED) {
          throw new InvalidInput(field + ".value.format", "unknown Format value " + env.getFormatValue());
        }
        checkCount(env.getBuffersCount(), field + ".value.buffers", RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
        break;
      case REF:
        checkRef(a.getRef(), field + ".ref");
        break;
      default:
        throw new InvalidInput(field, "neither a value nor a ref");
    }
    checkCount(a.getNestedRefsCount(), field + ".nested_refs", RuntimeSpec.LIMITS_MAX_NESTED_REFS);
    for (int i = 0; i < a.getNestedRefsCount(); i++) {
      checkRef(a.getNestedRefs(i), field + ".nested_refs[" + i + "]");
    }
  }

  /** Whether an error result can be sent for {@code spec}: its return ids can be made. */
  public static boolean addressable(TaskSpec spec) {
    return spec.getTaskId().size() == RuntimeSpec.IDS_TASK_BYTES && spec.getNumReturns() >= 0
        && spec.getNumReturns() <= RuntimeSpec.LIMITS_MAX_NUM_RETURNS;
  }

  /** Everything a worker relies on in a TaskSpec before running it. */
  public static void checkTaskSpec(TaskSpec spec) {
    String f = "TaskSpec";
    checkId(spec.getTaskId(), f + ".task_id", RuntimeSpec.IDS_TASK_BYTES, false);
    int n = spec.getNumReturns();
    if (n < 0 || n > RuntimeSpec.LIMITS_MAX_NUM_RETURNS) {
      throw new InvalidInput(f + ".num_returns", n + ", expected 0.." + RuntimeSpec.LIMITS_MAX_NUM_RETURNS);
    }
    if (spec.getType() == TaskType.UNRECOGNIZED) {
      throw new InvalidInput(f + ".type", "unknown TaskType value " + spec.getTypeValue());
    }
    if (spec.getLanguage() == Language.UNRECOGNIZED) {
      throw new InvalidInput(f + ".language", "unknown Language value " + spec.getLanguageValue());
    }
    if (spec.getCallerLanguage() == Language.UNRECOGNIZED) {
      throw new InvalidInput(f + ".caller_language", "unknown Language value " + spec.getCallerLanguageValue());
    }
    checkId(spec.getJobId(), f + ".job_id", RuntimeSpec.IDS_JOB_BYTES, false);
    checkId(spec.getParentTaskId(), f + ".parent_task_id", RuntimeSpec.IDS_TASK_BYTES, true);
    switch (spec.getFunction().getKindCase()) {
      case PYTHON:
        checkName(spec.getFunction().getPython().getModule(), f + ".function.python.module");
        checkName(spec.getFunction().getPython().getQualname(), f + ".function.python.qualname");
        break;
      case JAVA:
        checkName(spec.getFunction().getJava().getClassName(), f + ".function.java.class_name");
        checkName(spec.getFunction().getJava().getMethodName(), f + ".function.java.method_name");
        checkName(spec.getFunction().getJava().getSignature(), f + ".function.java.signature");
        break;
      case CPP:
        checkName(spec.getFunction().getCpp().getFunctionName(), f + ".function.cpp.function_name");
        checkName(spec.getFunction().getCpp().getClassName(), f + ".function.cpp.class_name");
        break;
      default:
        throw new InvalidInput(f + ".function", "not set");
    }
    checkAddress(spec.getCaller(), f + ".caller");
    int nArgs = spec.getArgsCount() + spec.getKwargsCount();
    if (nArgs > RuntimeSpec.LIMITS_MAX_ARGS) {
      throw new InvalidInput(f + ".args", nArgs + " arguments, at most " + RuntimeSpec.LIMITS_MAX_ARGS);
    }
    for (int i = 0; i < spec.getArgsCount(); i++) {
      checkArg(spec.getArgs(i), f + ".args[" + i + "]");
    }
    for (int i = 0; i < spec.getKwargsCount(); i++) {
      checkName(spec.getKwargs(i).getName(), f + ".kwargs[" + i + "].name");
      checkArg(spec.getKwargs(i).getArg(), f + ".kwargs[" + i + "].arg");
    }
    checkCount(spec.getResourcesCount(), f + ".resources", RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
    for (Map.Entry<String, Double> e : spec.getResourcesMap().entrySet()) {
      checkName(e.getKey(), f + ".resources key");
      double v = e.getValue();
      if (!Double.isFinite(v) || v < 0) {
        throw new InvalidInput(f + ".resources['" + e.getKey() + "']",
            "'" + e.getKey() + "' must not be negative or infinite, got " + v);
      }
    }
    if (spec.getScheduling().getKind() == io.polyray.runtime.proto.SchedulingKind.UNRECOGNIZED) {
      throw new InvalidInput(f + ".scheduling.kind", "unknown SchedulingKind value "
          + spec.getScheduling().getKindValue());
    }
    checkId(spec.getScheduling().getNodeId(), f + ".scheduling.node_id", RuntimeSpec.IDS_NODE_BYTES, true);
    checkId(spec.getScheduling().getPlacementGroupId(), f + ".scheduling.placement_group_id",
        RuntimeSpec.IDS_PLACEMENT_GROUP_BYTES, true);
    if (spec.getMaxRetries() < -1) {
      throw new InvalidInput(f + ".max_retries", spec.getMaxRetries() + ", expected >= -1 (-1 = forever)");
    }
    if (spec.getMaxRestarts() < -1) {
      throw new InvalidInput(f + ".max_restarts", spec.getMaxRestarts() + ", expected >= -1 (-1 = forever)");
    }
    if (spec.getMaxTaskRetries() < -1) {
      throw new InvalidInput(f + ".max_task_retries", spec.getMaxTaskRetries() + ", expected >= -1 (-1 = forever)");
    }
    if (spec.getAttempt() < 0) {
      throw new InvalidInput(f + ".attempt", spec.getAttempt() + ", expected >= 0");
    }
    if (spec.getMaxConcurrency() < 0) {
      throw new InvalidInput(f + ".max_concurrency", spec.getMaxConcurrency() + ", expected >= 0");
    }
    checkName(spec.getName(), f + ".name");
    checkName(spec.getActorName(), f + ".actor_name");
    checkName(spec.getActorNamespace(), f + ".actor_namespace");
    checkId(spec.getActorId(), f + ".actor_id", RuntimeSpec.IDS_ACTOR_BYTES, spec.getType() == TaskType.NORMAL_TASK);
    checkId(spec.getCallerWorkerId(), f + ".caller_worker_id", RuntimeSpec.IDS_WORKER_BYTES, true);
    checkCount(spec.getCodeSearchPathCount(), f + ".code_search_path", RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
    for (int i = 0; i < spec.getCodeSearchPathCount(); i++) {
      checkName(spec.getCodeSearchPath(i), f + ".code_search_path[" + i + "]");
    }
  }

  /** An UpdateBorrowsRequest: the borrower's address and every object id. */
  public static void checkBorrows(io.polyray.runtime.proto.UpdateBorrowsRequest r) {
    checkAddress(r.getBorrower(), "UpdateBorrowsRequest.borrower");
    checkId(r.getBorrower().getWorkerId(), "UpdateBorrowsRequest.borrower.worker_id", RuntimeSpec.IDS_WORKER_BYTES,
        false);
    checkCount(r.getAddedCount(), "UpdateBorrowsRequest.added", RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
    checkCount(r.getRemovedCount(), "UpdateBorrowsRequest.removed", RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
    for (int i = 0; i < r.getAddedCount(); i++) {
      checkId(r.getAdded(i), "UpdateBorrowsRequest.added[" + i + "]", RuntimeSpec.IDS_OBJECT_BYTES, false);
    }
    for (int i = 0; i < r.getRemovedCount(); i++) {
      checkId(r.getRemoved(i), "UpdateBorrowsRequest.removed[" + i + "]", RuntimeSpec.IDS_OBJECT_BYTES, false);
    }
    // The lender of lent and of each acknowledgement (docs/ownership.md, Deaths): worker ids or empty.
    if (r.hasLender()) {
      checkAddress(r.getLender(), "UpdateBorrowsRequest.lender");
    }
    checkCount(r.getLentReceivedLendersCount(), "UpdateBorrowsRequest.lent_received_lenders",
        RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
    for (int i = 0; i < r.getLentReceivedLendersCount(); i++) {
      checkId(r.getLentReceivedLenders(i), "UpdateBorrowsRequest.lent_received_lenders[" + i + "]",
          RuntimeSpec.IDS_WORKER_BYTES, true);
    }
  }

  /** A GetObjectsRequest: the number of ids and each id. */
  public static void checkGetObjects(io.polyray.runtime.proto.GetObjectsRequest r) {
    checkCount(r.getObjectIdsCount(), "GetObjectsRequest.object_ids", RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
    checkCount(r.getLostCount(), "GetObjectsRequest.lost", RuntimeSpec.LIMITS_MAX_LIST_ENTRIES);
    for (int i = 0; i < r.getObjectIdsCount(); i++) {
      checkId(r.getObjectIds(i), "GetObjectsRequest.object_ids[" + i + "]", RuntimeSpec.IDS_OBJECT_BYTES, false);
    }
  }

  /** A GetObjectRefs request (the state API): the page token is empty or an object id. */
  public static void checkGetObjectRefs(io.polyray.runtime.proto.GetObjectRefsRequest r) {
    checkId(r.getPageToken(), "GetObjectRefsRequest.page_token", RuntimeSpec.IDS_OBJECT_BYTES, true);
  }

  /** The frame-level bound of a PushTasksRequest. */
  public static void checkPush(PushTasksRequest req) {
    checkCount(req.getTasksCount(), "PushTasksRequest.tasks", RuntimeSpec.LIMITS_MAX_TASKS_PER_PUSH);
  }

  /**
   * {@code service} for a gRPC server, guarded: a request that does not decode is answered
   * INVALID_ARGUMENT ("malformed GetObjectRequest: ..."), not UNKNOWN as gRPC-Java would (its
   * parse error escapes the call as "Application error processing RPC"), and a handler that
   * throws {@link InvalidInput} answers INVALID_ARGUMENT naming the field.
   *
   * @param service the service implementation
   * @return the definition to pass to {@code ServerBuilder.addService}
   */
  public static io.grpc.ServerServiceDefinition guarded(io.grpc.BindableService service) {
    io.grpc.ServerServiceDefinition raw = io.grpc.ServerInterceptors.useMarshalledMessages(
        service.bindService(), new BytesMarshaller());
    return io.grpc.ServerInterceptors.intercept(raw, new BadInputInterceptor());
  }

  private static final class BytesMarshaller implements io.grpc.MethodDescriptor.Marshaller<byte[]> {
    @Override
    public java.io.InputStream stream(byte[] value) {
      return new java.io.ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(java.io.InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (java.io.IOException e) {
        throw io.grpc.Status.INVALID_ARGUMENT.withDescription("cannot read the request: " + e.getMessage())
            .withCause(e).asRuntimeException();
      }
    }
  }

  private static final class BadInputInterceptor implements io.grpc.ServerInterceptor {
    @Override
    public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call,
        io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
      io.grpc.ServerCall.Listener<Q> inner = next.startCall(call, headers);
      String method = call.getMethodDescriptor().getBareMethodName();
      return new io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<Q>(inner) {
        private boolean closed;

        private void reject(RuntimeException e) {
          if (closed) {
            return;
          }
          closed = true;
          String why = e instanceof InvalidInput ? e.getMessage() : "malformed " + method + " request: "
              + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage());
          try {
            call.close(io.grpc.Status.INVALID_ARGUMENT.withDescription(why), new io.grpc.Metadata());
          } catch (IllegalStateException x) {
            // already closed by the handler
          }
        }

        @Override
        public void onMessage(Q message) {
          if (closed) {
            return;
          }
          try {
            super.onMessage(message);
          } catch (InvalidInput e) {
            reject(e);
          } catch (RuntimeException e) {
            if (isParseError(e)) {
              reject(e);
            } else {
              throw e;
            }
          }
        }

        @Override
        public void onHalfClose() {
          if (closed) {
            return;
          }
          try {
            super.onHalfClose();
          } catch (InvalidInput e) {
            reject(e);
          }
        }
      };
    }

    private static boolean isParseError(Throwable e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof com.google.protobuf.InvalidProtocolBufferException) {
          return true;
        }
        if (t instanceof io.grpc.StatusRuntimeException
            && ((io.grpc.StatusRuntimeException) t).getStatus().getCode() == io.grpc.Status.Code.INTERNAL) {
          return true; // gRPC's proto marshaller: "Invalid protobuf byte sequence"
        }
      }
      return false;
    }
  }

  /** The error result of a task that failed its check ({@link #addressable} must hold). */
  public static TaskResult invalidTaskResult(TaskSpec spec, InvalidInput e, String worker) {
    ErrorRecord rec = ErrorRecord.newBuilder().setKind(ErrorKind.RUNTIME_ERROR).setTypeName("InvalidArgument")
        .setLanguage(Language.JAVA).setMessage("the task was rejected by worker " + worker + ": " + e.getMessage())
        .build();
    Envelope env = Envelope.newBuilder().setFormat(Format.FORMAT_ERROR).setBody(rec.toByteString()).build();
    int n = Math.max(spec.getNumReturns(), spec.getType() == TaskType.ACTOR_CREATION_TASK ? 1 : 0);
    TaskResult.Builder b = TaskResult.newBuilder().setTaskId(spec.getTaskId());
    for (int i = 1; i <= n; i++) {
      byte[] idx = {(byte) i, (byte) (i >>> 8), (byte) (i >>> 16), (byte) (i >>> 24)};
      b.addReturns(ReturnObject.newBuilder().setObjectId(spec.getTaskId().concat(ByteString.copyFrom(idx)))
          .setValue(env));
    }
    return b.build();
  }
}
