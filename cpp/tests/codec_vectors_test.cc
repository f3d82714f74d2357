// The shared test vectors (proto/vectors/, docs/protocol.md §12) through the
// C++ codec: every vector's Envelope is decoded and compared with the
// manifest's tagged `expected` value, then the expected value is encoded
// again and, for byte_exact vectors, compared byte for byte with the file.
//
// Invariants checked:
//  - XLANG bodies decode to XValue equal to `expected` (every tag of the
//    manifest notes: nil, bool, int, float, str, bin, array, map, ndarray,
//    ref, actor, native; raw, error, arrow at top level) and re-encode to the
//    same Envelope bytes, with the vector's oob_threshold.
//  - ERROR bodies are deterministic ErrorRecords equal to `expected` and
//    throw the mapped polyray exception; RAW keeps its bytes; ARROW decodes
//    to a zero-copy ArrowIpc of the body.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "codec/envelope.h"
#include "codec_test_util.h"
#include "polyray/codec.h"
#include "polyray/protocol/common.pb.h"

namespace polyray {
namespace {

using nlohmann::json;

const std::string kVectorDir = std::string(POLYRAY_SOURCE_DIR) + "/proto/vectors/";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json& Manifest() {
  static const json manifest = json::parse(ReadFile(kVectorDir + "manifest.json"));
  return manifest;
}

double ParseFloat(const std::string& s) {
  if (s == "NaN") {
    const uint64_t bits = 0x7ff8000000000000ull;  // the vectors' canonical quiet NaN
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  if (s == "Infinity") return INFINITY;
  if (s == "-Infinity") return -INFINITY;
  return std::strtod(s.c_str(), nullptr);  // also "-0.0", "5e-324"
}

template <typename Message>
std::string ProtoFromJson(const json& j) {
  Message m;
  const auto status = google::protobuf::util::JsonStringToMessage(j.dump(), &m);
  if (!status.ok()) throw std::runtime_error("bad proto3 JSON: " + j.dump());
  return internal::SerializeDeterministic(m);
}

Language LanguageFromName(const std::string& name) {
  if (name == "PYTHON") return Language::kPython;
  if (name == "JAVA") return Language::kJava;
  if (name == "CPP") return Language::kCpp;
  throw std::runtime_error("unknown language " + name);
}

/// A tagged value of the manifest (docs/protocol.md §12) as an XValue.
XValue FromTagged(const json& t) {
  if (!t.is_object() || t.size() != 1) throw std::runtime_error("not a tagged value: " + t.dump());
  const std::string tag = t.begin().key();
  const json& v = t.begin().value();
  if (tag == "nil") return XValue::Nil();
  if (tag == "bool") return XValue::Bool(v.get<bool>());
  if (tag == "int") {
    return v.is_number_unsigned() ? XValue::Uint(v.get<uint64_t>()) : XValue::Int(v.get<int64_t>());
  }
  if (tag == "float") return XValue::Float(ParseFloat(v.get<std::string>()));
  if (tag == "str") return XValue::Str(v.get<std::string>());
  if (tag == "bin") return XValue::Bin(testutil::Unhex(v.get<std::string>()));
  if (tag == "array") {
    XValue::Array items;
    for (const json& e : v) items.push_back(FromTagged(e));
    return XValue::MakeArray(std::move(items));
  }
  if (tag == "map") {
    XValue::Map entries;
    for (const json& kv : v) entries.emplace_back(FromTagged(kv.at(0)), FromTagged(kv.at(1)));
    return XValue::MakeMap(std::move(entries));
  }
  if (tag == "ndarray") {
    DType dtype;
    if (!ParseDType(v.at("dtype").get<std::string>(), &dtype)) throw std::runtime_error("dtype");
    return XValue::NdArray(dtype, v.at("shape").get<std::vector<uint64_t>>(),
                           testutil::Unhex(v.at("data").get<std::string>()));
  }
  if (tag == "ref") return XValue::Ref(ProtoFromJson<rpc::ObjectRef>(v));
  if (tag == "actor") return XValue::Actor(ProtoFromJson<rpc::ActorHandle>(v));
  if (tag == "native") {
    return XValue::Native(NativeValue{LanguageFromName(v.at("language").get<std::string>()),
                                      testutil::Unhex(v.at("data").get<std::string>())});
  }
  throw std::runtime_error("unknown tag " + tag);  // raw/error/arrow are top level only
}

/// Every ref / actor payload in `x`, in encounter order.
void CollectRefs(const XValue& x, std::vector<std::string>* refs, std::vector<std::string>* actors) {
  switch (x.kind()) {
    case XValue::Kind::kRef: refs->push_back(x.bytes()); break;
    case XValue::Kind::kActor: actors->push_back(x.bytes()); break;
    case XValue::Kind::kArray:
      for (const auto& e : x.items()) CollectRefs(e, refs, actors);
      break;
    case XValue::Kind::kMap:
      for (const auto& kv : x.entries()) {
        CollectRefs(kv.first, refs, actors);
        CollectRefs(kv.second, refs, actors);
      }
      break;
    default: break;
  }
}

std::string EnvelopeBytes(const internal::Encoded& e) {
  rpc::Envelope env;
  internal::ToEnvelope(e, &env);
  return internal::SerializeDeterministic(env);
}

std::vector<std::string> VectorNames() {
  std::vector<std::string> names;
  for (const json& v : Manifest().at("vectors")) names.push_back(v.at("name").get<std::string>());
  return names;
}

const json& VectorNamed(const std::string& name) {
  for (const json& v : Manifest().at("vectors")) {
    if (v.at("name") == name) return v;
  }
  throw std::runtime_error("no vector " + name);
}

class CodecVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(CodecVectors, DecodesAndReencodes) {
  const json& vec = VectorNamed(GetParam());
  const std::string file = ReadFile(kVectorDir + vec.at("file").get<std::string>());
  ASSERT_FALSE(file.empty()) << vec.at("file");
  auto env = std::make_shared<rpc::Envelope>();
  ASSERT_TRUE(env->ParseFromString(file));
  const internal::ValueView view = internal::ViewOfEnvelope(env);
  const std::string format = vec.at("format");
  const json& expected = vec.at("expected");
  const bool byte_exact = vec.at("byte_exact").get<bool>();

  if (format == "XLANG") {
    ASSERT_EQ(view.format, Format::kXlang);
    const XValue want = FromTagged(expected);
    const XValue got = internal::Decode<XValue>(view, GetParam());
    EXPECT_EQ(got, want) << "got " << got.ToString() << "\nwant " << want.ToString();
    const size_t threshold = vec.value("oob_threshold", size_t{65536});
    for (const XValue* x : {&want, &got}) {
      const internal::Encoded enc = internal::Encode(*x, GetParam(), threshold);
      if (byte_exact) {
        EXPECT_EQ(internal::ToHex(EnvelopeBytes(enc)), internal::ToHex(file));
      }
      std::vector<std::string> refs, actors;
      CollectRefs(want, &refs, &actors);
      EXPECT_EQ(enc.nested_refs, refs);
      EXPECT_EQ(enc.nested_handles, actors);
    }
  } else if (format == "ERROR") {
    ASSERT_EQ(view.format, Format::kError);
    rpc::ErrorRecord got, want;
    ASSERT_TRUE(got.ParseFromArray(view.body.data(), static_cast<int>(view.body.size())));
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(expected.at("error").dump(), &want).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, want))
        << got.DebugString() << "\nvs\n" << want.DebugString();
    EXPECT_EQ(internal::SerializeDeterministic(want), std::string(view.body));
    internal::Encoded enc;
    enc.format = Format::kError;
    enc.body = internal::SerializeDeterministic(want);
    EXPECT_EQ(EnvelopeBytes(enc), file);
    try {
      internal::Decode<XValue>(view, GetParam());
      ADD_FAILURE() << "an ERROR value must throw";
    } catch (const TaskException& e) {
      EXPECT_EQ(want.kind(), rpc::TASK_ERROR);
      EXPECT_EQ(e.type_name(), want.type_name());
      EXPECT_EQ(e.message(), want.message());
      EXPECT_EQ(e.record(), std::string(view.body));
    } catch (const WorkerCrashedError& e) {
      EXPECT_EQ(want.kind(), rpc::WORKER_CRASHED);
      EXPECT_EQ(e.record(), std::string(view.body));
      EXPECT_NE(std::string(e.what()).find(want.message()), std::string::npos);
    }
  } else if (format == "RAW") {
    ASSERT_EQ(view.format, Format::kRaw);
    const std::string want = testutil::Unhex(expected.at("raw").get<std::string>());
    const auto bytes = internal::Decode<std::vector<uint8_t>>(view, GetParam());
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), want);
    EXPECT_EQ(internal::Decode<std::string>(view, GetParam()), want);
    EXPECT_EQ(internal::Decode<XValue>(view, GetParam()), XValue::Bin(want));
    internal::Encoded enc;
    enc.format = Format::kRaw;
    enc.body = want;
    EXPECT_EQ(EnvelopeBytes(enc), file);
  } else if (format == "ARROW") {
    ASSERT_EQ(view.format, Format::kArrow);
    EXPECT_FALSE(byte_exact);
    const ArrowIpc table = internal::Decode<ArrowIpc>(view, GetParam());
    EXPECT_EQ(table.bytes().data(), view.body.data()) << "ARROW must decode without a copy";
    EXPECT_EQ(table.bytes().size(), view.body.size());
    // An IPC stream starts with a continuation marker; its schema names the columns.
    ASSERT_GE(table.bytes().size(), 8u);
    EXPECT_EQ(table.bytes().substr(0, 4), std::string_view("\xff\xff\xff\xff", 4));
    for (const json& col : expected.at("arrow").at("columns")) {
      EXPECT_NE(table.bytes().find(col.at("name").get<std::string>()), std::string_view::npos);
    }
    const internal::Encoded enc = internal::Encode(table);
    EXPECT_EQ(enc.format, Format::kArrow);
    EXPECT_EQ(enc.body, std::string(view.body));
    EXPECT_THROW(internal::Decode<XValue>(view, GetParam()), TypeError);
  } else {
    FAIL() << "unknown format " << format;
  }
}

INSTANTIATE_TEST_SUITE_P(All, CodecVectors, ::testing::ValuesIn(VectorNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(CodecVectorsManifest, CoversEveryTagAndFormat) {
  // Every tag the manifest's notes list appears in some vector, so the
  // parameterized test above exercised it.
  std::set<std::string> seen;
  std::function<void(const json&)> walk = [&](const json& t) {
    if (!t.is_object() || t.size() != 1) return;
    const std::string tag = t.begin().key();
    seen.insert(tag);
    const json& v = t.begin().value();
    if (tag == "array") {
      for (const json& e : v) walk(e);
    } else if (tag == "map") {
      for (const json& kv : v) {
        walk(kv.at(0));
        walk(kv.at(1));
      }
    }
  };
  for (const json& v : Manifest().at("vectors")) walk(v.at("expected"));
  for (const char* tag : {"nil", "bool", "int", "float", "str", "bin", "array", "map", "ndarray",
                          "ref", "actor", "native", "raw", "error", "arrow"}) {
    EXPECT_TRUE(seen.count(tag)) << tag;
  }
  EXPECT_GE(Manifest().at("vectors").size(), 70u);
}

}  // namespace
}  // namespace polyray
