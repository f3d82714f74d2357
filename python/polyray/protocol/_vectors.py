"""The shared test vectors of proto/vectors/ (docs/protocol.md §Test vectors).

Each vector is an envelope serialized as ``polyray.rpc.Envelope`` protobuf
bytes (``<name>.bin``) and an entry of ``manifest.json`` giving its meaning
in a tagged JSON form that every language can read. This module defines the
vectors, converts between the tagged form and Python values, and writes or
checks the files::

    python -m polyray.protocol._vectors            # rewrite proto/vectors/
    python -m polyray.protocol._vectors --check    # exit 1 if they are stale

Java and C++ tests decode every ``.bin``, compare with ``expected``, encode
the expected value again (with the entry's ``oob_threshold``) and compare
bytes, except for entries with ``"byte_exact": false``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import json_format

from polyray.protocol import common_pb2
from polyray.protocol.envelope import (
    DEFAULT_OOB_THRESHOLD,
    FORMAT_ARROW,
    FORMAT_ERROR,
    FORMAT_RAW,
    FORMAT_XLANG,
    JAVA,
    PROTO_HOOKS,
    Encoded,
    NativeValue,
    encode,
    encode_raw,
    error_to_envelope,
)
from polyray.protocol.ids import ActorID, JobID, NodeID, ObjectID, TaskID, WorkerID

MANIFEST_VERSION = 1
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "proto" / "vectors"

# -- tagged JSON form ------------------------------------------------------------------


def float_to_str(f: float) -> str:
    """The manifest spelling of a float64: shortest round-trip decimal, NaN/Infinity/-Infinity."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return repr(f)


def str_to_float(s: str) -> float:
    """Inverse of :func:`float_to_str`."""
    return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(s, s))


def _pb_to_json(msg: Any) -> dict:
    # Sorted keys: protobuf map iteration order varies between runs.
    return json.loads(json_format.MessageToJson(msg, preserving_proto_field_name=True, sort_keys=True))


_ARROW_TYPES = {"int64": "int64", "double": "float64", "string": "utf8", "bool": "bool"}


def to_tagged(value: Any, fmt: int = FORMAT_XLANG) -> Any:
    """The tagged JSON form of a decoded value (refs decoded with PROTO_HOOKS)."""
    if fmt == FORMAT_RAW:
        return {"raw": bytes(value).hex()}
    if fmt == FORMAT_ERROR:
        return {"error": _pb_to_json(value)}
    if fmt == FORMAT_ARROW:
        cols = []
        for field, col in zip(value.schema, value.columns):
            cols.append(
                {
                    "name": field.name,
                    "type": _ARROW_TYPES[str(field.type)],
                    "values": [to_tagged(v) for v in col.to_pylist()],
                }
            )
        return {"arrow": {"columns": cols}}
    t = type(value)
    if value is None:
        return {"nil": None}
    if t is bool:
        return {"bool": value}
    if t is int:
        return {"int": value}
    if t is float:
        return {"float": float_to_str(value)}
    if t is str:
        return {"str": value}
    if t is bytes:
        return {"bin": value.hex()}
    if t is list:
        return {"array": [to_tagged(v) for v in value]}
    if t is dict:
        return {"map": [[to_tagged(k), to_tagged(v)] for k, v in value.items()]}
    if t is np.ndarray:
        return {
            "ndarray": {
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "data": value.tobytes().hex(),
            }
        }
    if t is common_pb2.ObjectRef:
        return {"ref": _pb_to_json(value)}
    if t is common_pb2.ActorHandle:
        return {"actor": _pb_to_json(value)}
    if t is NativeValue:
        return {"native": {"language": common_pb2.Language.Name(value.language), "data": value.data.hex()}}
    raise TypeError(f"no tagged form for {type(value).__name__}")


