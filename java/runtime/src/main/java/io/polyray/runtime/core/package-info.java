/**
 * The CoreWorker of Java drivers (and of Java workers that submit tasks): {@link
 * io.polyray.runtime.core.CoreWorker} (ownership, reference counts, put/get, the memory
 * store), the normal-task and actor submitters (leases, one PushTasks stream per leased
 * worker or actor), {@link io.polyray.runtime.core.DriverRuntime} (connecting a driver,
 * the embedded head) and the ServiceLoader entry point {@link
 * io.polyray.runtime.core.DriverRuntimeFactory}.
 */
package io.polyray.runtime.core;
