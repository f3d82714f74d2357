/**
 * The Java worker: what runs inside a JVM the raylet starts for Java tasks
 * ({@link io.polyray.runtime.WorkerMain}). It serves the CoreWorkerService (tasks are
 * pushed to it over a gRPC stream), registers with its raylet, loads user classes from
 * the job's code search path, resolves methods and constructors by name, arity or JVM
 * signature, converts arguments from XLANG, runs tasks one at a time in arrival order,
 * and replies with results inline or through the node's shared store.
 */
package io.polyray.runtime.worker;
