// The C++ codec on dynamic values and references: XValue (any XLANG value,
// re-encoded canonically), ObjectRef / actor handles as ext 1 / ext 2 with
// their nested_refs / nested_handles, native values (ext 4), unknown
// extensions, extension headers at their size boundaries, 512-level
// nesting, and the ARROW whole-value format.
//
// Invariants checked: fixext 1/2/4/8/16 exactly at those payload sizes, ext8
// / ext16 otherwise; non-canonical input re-encodes canonically; refs decode
// as bytes without a runtime; ArrowIpc is a whole value only.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "polyray/codec.h"

#include "codec_test_util.h"

namespace polyray {
namespace {

using internal::Decode;
using internal::Encode;
using namespace testutil;  // NOLINT(google-build-using-namespace)

XValue FromBody(const std::string& hex) {
  internal::Encoded e;
  e.body = Unhex(hex);
  return Decode<XValue>(ViewOf(e), "value");
}

std::string Canonical(const std::string& hex) { return Hex(Encode(FromBody(hex)).body); }

struct Counter {};

TEST(CodecRefs, ObjectRefsAreExt1AndRecorded) {
  const std::string msg(30, 'r');  // stands for a serialized polyray.rpc.ObjectRef
  ObjectRef<int> ref(std::make_shared<internal::RefEntry>(internal::RefEntry{"id", msg}));
  const internal::Encoded e = Encode(std::vector<ObjectRef<int>>{ref, ref});
  EXPECT_EQ(Hex(e.body), "92" "c71e01" + Hex(msg) + "c71e01" + Hex(msg));
  EXPECT_EQ(e.nested_refs, (std::vector<std::string>{msg, msg}));
  EXPECT_TRUE(e.nested_handles.empty());
  const XValue x = Decode<XValue>(ViewOf(e), "v");
  EXPECT_EQ(x.items()[1], XValue::Ref(msg));
  EXPECT_EQ(Encode(x).nested_refs, e.nested_refs);
}

TEST(CodecRefs, ActorHandlesAreExt2AndRecorded) {
  const std::string msg(40, 'a');
  auto entry = std::make_shared<internal::ActorEntry>(internal::ActorEntry{"aid", Language::kCpp, msg});
  const std::map<std::string, ActorHandle<Counter>> m{{"c", ActorHandle<Counter>(entry)}};
  const internal::Encoded e = Encode(m);
  EXPECT_EQ(Hex(e.body), "81a163" "c72802" + Hex(msg));
  EXPECT_EQ(e.nested_handles, std::vector<std::string>{msg});
  const internal::Encoded x = Encode(ActorHandleXlang(entry));
  EXPECT_EQ(x.nested_handles, std::vector<std::string>{msg});
  EXPECT_EQ(Decode<XValue>(ViewOf(x), "v"), XValue::Actor(msg));
}

TEST(CodecRefs, EmptyReferencesHaveNoXlangForm) {
  try {
    Encode(std::vector<ObjectRef<int>>(1), "argument 1 of F");
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_NE(std::string(e.what()).find("argument 1 of F[0]: polyray::ObjectRef<int> is empty"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(Encode(ActorHandleXlang()), TypeError);
  EXPECT_THROW(Encode(ActorHandle<Counter>()), TypeError);
}

TEST(CodecRefs, RefsDecodeOnlyFromTheirExt) {
  try {
    Decode<ObjectRef<int>>(ViewOf(Encode(5)), "argument 1 of F");
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "argument 1 of F: expected C++ polyray::ObjectRef<int>, got XLANG int 5");
  }
  EXPECT_THROW(Decode<ActorHandleXlang>(ViewOf(Encode(XValue::Ref("r"))), "v"), TypeError);
  // A typed ref borrows through the runtime; without one that is polyray::Error.
  EXPECT_THROW(Decode<ObjectRef<int>>(ViewOf(Encode(XValue::Ref("r"))), "v"), Error);
}

TEST(CodecExt, HeadersAtTheirBoundaries) {
  const auto ext = [](size_t n) { return Hex(Encode(XValue::Ext(9, std::string(n, 'x'))).body); };
  EXPECT_EQ(ext(1).substr(0, 4), "d409");
  EXPECT_EQ(ext(2).substr(0, 4), "d509");
  EXPECT_EQ(ext(4).substr(0, 4), "d609");
  EXPECT_EQ(ext(8).substr(0, 4), "d709");
  EXPECT_EQ(ext(16).substr(0, 4), "d809");
  EXPECT_EQ(ext(0).substr(0, 6), "c70009");
  EXPECT_EQ(ext(3).substr(0, 6), "c70309");
  EXPECT_EQ(ext(17).substr(0, 6), "c71109");
  EXPECT_EQ(ext(255).substr(0, 6), "c7ff09");
  EXPECT_EQ(ext(256).substr(0, 8), "c8010009");
  EXPECT_EQ(ext(65536).substr(0, 12), "c90001000009");
  EXPECT_EQ(Hex(Encode(XValue::Ref(std::string(16, '\x01'))).body).substr(0, 4), "d801");
}

TEST(CodecExt, UnknownExtensionsRoundTripUnchanged) {
  EXPECT_EQ(FromBody("d6090a0b0c0d"), XValue::Ext(9, Unhex("0a0b0c0d")));
  EXPECT_EQ(Canonical("d6090a0b0c0d"), "d6090a0b0c0d");
  EXPECT_EQ(FromBody("d4ff00"), XValue::Ext(-1, std::string(1, '\0')));  // a timestamp stays opaque
  // ext8 with a 16-byte payload re-encodes as fixext 16.
  EXPECT_EQ(Canonical("c71009" + std::string(32, '0')), "d809" + std::string(32, '0'));
}

TEST(CodecNative, NativeValuesAreOpaqueAndExact) {
  const NativeValue java{Language::kJava, "abc"};
  EXPECT_EQ(Hex(Encode(java).body), "c70704" "9201c403616263");
  EXPECT_EQ(Decode<NativeValue>(ViewOf(Encode(java)), "v"), java);
  EXPECT_EQ(FromBody("c7070492" "01c403616263"), XValue::Native(java));
  const NativeValue cpp{Language::kCpp, std::string(12, 'z')};  // payload of 16: fixext 16
  EXPECT_EQ(Hex(Encode(cpp).body).substr(0, 12), "d804" "9202c40c");
  EXPECT_EQ(Decode<std::vector<NativeValue>>(ViewOf(Encode(std::vector<NativeValue>{cpp})), "v")[0], cpp);
  EXPECT_THROW(FromBody("c703049201c0"), TypeError);  // [1, nil]: malformed
}

TEST(CodecXValue, NonCanonicalInputReencodesCanonically) {
  EXPECT_EQ(Canonical("ca3fc00000"), "cb3ff8000000000000");  // float32 -> float64
  EXPECT_EQ(Canonical("dc000101"), "9101");                  // array16 of 1
  EXPECT_EQ(Canonical("de00010102"), "810102");              // map16 of 1
  EXPECT_EQ(Canonical("d903616263"), "a3616263");            // str8 of 3
  EXPECT_EQ(Canonical("c50001ff"), "c401ff");                // bin16 of 1
  EXPECT_EQ(Canonical("d3000000000000002a"), "2a");          // int64 42
  EXPECT_EQ(Canonical("cf0000000000000005"), "05");          // uint64 5
  EXPECT_EQ(FromBody("cd0005"), XValue::Int(5));
}

TEST(CodecXValue, KindsAndAccessors) {
  EXPECT_EQ(XValue::Uint(5).kind(), XValue::Kind::kInt);
  EXPECT_EQ(XValue::Uint(~0ull).kind(), XValue::Kind::kUint);
  EXPECT_EQ(XValue::Int(5).as_uint(), 5u);
  EXPECT_EQ(XValue::Str("s").bytes(), "s");
  EXPECT_THROW(XValue::Str("s").as_int(), TypeError);
  EXPECT_THROW(XValue::Nil().bytes(), TypeError);
  EXPECT_NE(XValue::Float(0.0), XValue::Float(-0.0));
  EXPECT_EQ(XValue::Float(std::nan("")), XValue::Float(std::nan("")));
  EXPECT_EQ(XValue::MakeMap({{XValue::Str("k"), XValue::Bin("\x01")}}).ToString(), "{\"k\": bin:01}");
  EXPECT_THROW(XValue::NdArray(DType::kInt32, {2}, "abc"), TypeError);
  XValue a = XValue::MakeArray({});
  a.items().push_back(XValue::Bool(true));
  EXPECT_EQ(Hex(Encode(a).body), "91c3");
}

TEST(CodecXValue, MixesWithTypedContainers) {
  const std::map<std::string, XValue> m{{"n", XValue::Nil()}, {"x", XValue::Int(-1)}};
  EXPECT_EQ(Hex(Encode(m).body), "82a16ec0a178ff");
  EXPECT_EQ(Decode<decltype(m)>(ViewOf(Encode(m)), "v"), m);
}

TEST(CodecXValue, Accepts512LevelsAndRefusesRunawayNesting) {
  const std::string deep = [] {
    std::string s;
    for (int i = 0; i < 512; ++i) s += "91";
    return s + "c0";
  }();
  const XValue x = FromBody(deep);
  EXPECT_EQ(Hex(Encode(x).body), deep);
  const XValue* p = &x;
  int levels = 0;
  while (p->kind() == XValue::Kind::kArray) {
    p = &p->items()[0];
    ++levels;
  }
  EXPECT_EQ(levels, 512);
  std::string too_deep;
  for (int i = 0; i < 5000; ++i) too_deep += "91";
  try {
    FromBody(too_deep + "c0");
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 1024 levels"), std::string::npos) << e.what();
  }
}

TEST(CodecArrow, WholeValueOnly) {
  const ArrowIpc table(std::string("\xff\xff\xff\xff", 4) + "schema");
  const internal::Encoded e = Encode(table);
  EXPECT_EQ(e.format, Format::kArrow);
  EXPECT_EQ(e.body, std::string(table.bytes()));
  const internal::ValueView view = ViewOf(e);
  EXPECT_EQ(Decode<ArrowIpc>(view, "v").bytes().data(), view.body.data());
  try {
    Encode(std::vector<ArrowIpc>{table}, "argument 1 of F");
    FAIL();
  } catch (const TypeError& err) {
    EXPECT_EQ(std::string(err.what()),
              "argument 1 of F[0]: polyray::ArrowIpc is ARROW only as a whole value, not inside another value");
  }
  try {
    Decode<ArrowIpc>(ViewOf(Encode(1)), "v");
    FAIL();
  } catch (const TypeError& err) {
    EXPECT_EQ(std::string(err.what()),
              "v: an XLANG value cannot become C++ polyray::ArrowIpc (only an ARROW value is an Arrow table)");
  }
  EXPECT_THROW(Decode<int>(view, "v"), TypeError);
}

}  // namespace
}  // namespace polyray
