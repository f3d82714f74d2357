#!/usr/bin/env bash
# Generates the Python protocol modules from proto/ into python/polyray/protocol/.
# Java and C++ generate their own at build time from the same files.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
"$PY" -m grpc_tools.protoc -I proto --python_out=python --pyi_out=python \
  --grpc_python_out=python proto/polyray/protocol/*.proto
# The runtime spec's constants (proto/runtime/runtime_spec.toml).
"$PY" scripts/gen_runtime_spec.py --python python/polyray/protocol/runtime_spec.py
