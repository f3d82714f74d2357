// The C++ codec on containers and user structs: arrays (vector, list,
// array, tuple, pair), maps (map, unordered_map), canonical headers at
// their size boundaries, POLYRAY_SERIALIZABLE structs, and the place inside
// a value that error messages name.
//
// Invariants checked: fixarray/array16/array32 and fixmap/map16 headers
// byte for byte; fixed-size targets check their element count; every
// mismatch names `what` + the place (`[0]["k"]`, `.points[1].y`).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "polyray/codec.h"

#include "codec_test_util.h"

namespace geo {
/// A user struct declared with the macro, in its own namespace.
struct Point {
  double x = 0;
  double y = 0;
  bool operator==(const Point& o) const { return x == o.x && y == o.y; }
};
POLYRAY_SERIALIZABLE(Point, x, y);

/// A struct of structs and containers.
struct Shape {
  std::string name;
  std::vector<Point> points;
  std::optional<int> tag;
  std::map<std::string, std::vector<std::string>> labels;
};
POLYRAY_SERIALIZABLE(Shape, name, points, tag, labels);
}  // namespace geo

/// A struct of one field.
struct Wrapper {
  std::string v;
};
POLYRAY_SERIALIZABLE(Wrapper, v);

/// A struct in the global namespace.
struct Pixel {
  uint8_t r, g, b;
};
POLYRAY_SERIALIZABLE(Pixel, r, g, b);

