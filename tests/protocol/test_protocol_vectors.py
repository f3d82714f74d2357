"""The shared test vectors (proto/vectors/): decode, compare, re-encode byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyray.protocol import _vectors as V
from polyray.protocol import common_pb2 as pb
from polyray.protocol import envelope as E

VECTORS = Path(__file__).resolve().parents[2] / "proto" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))
ENTRIES = {e["name"]: e for e in MANIFEST["vectors"]}


def test_files_are_up_to_date():
    # Regenerate with: python -m polyray.protocol._vectors
    assert V.check(VECTORS) == []


@pytest.mark.parametrize("name", ENTRIES)
def test_vector(name):
    entry = ENTRIES[name]
    data = (VECTORS / entry["file"]).read_bytes()
    env = pb.Envelope.FromString(data)
    assert env.SerializeToString(deterministic=True) == data
    assert pb.Format.Name(env.format) == "FORMAT_" + entry["format"]

    value = E.decode_proto(env, E.PROTO_HOOKS)
    assert V.to_tagged(value, env.format) == entry["expected"]

    threshold = entry.get("oob_threshold", E.DEFAULT_OOB_THRESHOLD)
    if env.format in (E.FORMAT_XLANG, E.FORMAT_ARROW):
        reencoded = {
            target: E.encode(value, target, E.PROTO_HOOKS, oob_threshold=threshold)
            for target in (E.PYTHON, E.JAVA, E.CPP)
        }
    elif env.format == E.FORMAT_ERROR:
        reencoded = {E.PYTHON: E.error_to_envelope(value)}
    else:
        reencoded = {E.PYTHON: E.encode_raw(value)}
    for target, enc in reencoded.items():
        # Every vector is lossless for Python too, so even a Python target picks its format.
        assert enc.format == env.format, target
        if entry["byte_exact"]:
            assert V.envelope_bytes(enc) == data, target
        else:
            again = E.decode_proto(enc.to_proto(), E.PROTO_HOOKS)
            assert V.to_tagged(again, env.format) == entry["expected"]


def test_vectors_cover_the_brief():
    formats = {e["format"] for e in MANIFEST["vectors"]}
    assert formats == {"XLANG", "ERROR", "RAW", "ARROW"}
    text = json.dumps(MANIFEST)
    for tag in ('"nil"', '"bool"', '"int"', '"float"', '"str"', '"bin"', '"array"', '"map"',
                '"ndarray"', '"ref"', '"actor"', '"native"', '"error"', '"raw"', '"arrow"'):
        assert tag in text
    assert any("oob_threshold" in e for e in MANIFEST["vectors"])
    oob = pb.Envelope.FromString((VECTORS / "ndarray_oob.bin").read_bytes())
    assert len(oob.buffers) == 1


def test_tagged_floats():
    for s in ("NaN", "Infinity", "-Infinity", "-0.0", "0.1", "1e+300"):
        assert V.float_to_str(V.str_to_float(s)) == s
