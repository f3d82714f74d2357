package io.polyray.runtime.core;

import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;

/**
 * Opens the PushTasks stream to a worker ({@link Channels#pushTasks} in production: push
 * port or gRPC; an in-memory stream in unit tests).
 *
 * <p>Invariants: replies and the stream's end reach {@code replies} on the io thread; a
 * broken stream ends in {@code onError}; the returned side may throw once broken.
 */
@FunctionalInterface
interface PushStreams {
  /**
   * Opens a stream.
   *
   * @param worker the worker's address
   * @param replies gets the results, then the end
   * @return the request side
   */
  StreamObserver<PushTasksRequest> open(Address worker, StreamObserver<PushTasksReply> replies);
}
