package io.polyray.api.spi;

import io.polyray.api.Language;
import java.lang.reflect.Type;
import java.util.Objects;

/**
 * What a caller asks the runtime to run: the callee's language and descriptor
 * (docs/protocol.md §3, {@code FunctionDescriptor}), the kind of call, and the Java type the caller expects
 * back (used to convert the value on {@code get}). Built by the API from method
 * references, {@code PyFunction}, {@code CppFunction} and their actor counterparts;
 * runtimes read it.
 */
public final class FunctionSpec {
  /** What kind of call this is. */
  public enum Kind {
    /** A normal task (a static method, a Python or C++ function). */
    TASK,
    /** The creation of an actor (a constructor, a static factory, a class). */
    ACTOR_CREATION,
    /** A method call on an actor. */
    ACTOR_METHOD
  }

  private final Language language;
  private final Kind kind;
  private final String className;
  private final String functionName;
  private final String signature;
  private final Type returnType;

  private FunctionSpec(Language language, Kind kind, String className, String functionName, String signature,
      Type returnType) {
    this.language = Objects.requireNonNull(language, "language");
    this.kind = Objects.requireNonNull(kind, "kind");
    this.className = className == null ? "" : className;
    this.functionName = functionName == null ? "" : functionName;
    this.signature = signature == null ? "" : signature;
    this.returnType = returnType;
  }

  /**
   * A Java callee.
   *
   * @param kind the kind of call
   * @param className binary class name ({@code pkg.Outer$Inner})
   * @param methodName the method name, {@code <init>} for a constructor
   * @param signature the JVM descriptor ({@code (JJ)J}), or empty
   * @param returnType the declared result type, or null when unknown
   * @return the spec
   */
  public static FunctionSpec java(Kind kind, String className, String methodName, String signature, Type returnType) {
    return new FunctionSpec(Language.JAVA, kind, className, methodName, signature, returnType);
  }

  /**
   * A Python callee, loaded by its module and qualified name.
   *
   * @param kind the kind of call
   * @param module the module ({@code pkg.mod}); for an actor method, the actor's module
   * @param qualname the qualified name ({@code f}, {@code Counter}, {@code Counter.add})
   * @param returnType the type the caller expects, or null
   * @return the spec
   */
  public static FunctionSpec python(Kind kind, String module, String qualname, Type returnType) {
    return new FunctionSpec(Language.PYTHON, kind, module, qualname, "", returnType);
  }

  /**
   * A C++ callee, by its registered name.
   *
   * @param kind the kind of call
   * @param className the actor's class name (creation and methods), else empty
   * @param functionName the registered function name ({@code Plus1}, {@code Counter::Create})
   * @param returnType the type the caller expects, or null
   * @return the spec
   */
  public static FunctionSpec cpp(Kind kind, String className, String functionName, Type returnType) {
    return new FunctionSpec(Language.CPP, kind, className, functionName, "", returnType);
  }

  /**
   * The callee's language (the language of the worker that runs the call).
   *
   * @return the language
   */
  public Language getLanguage() {
    return language;
  }

  /**
   * The kind of call.
   *
   * @return task, actor creation or actor method
   */
  public Kind getKind() {
    return kind;
  }

  /**
   * Java: the binary class name; Python: the module; C++: the actor's class name (or
   * empty).
   *
   * @return the name, never null
   */
  public String getClassName() {
    return className;
  }

  /**
   * Java: the method name; Python: the qualified name; C++: the registered function
   * name.
   *
   * @return the name, never null
   */
  public String getFunctionName() {
    return functionName;
  }

  /**
   * The JVM descriptor of a Java method, or empty.
   *
   * @return the signature, never null
   */
  public String getSignature() {
    return signature;
  }

  /**
   * The Java type the caller expects from the call, or null when unknown (the value
   * then arrives in its natural Java form).
   *
   * @return the type
   */
  public Type getReturnType() {
    return returnType;
  }

  /**
   * A name for logs and errors: {@code pkg.Calc.add}, {@code module.f}, {@code Plus1}.
   *
   * @return the display name
   */
  public String displayName() {
    switch (language) {
      case PYTHON:
        return className.isEmpty() ? functionName : className + "." + functionName;
      case CPP:
        return functionName;
      default:
        return className + "." + functionName;
    }
  }

  @Override
  public String toString() {
    return "FunctionSpec(" + language + " " + kind + " " + displayName()
        + (signature.isEmpty() ? "" : " " + signature) + ")";
  }
}
