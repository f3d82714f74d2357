package io.polyray.runtime.worker;

import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.TaskType;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Finds the Java method or constructor a task names (docs/architecture.md): the class by binary
 * name through the code search path, then the member by name and arity, or by the
 * explicit JVM signature when overloads share an arity. Public methods count with those
 * inherited from superclasses and default interface methods ({@link Class#getMethods()}).
 * Every failure is a {@link TaskFailure} whose message says what was looked for, where,
 * and what exists instead. Used by one thread; results are cached.
 */
public final class FunctionResolver {
  /** Name of a constructor in a descriptor. */
  public static final String CONSTRUCTOR = "<init>";

  private final CodeSearchPath loader;
  private final Map<Key, Invocable> cache = new HashMap<>();

  /** What a resolution depends on (no string built per call). */
  private static final class Key {
    final Object owner; // a TaskType, or the actor's class
    final String className;
    final String methodName;
    final String signature;
    final int argCount;
    final int hash;

    Key(Object owner, String className, String methodName, String signature, int argCount) {
      this.owner = owner;
      this.className = className;
      this.methodName = methodName;
      this.signature = signature;
      this.argCount = argCount;
      this.hash = ((owner.hashCode() * 31 + className.hashCode()) * 31 + methodName.hashCode()) * 31
          + signature.hashCode() * 7 + argCount;
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof Key)) {
        return false;
      }
      Key k = (Key) o;
      return owner == k.owner && argCount == k.argCount && methodName.equals(k.methodName)
          && className.equals(k.className) && signature.equals(k.signature);
    }

    @Override
    public int hashCode() {
      return hash;
    }
  }
  private final Map<String, Class<?>> classes = new HashMap<>();

  /**
   * A resolver over a code search path.
   *
   * @param loader where user classes load from
   */
  public FunctionResolver(CodeSearchPath loader) {
    this.loader = loader;
  }

  /**
   * The loader of user classes.
   *
   * @return the code search path loader
   */
  public CodeSearchPath loader() {
    return loader;
  }

  /**
   * Resolves a normal task (a static method) or an actor creation (a constructor, or a
   * static factory method whose result becomes the actor).
   *
   * @param type NORMAL_TASK or ACTOR_CREATION_TASK
   * @param d the descriptor
   * @param argCount how many arguments the call passes
   * @return the member to call
   * @throws TaskFailure when it cannot be found unambiguously
   */
  public Invocable resolve(TaskType type, JavaFunctionDescriptor d, int argCount) throws TaskFailure {
    Key key = new Key(type, d.getClassName(), d.getMethodName(), d.getSignature(), argCount);
    Invocable inv = cache.get(key);
    if (inv == null) {
      Class<?> cls = loadClass(d.getClassName());
      if (CONSTRUCTOR.equals(d.getMethodName())) {
        if (type != TaskType.ACTOR_CREATION_TASK) {
          throw failure("NoSuchMethodException", d.getClassName() + ".<init> is a constructor: it creates an actor, "
              + "it cannot run as a task");
        }
        inv = constructor(cls, d.getSignature(), argCount);
      } else {
        inv = method(cls, d.getMethodName(), d.getSignature(), argCount, true);
      }
      cache.put(key, inv);
    }
    return inv;
  }

  /**
   * Resolves an actor method: a public instance method of the actor's class.
   *
   * @param actorClass the class of the actor instance
   * @param d the descriptor (its method name and optional signature)
   * @param argCount how many arguments the call passes
   * @return the method
   * @throws TaskFailure when it cannot be found unambiguously
   */
  public Invocable resolveActorMethod(Class<?> actorClass, JavaFunctionDescriptor d, int argCount)
      throws TaskFailure {
    Key key = new Key(actorClass, "", d.getMethodName(), d.getSignature(), argCount);
    Invocable inv = cache.get(key);
    if (inv == null) {
      inv = method(actorClass, d.getMethodName(), d.getSignature(), argCount, false);
      cache.put(key, inv);
    }
    return inv;
  }

  /**
   * Loads a user class by binary name ({@code pkg.Outer$Inner}), initializing it.
   *
   * @param name the binary name
   * @return the class
   * @throws TaskFailure when it is missing or fails to load or initialize
   */
  public Class<?> loadClass(String name) throws TaskFailure {
    Class<?> c = classes.get(name);
    if (c != null) {
      return c;
    }
    if (name.isEmpty()) {
      throw failure("ClassNotFoundException", "the task's Java descriptor has no class name");
    }
    try {
      c = Class.forName(name, true, loader);
    } catch (ClassNotFoundException e) {
      String hint = name.indexOf('/') >= 0 ? " (use dots between packages: pkg.Outer$Inner)"
          : name.matches(".*\\.[A-Z][^.]*\\.[A-Z].*") ? " (nested classes are named Outer$Inner)" : "";
      throw failure("ClassNotFoundException", "class " + name + " was not found in the code search path "
          + loader.describe() + " nor on the worker's class path" + hint);
    } catch (ExceptionInInitializerError e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new TaskFailure(ErrorRecord.newBuilder(
              ErrorRecords.runtimeError("java.lang.ExceptionInInitializerError",
                  "the static initializer of class " + name + " threw " + cause))
          .setCause(ErrorRecords.fromThrowable(cause)).build());
    } catch (LinkageError e) {
      throw failure(e.getClass().getName(), "class " + name + " could not be loaded from the code search path "
          + loader.describe() + ": " + e);
    }
    classes.put(name, c);
    return c;
  }

  private Invocable constructor(Class<?> cls, String signature, int argCount) throws TaskFailure {
    String name = cls.getTypeName();
    if (cls.isInterface() || Modifier.isAbstract(cls.getModifiers())) {
      throw failure("InstantiationException", "cannot create an actor of " + (cls.isInterface() ? "interface " : "abstract class ")
          + name + ": name a concrete class");
    }
    if (cls.isEnum() || cls.isPrimitive() || cls.isArray()) {
      throw failure("InstantiationException", "cannot create an actor of " + name + ": it has no usable constructor");
    }
    if (cls.isMemberClass() && !Modifier.isStatic(cls.getModifiers())) {
      throw failure("InstantiationException", "cannot create an actor of " + name
          + ": it is an inner class, whose instances need an enclosing instance; declare it static");
    }
    List<Executable> all = new ArrayList<>();
    for (Constructor<?> c : cls.getConstructors()) {
      all.add(c);
    }
    if (all.isEmpty()) {
      throw failure("NoSuchMethodException", "class " + name + " has no public constructor"
          + declaredList(cls.getDeclaredConstructors()));
    }
    return pick(all, name + " constructor", signature, argCount, cls);
  }

  private Invocable method(Class<?> cls, String methodName, String signature, int argCount, boolean wantStatic)
      throws TaskFailure {
    String name = cls.getTypeName();
    if (methodName.isEmpty()) {
      throw failure("NoSuchMethodException", "the task's Java descriptor for class " + name + " has no method name");
    }
    Map<String, Method> byDescriptor = new LinkedHashMap<>();
    List<Method> wrongKind = new ArrayList<>();
    for (Method m : cls.getMethods()) {
      if (!m.getName().equals(methodName) || m.isBridge() || m.isSynthetic()) {
        continue;
      }
      if (Modifier.isStatic(m.getModifiers()) != wantStatic) {
        wrongKind.add(m);
        continue;
      }
      // getMethods() may list one signature twice (e.g. from a class and an interface):
      // keep the most specific, non-abstract one.
      String desc = Invocable.descriptor(m);
      String sig = desc.substring(0, desc.indexOf(')') + 1);
      Method prev = byDescriptor.get(sig);
      if (prev == null || moreSpecific(m, prev)) {
        byDescriptor.put(sig, m);
      }
    }
    if (byDescriptor.isEmpty()) {
      StringBuilder msg = new StringBuilder();
      if (!wrongKind.isEmpty()) {
        msg.append(name).append('.').append(methodName).append(wantStatic
            ? " is an instance method, not static: a task calls static methods; create an actor to call it"
            : " is a static method: call it as a task, not on the actor");
      } else {
        msg.append("class ").append(name).append(" has no public ").append(wantStatic ? "static " : "")
            .append("method named '").append(methodName).append('\'');
        for (Method m : cls.getDeclaredMethods()) {
          if (m.getName().equals(methodName)) {
            msg.append(" (").append(Invocable.display(m)).append(" exists but is not public)");
            break;
          }
        }
        TreeSet<String> names = new TreeSet<>();
        for (Method m : cls.getMethods()) {
          if (Modifier.isStatic(m.getModifiers()) == wantStatic && m.getDeclaringClass() != Object.class) {
            names.add(m.getName());
          }
        }
        if (!names.isEmpty() && names.size() <= 40) {
          msg.append("; its public ").append(wantStatic ? "static " : "").append("methods are ").append(names);
        }
      }
      throw failure("NoSuchMethodException", msg.toString());
    }
    return pick(new ArrayList<>(byDescriptor.values()), name + "." + methodName, signature, argCount, cls);
  }

  private static boolean moreSpecific(Method m, Method prev) {
    boolean mAbstract = Modifier.isAbstract(m.getModifiers());
    boolean pAbstract = Modifier.isAbstract(prev.getModifiers());
    if (mAbstract != pAbstract) {
      return !mAbstract;
    }
    return prev.getDeclaringClass().isAssignableFrom(m.getDeclaringClass());
  }

  /** Chooses among same-named candidates by signature or arity. */
  private Invocable pick(List<Executable> all, String what, String signature, int argCount, Class<?> cls)
      throws TaskFailure {
    if (!signature.isEmpty()) {
      boolean paramsOnly = signature.endsWith(")");
      Executable found = null;
      for (Executable e : all) {
        String d = Invocable.descriptor(e);
        if (paramsOnly ? d.startsWith(signature) : d.equals(signature)) {
          found = e;
          break;
        }
      }
      if (found == null) {
        throw failure("NoSuchMethodException", "no " + what + " with JVM signature " + signature
            + "; candidates: " + list(all));
      }
      if (found.getParameterCount() != argCount) {
        throw failure("IllegalArgumentException", Invocable.display(found) + " takes " + found.getParameterCount()
            + " argument" + (found.getParameterCount() == 1 ? "" : "s") + ", the call passed " + argCount);
      }
      return new Invocable(found);
    }
    List<Executable> fit = new ArrayList<>();
    for (Executable e : all) {
      if (e.getParameterCount() == argCount) {
        fit.add(e);
      }
    }
    if (fit.isEmpty()) {
      throw failure("IllegalArgumentException", "wrong number of arguments: the call passed " + argCount
          + " to " + what + ", which takes " + arities(all) + "; candidates: " + list(all));
    }
    if (fit.size() > 1) {
      throw failure("IllegalArgumentException", "ambiguous call: " + what + " has " + fit.size()
          + " overloads taking " + argCount + " argument" + (argCount == 1 ? "" : "s") + ": " + list(fit)
          + "; pass the JVM signature of one of them in the descriptor");
    }
    return new Invocable(fit.get(0));
  }

  private static String arities(List<Executable> all) {
    TreeSet<Integer> n = new TreeSet<>();
    for (Executable e : all) {
      n.add(e.getParameterCount());
    }
    StringBuilder sb = new StringBuilder();
    for (Integer i : n) {
      if (sb.length() > 0) {
        sb.append(" or ");
      }
      sb.append(i);
    }
    return sb.toString();
  }

  private static String list(List<Executable> es) {
    StringBuilder sb = new StringBuilder();
    for (Executable e : es) {
      if (sb.length() > 0) {
        sb.append("; ");
      }
      sb.append(Invocable.withDescriptor(e));
    }
    return sb.toString();
  }

  private static String declaredList(Constructor<?>[] cs) {
    if (cs.length == 0) {
      return "";
    }
    List<Executable> es = new ArrayList<>(List.of(cs));
    return "; declared: " + list(es);
  }

  /** A RUNTIME_ERROR failure typed as the java.lang exception that fits (or a full class name). */
  private static TaskFailure failure(String type, String message) {
    return new TaskFailure(ErrorRecords.runtimeError(type.indexOf('.') >= 0 ? type : "java.lang." + type, message));
  }
}
