/**
 * The functional interfaces through which Java methods become remote tasks and actors:
 * {@code PolyRayFuncN} for methods with a result and {@code PolyRayFuncVoidN} for
 * {@code void} ones, N being the number of parameters (for an actor method the first is
 * the actor itself). Pass method references: {@code PolyRay.task(MyTasks::add, 1, 2)}.
 */
package io.polyray.api.function;