def from_tagged(tagged: Any) -> Any:
    """The Python value of a tagged JSON form (refs and handles as protobuf messages)."""
    ((tag, v),) = tagged.items()
    if tag == "nil":
        return None
    if tag in ("bool", "int", "str"):
        return v
    if tag == "float":
        return str_to_float(v)
    if tag == "bin":
        return bytes.fromhex(v)
    if tag == "array":
        return [from_tagged(x) for x in v]
    if tag == "map":
        out = {}
        for k, x in v:
            key = from_tagged(k)
            out[tuple(key) if type(key) is list else key] = from_tagged(x)
        return out
    if tag == "ndarray":
        arr = np.frombuffer(bytes.fromhex(v["data"]), dtype=np.dtype(v["dtype"]))
        return arr.reshape(v["shape"])
    if tag == "ref":
        return json_format.ParseDict(v, common_pb2.ObjectRef())
    if tag == "actor":
        return json_format.ParseDict(v, common_pb2.ActorHandle())
    if tag == "native":
        return NativeValue(common_pb2.Language.Value(v["language"]), bytes.fromhex(v["data"]))
    if tag == "raw":
        return bytes.fromhex(v)
    if tag == "error":
        return json_format.ParseDict(v, common_pb2.ErrorRecord())
    if tag == "arrow":
        import pyarrow as pa

        types = {"int64": pa.int64(), "float64": pa.float64(), "utf8": pa.string(), "bool": pa.bool_()}
        return pa.table(
            {c["name"]: pa.array([from_tagged(x) for x in c["values"]], types[c["type"]]) for c in v["columns"]}
        )
    raise ValueError(f"unknown tag {tag!r}")


def encode_expected(entry: dict) -> Encoded:
    """Encode a manifest entry's expected value the way every language must."""
    fmt = common_pb2.Format.Value("FORMAT_" + entry["format"])
    value = from_tagged(entry["expected"])
    if fmt == FORMAT_RAW:
        return encode_raw(value)
    if fmt == FORMAT_ERROR:
        return error_to_envelope(value)
    enc = encode(
        value, JAVA, PROTO_HOOKS, oob_threshold=entry.get("oob_threshold", DEFAULT_OOB_THRESHOLD)
    )
    if enc.format != fmt:
        raise AssertionError(f"{entry['name']}: encoded as {enc.format}, expected {fmt}")
    return enc


def envelope_bytes(enc: Encoded) -> bytes:
    """The deterministic protobuf bytes of an envelope (what a ``.bin`` holds)."""
    return enc.to_proto().SerializeToString(deterministic=True)


# -- the vectors ---------------------------------------------------------------------------

_JOB = JobID.from_int(1)
_TASK = TaskID(bytes(range(1, 21)) + _JOB.binary())
_OWNER: dict[str, Any] = {
    "node_id": NodeID(bytes(range(0xA0, 0xA0 + 28))).binary(),
    "host": "10.0.0.1",
    "port": 50051,
    "worker_id": WorkerID(bytes(range(0xC0, 0xC0 + 28))).binary(),
}


def _ref(oid: ObjectID) -> dict:
    return {"ref": _pb_to_json(common_pb2.ObjectRef(object_id=oid.binary(), owner=common_pb2.Address(**_OWNER)))}


def _actor() -> dict:
    handle = common_pb2.ActorHandle(
        actor_id=ActorID(bytes(range(0x40, 0x4C)) + _JOB.binary()).binary(),
        language=common_pb2.JAVA,
        class_descriptor=common_pb2.FunctionDescriptor(
            java=common_pb2.JavaFunctionDescriptor(class_name="io.example.Counter", method_name="<init>")
        ),
        owner=common_pb2.Address(**_OWNER),
        name="counter",
        namespace="demo",
        max_task_retries=3,
        # Two entries inserted out of key order: the payload must sort them.
        method_num_returns={"split": 2, "pair": 3},
    )
    return {"actor": _pb_to_json(handle)}


def _i(n: int) -> dict:
    return {"int": n}


def _s(x: str) -> dict:
    return {"str": x}


def _f(x: float) -> dict:
    return {"float": float_to_str(x)}


def _nd(dtype: str, shape: list[int], values: list) -> dict:
    data = np.array(values, dtype=np.dtype(dtype)).reshape(shape).tobytes().hex()
    return {"ndarray": {"dtype": dtype, "shape": shape, "data": data}}


def _error_chain() -> dict:
    cpp = common_pb2.ErrorRecord(
        kind=common_pb2.TASK_ERROR,
        type_name="std::invalid_argument",
        message="negative size",
        language=common_pb2.CPP,
        traceback="std::invalid_argument: negative size\n  at Resize (resize.cc:7)\n",
    )
    py = common_pb2.ErrorRecord(
        kind=common_pb2.TASK_ERROR,
        type_name="ValueError",
        message="resize failed",
        language=common_pb2.PYTHON,
        traceback=(
            "Traceback (most recent call last):\n"
            '  File "shapes.py", line 3, in grow\n'
            "    return resize(n)\n"
            "ValueError: resize failed\n"
        ),
        cause=cpp,
    )
    java = common_pb2.ErrorRecord(
        kind=common_pb2.TASK_ERROR,
        type_name="java.lang.IllegalStateException",
        message="cannot grow: Ünïcode ✓",
        language=common_pb2.JAVA,
        traceback=(
            "java.lang.IllegalStateException: cannot grow\n"
            "\tat io.example.Shapes.grow(Shapes.java:12)\n"
        ),
        cause=py,
    )
    return {"error": _pb_to_json(java)}