namespace polyray {
namespace {

using internal::Decode;
using internal::Encode;
using namespace testutil;  // NOLINT(google-build-using-namespace)

/// The TypeError message of decoding `x` as T.
template <typename T>
std::string DecodeError(const XValue& x, const std::string& what = "value") {
  try {
    Decode<T>(ViewOf(Encode(x)), what);
  } catch (const TypeError& e) {
    return e.what();
  }
  return "";
}

XValue S(const std::string& s) { return XValue::Str(s); }
XValue I(int64_t i) { return XValue::Int(i); }

TEST(CodecContainers, ArraysOfEveryKind) {
  EXPECT_EQ(BodyHex(std::vector<std::string>{"a", "b"}), "92a161a162");
  EXPECT_EQ(BodyHex(std::list<std::string>{"a"}), "91a161");
  EXPECT_EQ(BodyHex(std::array<std::string, 2>{"a", "b"}), "92a161a162");
  EXPECT_EQ(BodyHex(std::tuple<int, std::string, bool>{1, "x", true}), "9301a178c3");
  EXPECT_EQ(BodyHex(std::pair<int, double>{1, 1.5}), "9201cb3ff8000000000000");
  EXPECT_EQ(BodyHex(std::vector<bool>{true, false}), "92c3c2");
  EXPECT_EQ(BodyHex(std::vector<std::vector<std::string>>{{}, {"a"}}), "929091a161");
  EXPECT_EQ(BodyHex(std::tuple<>{}), "90");
  EXPECT_EQ(BodyHex(std::array<int, 2>{1, 2}), "920102");  // std::array stays an array
}

TEST(CodecContainers, ArrayHeadersAtTheirBoundaries) {
  EXPECT_EQ(BodyHex(std::vector<std::nullptr_t>(15)).substr(0, 2), "9f");
  EXPECT_EQ(BodyHex(std::vector<std::nullptr_t>(16)).substr(0, 6), "dc0010");
  EXPECT_EQ(BodyHex(std::vector<std::nullptr_t>(65535)).substr(0, 6), "dcffff");
  EXPECT_EQ(BodyHex(std::vector<std::nullptr_t>(65536)).substr(0, 10), "dd00010000");
  EXPECT_EQ(RoundTrip(std::vector<std::nullptr_t>(65536)).size(), 65536u);
}

TEST(CodecContainers, ArraysRoundTrip) {
  EXPECT_EQ(RoundTrip(std::vector<std::string>{"x", "", "yz"}), (std::vector<std::string>{"x", "", "yz"}));
  EXPECT_EQ(RoundTrip(std::list<std::string>{"a", "b"}), (std::list<std::string>{"a", "b"}));
  EXPECT_EQ(RoundTrip(std::vector<bool>{true, false, true}), (std::vector<bool>{true, false, true}));
  const auto t = std::make_tuple(int8_t{-3}, std::string("s"), std::vector<uint8_t>{1, 2}, 2.5);
  EXPECT_EQ(RoundTrip(t), t);
  const std::pair<std::string, std::optional<int>> p{"k", std::nullopt};
  EXPECT_EQ(RoundTrip(p), p);
  const std::array<std::array<int, 2>, 2> a{{{1, 2}, {3, 4}}};
  EXPECT_EQ(RoundTrip(a), a);
}

TEST(CodecContainers, MapsOfEveryKind) {
  EXPECT_EQ(BodyHex(std::map<std::string, int>{{"a", 1}}), "81a16101");
  EXPECT_EQ(BodyHex(std::map<int, std::string>{{-1, "m"}, {2, "t"}}), "82ffa16d02a174");
  EXPECT_EQ(BodyHex(std::map<std::string, int>{}), "80");
  std::map<std::string, int> m15, m16;
  for (int i = 0; i < 16; ++i) {
    if (i < 15) m15[std::to_string(100 + i)] = i;
    m16[std::to_string(100 + i)] = i;
  }
  EXPECT_EQ(BodyHex(m15).substr(0, 2), "8f");
  EXPECT_EQ(BodyHex(m16).substr(0, 6), "de0010");
  EXPECT_EQ(RoundTrip(m16), m16);
  const std::unordered_map<std::string, std::vector<std::string>> u{{"a", {"x"}}, {"b", {}}};
  EXPECT_EQ(RoundTrip(u), u);
  const std::map<bool, std::nullptr_t> bk{{true, nullptr}};
  EXPECT_EQ(RoundTrip(bk), bk);
  const std::map<std::vector<uint8_t>, int> binkeys{{{1, 2}, 3}};
  EXPECT_EQ(BodyHex(binkeys), "81c402010203");
  EXPECT_EQ(RoundTrip(binkeys), binkeys);
  const std::map<double, int> fk{{1.5, 1}};
  EXPECT_EQ(RoundTrip(fk), fk);
}

TEST(CodecContainers, MapsDecodeFromAnyOrder) {
  const XValue x = XValue::MakeMap({{S("b"), I(1)}, {S("a"), I(2)}});
  const auto m = Decode<std::map<std::string, int>>(ViewOf(Encode(x)), "value");
  EXPECT_EQ(m, (std::map<std::string, int>{{"a", 2}, {"b", 1}}));
}

TEST(CodecContainers, ErrorsNameThePlaceInsideTheValue) {
  // [{"k": 1}, {"k": "x"}] as std::vector<std::map<std::string, int>>.
  const XValue x = XValue::MakeArray({XValue::MakeMap({{S("k"), I(1)}}),
                                      XValue::MakeMap({{S("k"), S("x")}})});
  EXPECT_EQ((DecodeError<std::vector<std::map<std::string, int>>>(x, "argument 2 of Plus1")),
            "argument 2 of Plus1[1][\"k\"]: expected C++ int32_t, got XLANG str \"x\"");
  // An int key, a nested array, and a key that does not fit.
  const XValue y = XValue::MakeMap({{I(7), XValue::MakeArray({I(1), I(300)})}});
  EXPECT_EQ((DecodeError<std::map<int, std::vector<std::string>>>(y)),
            "value[7][0]: expected C++ std::string, got XLANG int 1");
  EXPECT_EQ((DecodeError<std::map<int, std::list<uint8_t>>>(y)),
            "value[7][1]: expected C++ uint8_t, got XLANG int 300 (out of range)");
  EXPECT_EQ((DecodeError<std::map<std::string, XValue>>(y)),
            "value[<key 0>]: expected C++ std::string, got XLANG int 7");
  EXPECT_EQ((DecodeError<std::vector<std::string>>(S("s"))),
            "value: expected C++ std::vector<std::string>, got XLANG str \"s\"");
  EXPECT_EQ((DecodeError<std::map<std::string, int>>(XValue::MakeArray({}))),
            "value: expected C++ std::map<std::string, int32_t>, got XLANG array of 0");
}

TEST(CodecContainers, FixedSizesCheckTheCount) {
  const XValue three = XValue::MakeArray({I(1), I(2), I(3)});
  EXPECT_EQ((DecodeError<std::tuple<int, int>>(three)),
            "value: expected C++ std::tuple<int32_t, int32_t>, got XLANG array of 3 (an array of 2 elements)");
  EXPECT_EQ((DecodeError<std::pair<int, int>>(three)),
            "value: expected C++ std::pair<int32_t, int32_t>, got XLANG array of 3 (an array of 2 elements)");
  EXPECT_EQ((DecodeError<std::array<int, 2>>(three)),
            "value: expected C++ std::array<int32_t, 2>, got XLANG array of 3 (an array of 2 elements)");
  EXPECT_EQ((DecodeError<std::tuple<int, std::string>>(XValue::MakeArray({I(1), I(2)}))),
            "value[1]: expected C++ std::string, got XLANG int 2");
}

TEST(CodecContainers, EncodeErrorsNameThePlace) {
  try {
    Encode(std::vector<std::string>{"ok", "\xff"}, "argument 1 of F");
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "argument 1 of F[1]: std::string is not valid UTF-8 (send bytes as std::vector<uint8_t>)");
  }
  try {
    Encode(std::map<std::string, std::tuple<int, std::string>>{{"k", {1, "\xc3"}}});
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "value[\"k\"][1]: std::string is not valid UTF-8 (send bytes as std::vector<uint8_t>)");
  }
}

