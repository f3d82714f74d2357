// Descriptions of callees that are not C++ functions of this process:
// Python and Java functions, actor classes and methods, and C++ functions
// known only by their registered name (in a library the driver does not link).
// They are plain aggregates; Task(), Actor() and ActorHandleXlang::Task()
// turn them into calls. R is the type the result is decoded into by Get().
//
// Invariants: these types hold names only; nothing is checked until the
// callee runs (an unknown name fails on the worker, reported by Get()).
#ifndef POLYRAY_XLANG_FUNCTIONS_H_
#define POLYRAY_XLANG_FUNCTIONS_H_

#include <string>

namespace polyray {

/// A Python function: `Task(PyFunction<int64_t>{"mymod", "add"}).Remote(1, 2)`.
template <typename R>
struct PyFunction {
  /// The module to import ("operator", "pkg.mod").
  std::string module;
  /// The function's (qualified) name in that module.
  std::string name;
};

/// A Python class to instantiate as an actor:
/// `Actor(PyActorClass{"mymod", "Counter"}).Remote(0)` → ActorHandleXlang.
struct PyActorClass {
  /// The module to import.
  std::string module;
  /// The class name in that module.
  std::string className;
};

/// A method of a Python actor: `handle.Task(PyActorMethod<int64_t>{"add"}).Remote(1)`.
template <typename R>
struct PyActorMethod {
  /// The method name.
  std::string name;
};

/// A static Java method: `Task(JavaFunction<int64_t>{"pkg.Maths", "add"}).Remote(1, 2)`.
template <typename R>
struct JavaFunction {
  /// The binary class name ("pkg.Outer$Inner").
  std::string className;
  /// The method name (resolved by name and arity on the Java worker).
  std::string method;
};

/// A Java class to instantiate as an actor (its constructor gets the arguments).
struct JavaActorClass {
  /// The binary class name.
  std::string className;
};

/// A method of a Java actor: `handle.Task(JavaActorMethod<int64_t>{"add"}).Remote(1)`.
template <typename R>
struct JavaActorMethod {
  /// The method name.
  std::string name;
};

/// A C++ function by its registered name, for libraries the driver does not
/// link: `Task(CppFunction<int>{"Plus1"}).Remote(1)`.
template <typename R>
struct CppFunction {
  /// The name given by POLYRAY_REMOTE ("Plus1", "ns::Plus1").
  std::string name;
};

/// A C++ actor class by its registered factory, for libraries the driver
/// does not link: `Actor(CppActorClass{"Counter::Create", "Counter"}).Remote(0)`
/// → ActorHandleXlang, called with CppActorMethod.
struct CppActorClass {
  /// The factory's registered name ("Counter::Create").
  std::string createFunction;
  /// The class name ("Counter").
  std::string className;
};

/// A method of a C++ actor by its registered name:
/// `handle.Task(CppActorMethod<int>{"Counter::Add"}).Remote(1)`.
template <typename R>
struct CppActorMethod {
  /// The registered name, "Class::Method" ("Counter::Add"); a bare "Add"
  /// means "<the actor's class name>::Add".
  std::string name;
};

}  // namespace polyray

#endif  // POLYRAY_XLANG_FUNCTIONS_H_