def _vectors() -> list[dict]:
    """Every vector: name, format, description, expected (+ oob_threshold, byte_exact)."""
    v: list[dict] = []

    def add(name: str, description: str, expected: dict, fmt: str = "XLANG", **extra: Any) -> None:
        v.append({"name": name, "format": fmt, "description": description, "expected": expected, **extra})

    add("nil", "nil (0xc0)", {"nil": None})
    add("bool_true", "true (0xc3)", {"bool": True})
    add("bool_false", "false (0xc2)", {"bool": False})
    ints = [
        ("int_0", 0, "positive fixint"),
        ("int_127", 127, "largest positive fixint"),
        ("int_128", 128, "smallest uint8"),
        ("int_255", 255, "largest uint8"),
        ("int_256", 256, "smallest uint16"),
        ("int_65535", 65535, "largest uint16"),
        ("int_65536", 65536, "smallest uint32"),
        ("int_4294967295", 4294967295, "largest uint32"),
        ("int_4294967296", 4294967296, "smallest uint64 form"),
        ("int64_max", 2**63 - 1, "int64 max: uint64 form (non-negative ints use uint forms)"),
        ("uint64_max", 2**64 - 1, "uint64 max: only values above int64 max need uint64"),
        ("int_neg1", -1, "negative fixint"),
        ("int_neg32", -32, "smallest negative fixint"),
        ("int_neg33", -33, "largest int8 outside fixint"),
        ("int_neg128", -128, "smallest int8"),
        ("int_neg129", -129, "largest int16 form"),
        ("int_neg32768", -32768, "smallest int16"),
        ("int_neg32769", -32769, "largest int32 form"),
        ("int_neg2147483648", -(2**31), "smallest int32"),
        ("int_neg2147483649", -(2**31) - 1, "largest int64 form"),
        ("int64_min", -(2**63), "int64 min"),
    ]
    for name, n, what in ints:
        add(name, f"int {n}: {what} (smallest form that fits)", _i(n))
    floats = [
        ("float_1_5", 1.5, "1.5"),
        ("float_0_1", 0.1, "0.1 (inexact: compare bits)"),
        ("float_zero", 0.0, "+0.0"),
        ("float_neg_zero", -0.0, "-0.0 (sign bit kept)"),
        ("float_nan", math.nan, "NaN: the canonical quiet NaN 0x7ff8000000000000"),
        ("float_inf", math.inf, "+Infinity"),
        ("float_neg_inf", -math.inf, "-Infinity"),
        ("float_max", sys.float_info.max, "largest finite float64"),
        ("float_min_subnormal", 5e-324, "smallest subnormal float64"),
    ]
    for name, x, what in floats:
        add(name, f"float64 {what}; always the 9-byte float64 form (0xcb)", _f(x))
    add("str_empty", "empty str (fixstr 0xa0)", _s(""))
    add("str_ascii", "ASCII str", _s("hello, polyray"))
    add("str_utf8", "multi-byte UTF-8: 2-, 3- and 4-byte sequences", _s("héllo wörld ✓ 日本 😀"))
    add("str_31", "31-byte str: largest fixstr", _s("a" * 31))
    add("str_32", "32-byte str: smallest str8 (0xd9)", _s("b" * 32))
    add("str_256", "256-byte str: smallest str16 (0xda)", _s("c" * 256))
    add("bin_empty", "empty bin (bin8, 0xc4 0x00)", {"bin": ""})
    add("bin_bytes", "bin of 16 bytes 0x00..0x0f", {"bin": bytes(range(16)).hex()})
    add("bin_256", "256-byte bin: smallest bin16 (0xc5)", {"bin": bytes(range(256)).hex()})
    add("array_empty", "empty array (0x90)", {"array": []})
    add(
        "array_mixed",
        "array of int, str, float, nil, bool, bin",
        {"array": [_i(1), _s("two"), _f(3.0), {"nil": None}, {"bool": True}, {"bin": "ff00"}]},
    )
    add(
        "array_nested",
        "nested arrays [[], [1, [2, [3]]]]",
        {"array": [{"array": []}, {"array": [_i(1), {"array": [_i(2), {"array": [_i(3)]}]}]}]},
    )
    add("array_16", "16 elements: smallest array16 (0xdc)", {"array": [_i(i) for i in range(16)]})
    add("map_empty", "empty map (0x80)", {"map": []})
    add(
        "map_str_keys",
        "str keys in insertion order (not sorted)",
        {"map": [[_s("b"), _i(1)], [_s("a"), _s("x")], [_s("c"), {"array": []}]]},
    )
    add(
        "map_int_keys",
        "int keys, including negative and uint64",
        {"map": [[_i(1), _s("one")], [_i(-1), _s("minus one")], [_i(2**64 - 1), _s("max")]]},
    )
    add(
        "map_mixed_keys",
        "non-string keys: int, str, bin, bool, nil, float",
        {
            "map": [
                [_i(2), _s("int")],
                [_s("s"), _s("str")],
                [{"bin": "01"}, _s("bin")],
                [{"bool": True}, _s("bool")],
                [{"nil": None}, _s("nil")],
                [_f(1.5), _s("float")],
            ]
        },
    )
    add(
        "map_nested",
        "maps inside maps and arrays",
        {
            "map": [
                [_s("outer"), {"map": [[_s("inner"), {"array": [_i(1), {"map": [[_s("deep"), {"bool": True}]]}]}]]}],
                [_s("list"), {"array": [{"map": []}, {"map": [[_i(0), {"nil": None}]]}]}],
            ]
        },
    )
    add("map_16", "16 entries: smallest map16 (0xde)", {"map": [[_s(f"k{i:02d}"), _i(i)] for i in range(16)]})
    add(
        "ref_in_list",
        "ObjectRef (ext 1) of return 1 of a task, inside an array",
        {"array": [_i(1), _ref(ObjectID.for_return(_TASK, 1))]},
    )
    add(
        "ref_in_map",
        "ObjectRefs (ext 1) inside a map: a return and a put object (index 0x80000001)",
        {"map": [[_s("x"), _ref(ObjectID.for_return(_TASK, 2))],
                 [_s("ys"), {"array": [_ref(ObjectID.for_put(_TASK, 1))]}]]},
    )
    add(
        "actor_in_map",
        "ActorHandle (ext 2) of a Java actor inside a map; its payload sorts map entries",
        {"map": [[_s("actor"), _actor()], [_s("n"), _i(3)]]},
    )
    add("ndarray_f8_2d", "2x2 float64 ndarray, data in band (ext 3)", _nd("<f8", [2, 2], [1.0, 2.0, 3.0, 4.0]))
    add("ndarray_i4", "int32 ndarray with negative values", _nd("<i4", [3], [1, -2, 3]))
    add("ndarray_u1", "uint8 ndarray", _nd("|u1", [4], [0, 1, 254, 255]))
    add("ndarray_b1", "bool ndarray (one byte per element, 0 or 1)", _nd("|b1", [3], [True, False, True]))
    add("ndarray_0d", "0-d float32 ndarray (shape [])", _nd("<f4", [], [2.5]))
    add("ndarray_empty", "empty float64 ndarray of shape [0, 3]", _nd("<f8", [0, 3], []))
    add(
        "ndarray_dtypes",
        "one ndarray of every other XLANG dtype",
        {
            "array": [
                _nd("|i1", [2], [-128, 127]),
                _nd("<i2", [2], [-32768, 32767]),
                _nd("<u2", [2], [0, 65535]),
                _nd("<u4", [2], [0, 2**32 - 1]),
                _nd("<i8", [2], [-(2**63), 2**63 - 1]),
                _nd("<u8", [2], [0, 2**64 - 1]),
                _nd("<f4", [2], [1.5, -0.0]),
            ]
        },
    )
    add(
        "ndarray_oob",
        "int64 ndarray of 32 bytes out of band (oob_threshold 32): data = buffer index 0",
        _nd("<i8", [2, 2], [1, 2, 3, 4]),
        oob_threshold=32,
    )
    add(
        "ndarray_mixed_oob",
        "array of two ndarrays with oob_threshold 16: 8 bytes in band, 64 bytes out of band",
        {"array": [_nd("<u2", [4], [1, 2, 3, 4]), _nd("<f8", [8], [float(i) for i in range(8)]), _s("tail")]},
        oob_threshold=16,
    )
    add(
        "native_java",
        "native value of Java (ext 4): opaque bytes Python keeps and re-encodes",
        {"native": {"language": "JAVA", "data": "aced0005740003616263"}},
    )
    add(
        "native_cpp_in_list",
        "native value of C++ (ext 4) inside an array",
        {"array": [_s("before"), {"native": {"language": "CPP", "data": "00010203"}}]},
    )
    add(
        "error_chain",
        "ERROR envelope: a Java exception caused by a Python one caused by a C++ one",
        _error_chain(),
        fmt="ERROR",
    )
    add(
        "error_worker_crashed",
        "ERROR envelope of a system failure (WORKER_CRASHED), no cause",
        {
            "error": _pb_to_json(
                common_pb2.ErrorRecord(
                    kind=common_pb2.WORKER_CRASHED,
                    type_name="WorkerCrashedError",
                    message="the worker running f (pid 4242) died: SIGKILL",
                    language=common_pb2.PYTHON,
                )
            )
        },
        fmt="ERROR",
    )
    add("raw_bytes", "RAW envelope: bytes as they are", {"raw": b"\x00\x01raw\xff".hex()}, fmt="RAW")
    add(
        "arrow_table",
        "ARROW envelope: IPC stream of a 3-row table (int64, float64, utf8, with nulls); "
        "Arrow writers differ in padding and metadata, so compare tables, not bytes",
        {
            "arrow": {
                "columns": [
                    {"name": "id", "type": "int64", "values": [_i(1), _i(2), _i(3)]},
                    {"name": "score", "type": "float64", "values": [_f(0.5), {"nil": None}, _f(2.0)]},
                    {"name": "name", "type": "utf8", "values": [_s("a"), _s("b"), {"nil": None}]},
                ]
            }
        },
        fmt="ARROW",
        byte_exact=False,
    )
    for entry in v:
        entry.setdefault("byte_exact", True)
        entry["file"] = entry["name"] + ".bin"
    return v