TEST(CodecStructs, EncodeAsAnArrayOfTheFields) {
  EXPECT_EQ(BodyHex(geo::Point{1.5, 2}), "92cb3ff8000000000000cb4000000000000000");
  EXPECT_EQ(BodyHex(Pixel{1, 2, 255}), "930102ccff");
  const XValue x = internal::Decode<XValue>(ViewOf(Encode(geo::Point{1.5, 2})), "v");
  EXPECT_EQ(x, XValue::MakeArray({XValue::Float(1.5), XValue::Float(2)}));
}

TEST(CodecStructs, RoundTripNested) {
  geo::Shape s;
  s.name = "tri";
  s.points = {{0, 0}, {1, 0}, {0.5, 1}};
  s.tag = 7;
  s.labels = {{"color", {"red", "dark"}}};
  const geo::Shape back = RoundTrip(s);
  EXPECT_EQ(back.name, s.name);
  EXPECT_EQ(back.points, s.points);
  EXPECT_EQ(back.tag, s.tag);
  EXPECT_EQ(back.labels, s.labels);
  EXPECT_EQ(RoundTrip(std::vector<geo::Point>{{1, 2}}), (std::vector<geo::Point>{{1, 2}}));
  EXPECT_EQ(BodyHex(Wrapper{"w"}), "91a177");
  EXPECT_EQ(RoundTrip(Wrapper{"w"}).v, "w");
  const Pixel p = RoundTrip(Pixel{9, 8, 7});
  EXPECT_EQ(p.r, 9);
  EXPECT_EQ(p.b, 7);
}

TEST(CodecStructs, ArityAndFieldErrors) {
  EXPECT_EQ((DecodeError<geo::Point>(XValue::MakeArray({I(1), I(2), I(3)}), "argument 1 of Move")),
            "argument 1 of Move: expected C++ geo::Point, got XLANG array of 3 (an array of its 2 "
            "fields: x, y)");
  EXPECT_EQ((DecodeError<geo::Point>(XValue::MakeMap({}))),
            "value: expected C++ geo::Point, got XLANG map of 0 (an array of its 2 fields: x, y)");
  const XValue shape = XValue::MakeArray(
      {S("tri"),
       XValue::MakeArray({XValue::MakeArray({I(0), I(0)}), XValue::MakeArray({I(1), S("up")})}),
       XValue::Nil(), XValue::MakeMap({})});
  EXPECT_EQ((DecodeError<geo::Shape>(shape)),
            "value.points[1].y: expected C++ double, got XLANG str \"up\"");
  try {
    Encode(std::vector<geo::Shape>{geo::Shape{"\xff", {}, {}, {}}});
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "value[0].name: std::string is not valid UTF-8 (send bytes as std::vector<uint8_t>)");
  }
}

TEST(CodecStructs, FieldNamesSplitTheMacroList) {
  EXPECT_EQ(internal::FieldNameAt("a, b ,c", 0), "a");
  EXPECT_EQ(internal::FieldNameAt("a, b ,c", 1), "b");
  EXPECT_EQ(internal::FieldNameAt("a, b ,c", 2), "c");
}

}  // namespace
}  // namespace polyray
