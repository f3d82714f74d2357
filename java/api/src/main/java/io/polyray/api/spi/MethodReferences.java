package io.polyray.api.spi;

import io.polyray.api.function.PolyRayFunc;
import java.lang.invoke.MethodHandleInfo;
import java.lang.invoke.MethodType;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import java.lang.reflect.Type;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads which Java method a method reference names, without calling it: a
 * {@link PolyRayFunc} is Serializable, so the compiler gives its class a
 * {@code writeReplace} method returning a {@link SerializedLambda} with the target's
 * class, name, kind and JVM descriptor. Lambdas ({@code x -> ...}) and bound references
 * ({@code obj::method}) are refused: a worker in another process can only call a named
 * method of a class on its code search path.
 */
public final class MethodReferences {
  /** The parsed form of one method reference class (one per call site). */
  private static final class Target {
    final String className;
    final String methodName;
    final String signature;
    final int kind;
    final Type returnType;

    Target(String className, String methodName, String signature, int kind, Type returnType) {
      this.className = className;
      this.methodName = methodName;
      this.signature = signature;
      this.kind = kind;
      this.returnType = returnType;
    }
  }

  private static final ConcurrentHashMap<Class<?>, Target> CACHE = new ConcurrentHashMap<>();

  private MethodReferences() {}

  /**
   * The function spec of a method reference.
   *
   * @param f the method reference
   * @param kind what the call is: a static method for TASK, a constructor or static
   *     factory for ACTOR_CREATION, an instance method for ACTOR_METHOD
   * @return the spec (language JAVA)
   * @throws IllegalArgumentException for a lambda, a bound reference, or a method of the
   *     wrong kind
   */
  public static FunctionSpec describe(PolyRayFunc f, FunctionSpec.Kind kind) {
    if (f == null) {
      throw new IllegalArgumentException("the function must not be null");
    }
    Target t = CACHE.computeIfAbsent(f.getClass(), c -> parse(f));
    String what = t.className + "::" + ("<init>".equals(t.methodName) ? "new" : t.methodName);
    switch (kind) {
      case TASK:
        if (t.kind != MethodHandleInfo.REF_invokeStatic) {
          throw new IllegalArgumentException(what + " is not a static method: PolyRay.task takes a static method "
              + "(an instance method is an actor method: handle.task(" + what + ", ...))");
        }
        break;
      case ACTOR_CREATION:
        if (t.kind != MethodHandleInfo.REF_newInvokeSpecial && t.kind != MethodHandleInfo.REF_invokeStatic) {
          throw new IllegalArgumentException(what + " is neither a constructor (Class::new) nor a static factory "
              + "method: PolyRay.actor takes one of those");
        }
        break;
      default:
        if (t.kind != MethodHandleInfo.REF_invokeVirtual && t.kind != MethodHandleInfo.REF_invokeInterface) {
          throw new IllegalArgumentException(what + " is not a public instance method: an actor call takes one, "
              + "e.g. handle.task(Counter::increment, 1)");
        }
        break;
    }
    return FunctionSpec.java(kind, t.className, t.methodName, t.signature, t.returnType);
  }

  /**
   * The function spec of a reference to a static function run inside an actor with the actor
   * instance as its first argument ({@code handle.call(Fns::bump, 1)}, Ray's {@code __ray_call__}).
   *
   * @param f the method reference
   * @return the function's spec (kind TASK: a static method)
   * @throws IllegalArgumentException for a lambda, a bound reference, or a method that is not static
   */
  public static FunctionSpec describeActorFunction(PolyRayFunc f) {
    if (f == null) {
      throw new IllegalArgumentException("the function must not be null");
    }
    Target t = CACHE.computeIfAbsent(f.getClass(), c -> parse(f));
    if (t.kind != MethodHandleInfo.REF_invokeStatic) {
      String what = t.className + "::" + ("<init>".equals(t.methodName) ? "new" : t.methodName);
      throw new IllegalArgumentException(what + " is not a static method: handle.call takes a static function "
          + "whose first parameter is the actor (an instance method of the actor is handle.task(" + what + ", ...))");
    }
    return FunctionSpec.java(FunctionSpec.Kind.TASK, t.className, t.methodName, t.signature, t.returnType);
  }

  private static Target parse(PolyRayFunc f) {
    SerializedLambda sl = serializedForm(f);
    String cls = sl.getImplClass().replace('/', '.');
    String name = sl.getImplMethodName();
    if (name.startsWith("lambda$")) {
      throw new IllegalArgumentException("polyray needs a method reference (Class::method or Class::new), not a "
          + "lambda (" + cls + "." + name + "): a worker in another process calls the method by its name");
    }
    if (sl.getCapturedArgCount() > 0) {
      throw new IllegalArgumentException("polyray needs a method reference to a class's method (Class::method), "
          + "not one bound to an object (obj::" + name + "): the object does not travel to the worker");
    }
    String sig = sl.getImplMethodSignature();
    return new Target(cls, name, sig, sl.getImplMethodKind(), returnType(f, cls, name, sig));
  }

  private static SerializedLambda serializedForm(PolyRayFunc f) {
    try {
      Method m = f.getClass().getDeclaredMethod("writeReplace");
      m.setAccessible(true);
      Object form = m.invoke(f);
      if (form instanceof SerializedLambda) {
        return (SerializedLambda) form;
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalArgumentException("cannot read which method " + f.getClass().getName() + " refers to ("
          + e + "); pass a method reference such as MyTasks::compute", e);
    }
    throw new IllegalArgumentException(f.getClass().getName() + " is not a method reference; pass one such as "
        + "MyTasks::compute");
  }

  /** The declared (generic) result type of the target, or null when it cannot be found. */
  private static Type returnType(PolyRayFunc f, String cls, String name, String sig) {
    try {
      ClassLoader loader = f.getClass().getClassLoader();
      Class<?> c = Class.forName(cls, false, loader);
      if ("<init>".equals(name)) {
        return c;
      }
      for (Class<?> k = c; k != null; k = k.getSuperclass()) {
        for (Method m : k.getDeclaredMethods()) {
          if (m.getName().equals(name)
              && MethodType.methodType(m.getReturnType(), m.getParameterTypes()).toMethodDescriptorString()
                  .equals(sig)) {
            return m.getReturnType() == void.class ? Void.class : m.getGenericReturnType();
          }
        }
      }
      for (Method m : c.getMethods()) { // default interface methods
        if (m.getName().equals(name)
            && MethodType.methodType(m.getReturnType(), m.getParameterTypes()).toMethodDescriptorString()
                .equals(sig)) {
          return m.getReturnType() == void.class ? Void.class : m.getGenericReturnType();
        }
      }
    } catch (ClassNotFoundException | LinkageError e) {
      // Unknown here: the value then arrives in its natural form.
    }
    return null;
  }
}