def build() -> tuple[dict, dict[str, bytes]]:
    """The manifest and every vector's file content."""
    entries = _vectors()
    files = {e["file"]: envelope_bytes(encode_expected(e)) for e in entries}
    manifest = {
        "version": MANIFEST_VERSION,
        "description": (
            "Envelopes every language must decode to `expected` and re-encode to the same bytes "
            "(docs/protocol.md §Test vectors). Each file is a polyray.rpc.Envelope in protobuf "
            "binary form."
        ),
        "notes": [
            "Tagged values: nil, bool, int (JSON integer, full int64/uint64 range), float (decimal "
            "string, NaN, Infinity, -Infinity, -0.0), str, bin (hex), array, map (list of [key, value] "
            "in order), ndarray {dtype, shape, data hex}, ref (proto3 JSON of ObjectRef), actor "
            "(proto3 JSON of ActorHandle), native {language, data hex}; top level only: raw (hex), "
            "error (proto3 JSON of ErrorRecord), arrow {columns: [{name, type, values}]}.",
            "Every vector is canonical. Decoders also accept non-canonical input (float32, "
            "larger-than-needed headers) but re-encode it canonically, so such input is not a vector.",
            "Re-encode ndarrays out of band when they are at least oob_threshold bytes (default "
            f"{DEFAULT_OOB_THRESHOLD}).",
            "byte_exact false: compare the decoded value only.",
        ],
        "vectors": entries,
    }
    return manifest, files


