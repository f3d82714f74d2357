"""__polyray_call__ on Java and C++ actors (issues 17/19): the name a Python caller sends as
argument 0 for the function the actor runs with its instance, and the TypeError for anything
that is not a function of the actor's language (no cluster)."""

from __future__ import annotations

import pytest

import polyray
from polyray.actor import call_target
from polyray.protocol import common_pb2 as pb


def test_java_function_names_class_method_and_descriptor():
    assert call_target(pb.JAVA, polyray.java_function("pkg.Fns", "bump"), "C.__polyray_call__") == "pkg.Fns.bump"
    sig = "(Lpkg/Counter;J)J"
    assert call_target(pb.JAVA, polyray.java_function("pkg.Fns", "bump", sig), "x") == "pkg.Fns.bump" + sig


def test_cpp_function_is_its_registered_name():
    assert call_target(pb.CPP, polyray.cpp_function("Bump"), "Counter.__ray_call__") == "Bump"


@pytest.mark.parametrize("language, fn, want", [
    (pb.JAVA, polyray.cpp_function("Bump"), "polyray.java_function"),
    (pb.CPP, polyray.java_function("a.B", "c"), "polyray.cpp_function"),
    (pb.CPP, "Bump", "got str 'Bump'"),
    (pb.JAVA, None, "got nothing"),
    (pb.JAVA, lambda actor: actor, "got function"),
])
def test_anything_else_is_a_type_error_naming_the_call(language, fn, want):
    with pytest.raises(TypeError, match="Counter.__polyray_call__ on a .* actor takes the function to run") as e:
        call_target(language, fn, "Counter.__polyray_call__")
    assert want in str(e.value)
