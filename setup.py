"""Build hooks for the parts pyproject.toml cannot declare.

Everything else (metadata, dependencies, package layout) lives in
pyproject.toml. cffi's setuptools plugin reads ``cffi_modules`` and compiles
the shared-store binding, ``polyray._store_cffi``, from bridge/src/*.c. The
protocol modules are generated from proto/ at build time (grpcio-tools is a
build requirement), so a plain ``pip install .`` needs no manual step.
"""

import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_protocol() -> None:
    """Generate polyray/protocol/*_pb2*.py from proto/ into the source tree."""
    from grpc_tools import protoc
    import grpc_tools

    protos = sorted(glob.glob(os.path.join(HERE, "proto", "polyray", "protocol", "*.proto")))
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["grpc_tools.protoc", f"-I{os.path.join(HERE, 'proto')}", f"-I{include}",
            f"--python_out={os.path.join(HERE, 'python')}", f"--pyi_out={os.path.join(HERE, 'python')}",
            f"--grpc_python_out={os.path.join(HERE, 'python')}", *protos]
    if protoc.main(args) != 0:
        raise RuntimeError("generating the protocol code from proto/ failed")


class BuildPy(build_py):
    """build_py that first generates the protocol modules."""

    def run(self) -> None:
        generate_protocol()
        super().run()


setup(cffi_modules=["bridge/python/store_build.py:ffibuilder"], cmdclass={"build_py": BuildPy})
