package io.polyray.runtime.worker;

import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;

/**
 * A resolved method or constructor, ready to call. Resolved once per (class, method,
 * arity) and reused for every call, so what each call needs (parameter types, static or
 * not, the display name of errors) is worked out here once.
 */
public final class Invocable {
  private final Executable executable;
  private final boolean isStatic;
  private final Type[] parameterTypes;
  private final String displayName;

  Invocable(Executable executable) {
    this.executable = executable;
    this.isStatic = executable instanceof Method && Modifier.isStatic(executable.getModifiers());
    this.parameterTypes = executable.getGenericParameterTypes();
    this.displayName = display(executable);
    if (!Modifier.isPublic(executable.getDeclaringClass().getModifiers())) {
      // A public member of a non-public (e.g. nested) class: reflection needs this.
      try {
        executable.setAccessible(true);
      } catch (RuntimeException e) {
        // a named module that does not open the package: invoke reports it
      }
    }
  }

  /**
   * The method or constructor.
   *
   * @return the reflective object
   */
  public Executable executable() {
    return executable;
  }

  /**
   * Whether this is a constructor.
   *
   * @return true for a constructor
   */
  public boolean isConstructor() {
    return executable instanceof Constructor;
  }

  /**
   * Whether this is a static method.
   *
   * @return true for a static method
   */
  public boolean isStatic() {
    return isStatic;
  }

  /**
   * The declared parameter types, with generics.
   *
   * @return one type per parameter (a copy)
   */
  public Type[] parameterTypes() {
    return parameterTypes.clone();
  }

  /** The parameter types without a copy: for the executor, which only reads them. */
  Type[] parameterTypesShared() {
    return parameterTypes;
  }

  /**
   * Whether the method returns nothing.
   *
   * @return true for a void method
   */
  public boolean returnsVoid() {
    return executable instanceof Method && ((Method) executable).getReturnType() == void.class;
  }

  /**
   * Calls it.
   *
   * @param target the instance for an instance method, else ignored
   * @param args the converted arguments
   * @return the result (the new instance for a constructor; null for void)
   * @throws InvocationTargetException when the user's code threw
   * @throws ReflectiveOperationException when the call could not be made
   */
  public Object invoke(Object target, Object[] args) throws ReflectiveOperationException {
    if (executable instanceof Constructor) {
      return ((Constructor<?>) executable).newInstance(args);
    }
    return ((Method) executable).invoke(isStatic ? null : target, args);
  }

  /**
   * How errors name it: {@code pkg.C.add(long, long)} or {@code pkg.C(java.lang.String)}.
   *
   * @return the display name
   */
  public String displayName() {
    return displayName;
  }

  static String display(Executable e) {
    StringBuilder sb = new StringBuilder(e.getDeclaringClass().getTypeName());
    if (e instanceof Method) {
      sb.append('.').append(e.getName());
    }
    sb.append('(');
    Class<?>[] ps = e.getParameterTypes();
    for (int i = 0; i < ps.length; i++) {
      if (i > 0) {
        sb.append(", ");
      }
      sb.append(ps[i].getTypeName());
    }
    return sb.append(')').toString();
  }

  /** The display name and JVM descriptor, as candidates are listed. */
  static String withDescriptor(Executable e) {
    return display(e) + " " + descriptor(e);
  }

  /**
   * The JVM method descriptor, e.g. {@code (JLjava/lang/String;)J}.
   *
   * @param e a method or constructor
   * @return its descriptor
   */
  public static String descriptor(Executable e) {
    StringBuilder sb = new StringBuilder("(");
    for (Class<?> p : e.getParameterTypes()) {
      sb.append(descriptor(p));
    }
    sb.append(')');
    sb.append(e instanceof Method ? descriptor(((Method) e).getReturnType()) : "V");
    return sb.toString();
  }

  /**
   * The JVM field descriptor of a class, e.g. {@code J}, {@code [I}, {@code Ljava/lang/String;}.
   *
   * @param c a class
   * @return its descriptor
   */
  public static String descriptor(Class<?> c) {
    if (c.isArray()) {
      return "[" + descriptor(c.getComponentType());
    }
    if (c.isPrimitive()) {
      if (c == long.class) {
        return "J";
      } else if (c == int.class) {
        return "I";
      } else if (c == double.class) {
        return "D";
      } else if (c == float.class) {
        return "F";
      } else if (c == boolean.class) {
        return "Z";
      } else if (c == short.class) {
        return "S";
      } else if (c == byte.class) {
        return "B";
      } else if (c == char.class) {
        return "C";
      } else {
        return "V";
      }
    }
    return "L" + c.getName().replace('.', '/') + ";";
  }

  @Override
  public String toString() {
    return withDescriptor(executable);
  }
}
