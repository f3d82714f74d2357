package io.polyray.runtime.core;

import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.worker.Rpc;
import java.util.concurrent.CompletableFuture;

/** Small helpers for asynchronous gRPC calls. */
final class Rpcs {
  private Rpcs() {}

  /** An observer that ignores the reply and any error (best-effort notifications). */
  static <T> StreamObserver<T> ignore() {
    return new StreamObserver<T>() {
      @Override
      public void onNext(T value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }

  /** An observer that completes {@code done} when the call ends, however it ends. */
  static <T> StreamObserver<T> completing(CompletableFuture<Void> done) {
    return new StreamObserver<T>() {
      @Override
      public void onNext(T value) {}

      @Override
      public void onError(Throwable t) {
        done.complete(null);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    };
  }

  /** {@code host:port} of an address. */
  static String target(Address a) {
    return Rpc.target(a);
  }
}