def manifest_text(manifest: dict) -> str:
    """The manifest file content (stable formatting)."""
    return json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"


def write(out: Path) -> None:
    """Write every vector and the manifest into ``out`` (removing stale .bin files)."""
    manifest, files = build()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.bin"):
        if old.name not in files:
            old.unlink()
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "manifest.json").write_text(manifest_text(manifest), encoding="utf-8")


def check(out: Path) -> list[str]:
    """The differences between ``out`` and what :func:`build` makes (empty when up to date)."""
    manifest, files = build()
    problems = []
    mpath = out / "manifest.json"
    if not mpath.exists() or mpath.read_text(encoding="utf-8") != manifest_text(manifest):
        problems.append("manifest.json differs")
    present = {p.name for p in out.glob("*.bin")}
    for name, data in files.items():
        p = out / name
        if not p.exists():
            problems.append(f"{name} is missing")
        elif p.read_bytes() != data:
            problems.append(f"{name} differs")
    for extra in sorted(present - set(files)):
        problems.append(f"{extra} is not in the manifest")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line: write the vectors, or check them with --check."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_DIR, help="vectors directory")
    ap.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = ap.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for p in problems:
            print(f"{args.out}: {p}", file=sys.stderr)
        return 1 if problems else 0
    write(args.out)
    print(f"wrote {len(build()[1])} vectors to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
