// The C++ codec on scalars: exact canonical bytes at every header boundary
// (ints, floats, str, bin), nil/optional/bool/enums, range checks, decoding
// of non-canonical forms, whole-value formats (PYTHON, RAW, ERROR) and
// malformed bodies.
//
// Invariants checked: docs/protocol.md §10.1 rules 1-4 byte for byte; every
// decode failure is a polyray::TypeError naming the value, the XLANG type
// found and the C++ type expected.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "polyray/codec.h"

#include "codec_test_util.h"

namespace polyray {
namespace {

using internal::Decode;
using internal::Encode;
using namespace testutil;  // NOLINT(google-build-using-namespace)

template <typename T>
T FromHex(const std::string& hex) {
  return Decode<T>(ViewOfBody(Unhex(hex)), "value");
}

/// The TypeError message of decoding `hex` as T (empty when it decodes).
template <typename T>
std::string DecodeError(const std::string& hex, const std::string& what = "value") {
  try {
    Decode<T>(ViewOfBody(Unhex(hex)), what);
  } catch (const TypeError& e) {
    return e.what();
  }
  return "";
}

TEST(CodecScalars, IntsUseTheSmallestForm) {
  EXPECT_EQ(BodyHex<int64_t>(0), "00");
  EXPECT_EQ(BodyHex<int64_t>(127), "7f");
  EXPECT_EQ(BodyHex<int64_t>(128), "cc80");
  EXPECT_EQ(BodyHex<int64_t>(255), "ccff");
  EXPECT_EQ(BodyHex<int64_t>(256), "cd0100");
  EXPECT_EQ(BodyHex<int64_t>(65535), "cdffff");
  EXPECT_EQ(BodyHex<int64_t>(65536), "ce00010000");
  EXPECT_EQ(BodyHex<int64_t>(4294967295LL), "ceffffffff");
  EXPECT_EQ(BodyHex<int64_t>(4294967296LL), "cf0000000100000000");
  EXPECT_EQ(BodyHex(std::numeric_limits<int64_t>::max()), "cf7fffffffffffffff");
  EXPECT_EQ(BodyHex(std::numeric_limits<uint64_t>::max()), "cfffffffffffffffff");
  EXPECT_EQ(BodyHex<int64_t>(-1), "ff");
  EXPECT_EQ(BodyHex<int64_t>(-32), "e0");
  EXPECT_EQ(BodyHex<int64_t>(-33), "d0df");
  EXPECT_EQ(BodyHex<int64_t>(-128), "d080");
  EXPECT_EQ(BodyHex<int64_t>(-129), "d1ff7f");
  EXPECT_EQ(BodyHex<int64_t>(-32768), "d18000");
  EXPECT_EQ(BodyHex<int64_t>(-32769), "d2ffff7fff");
  EXPECT_EQ(BodyHex<int64_t>(-2147483648LL), "d280000000");
  EXPECT_EQ(BodyHex<int64_t>(-2147483649LL), "d3ffffffff7fffffff");
  EXPECT_EQ(BodyHex(std::numeric_limits<int64_t>::min()), "d38000000000000000");
}

TEST(CodecScalars, EveryIntegerTypeEncodesByValue) {
  EXPECT_EQ(BodyHex<int8_t>(-1), "ff");
  EXPECT_EQ(BodyHex<uint8_t>(200), "ccc8");
  EXPECT_EQ(BodyHex<int16_t>(300), "cd012c");
  EXPECT_EQ(BodyHex<uint16_t>(65535), "cdffff");
  EXPECT_EQ(BodyHex<int32_t>(-40000), "d2ffff63c0");
  EXPECT_EQ(BodyHex<uint32_t>(70000), "ce00011170");
  EXPECT_EQ(BodyHex<long long>(5), "05");
  EXPECT_EQ(BodyHex<unsigned long>(5), "05");
  EXPECT_EQ(BodyHex<char>('a'), "61");
  EXPECT_EQ(BodyHex<short>(-5), "fb");
}

TEST(CodecScalars, IntsRoundTripAtTheLimitsOfEachType) {
  EXPECT_EQ(FromHex<int8_t>(BodyHex<int8_t>(-128)), -128);
  EXPECT_EQ(FromHex<int8_t>(BodyHex<int8_t>(127)), 127);
  EXPECT_EQ(FromHex<uint8_t>("ccff"), 255);
  EXPECT_EQ(FromHex<int16_t>(BodyHex<int16_t>(-32768)), -32768);
  EXPECT_EQ(FromHex<uint16_t>("cdffff"), 65535);
  EXPECT_EQ(FromHex<int32_t>(BodyHex(std::numeric_limits<int32_t>::min())),
            std::numeric_limits<int32_t>::min());
  EXPECT_EQ(FromHex<uint32_t>("ceffffffff"), 4294967295u);
  EXPECT_EQ(FromHex<int64_t>("d38000000000000000"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(FromHex<uint64_t>("cfffffffffffffffff"), std::numeric_limits<uint64_t>::max());
  // Non-canonical forms decode too.
  EXPECT_EQ(FromHex<int32_t>("d000"), 0);
  EXPECT_EQ(FromHex<int32_t>("cd0005"), 5);
  EXPECT_EQ(FromHex<int64_t>("d3fffffffffffffffe"), -2);
}

TEST(CodecScalars, IntsOutOfRangeAreTypeErrors) {
  EXPECT_EQ(DecodeError<uint8_t>("cd012c"),
            "value: expected C++ uint8_t, got XLANG int 300 (out of range)");
  EXPECT_EQ(DecodeError<uint32_t>("ff"), "value: expected C++ uint32_t, got XLANG int -1 (out of range)");
  EXPECT_EQ(DecodeError<int8_t>("d1ff7f"),
            "value: expected C++ int8_t, got XLANG int -129 (out of range)");
  EXPECT_EQ(DecodeError<int64_t>("cfffffffffffffffff"),
            "value: expected C++ int64_t, got XLANG int 18446744073709551615 (out of range)");
  EXPECT_EQ(DecodeError<int32_t>("ce80000000"),
            "value: expected C++ int32_t, got XLANG int 2147483648 (out of range)");
}

TEST(CodecScalars, WrongTypeNamesBothSides) {
  EXPECT_EQ(DecodeError<int32_t>("a3616263", "argument 2 of Plus1"),
            "argument 2 of Plus1: expected C++ int32_t, got XLANG str \"abc\"");
  EXPECT_EQ(DecodeError<std::string>("c3"), "value: expected C++ std::string, got XLANG bool true");
  EXPECT_EQ(DecodeError<bool>("01"), "value: expected C++ bool, got XLANG int 1");
  EXPECT_EQ(DecodeError<int>("cb3ff8000000000000"),
            "value: expected C++ int32_t, got XLANG float 1.5");
  EXPECT_EQ(DecodeError<std::nullptr_t>("90"), "value: expected C++ std::nullptr_t, got XLANG array of 0");
}

TEST(CodecScalars, FloatsAreAlwaysFloat64) {
  EXPECT_EQ(BodyHex(1.5), "cb3ff8000000000000");
  EXPECT_EQ(BodyHex(1.5f), "cb3ff8000000000000");
  EXPECT_EQ(BodyHex(3.0), "cb4008000000000000");  // never packed as an int
  EXPECT_EQ(BodyHex(0.0), "cb0000000000000000");
  EXPECT_EQ(BodyHex(-0.0), "cb8000000000000000");
  EXPECT_EQ(BodyHex(std::numeric_limits<double>::infinity()), "cb7ff0000000000000");
  EXPECT_EQ(BodyHex(std::numeric_limits<double>::quiet_NaN()), "cb7ff8000000000000");
  EXPECT_EQ(BodyHex(std::numeric_limits<double>::denorm_min()), "cb0000000000000001");
}

TEST(CodecScalars, FloatsDecodeFromFloat32AndInts) {
  EXPECT_EQ(FromHex<double>("ca3fc00000"), 1.5);
  EXPECT_EQ(FromHex<float>("cb3ff8000000000000"), 1.5f);
  EXPECT_EQ(FromHex<double>("03"), 3.0);
  EXPECT_EQ(FromHex<double>("ff"), -1.0);
  EXPECT_TRUE(std::signbit(FromHex<double>("cb8000000000000000")));
  EXPECT_TRUE(std::isnan(FromHex<double>("cb7ff8000000000000")));
  EXPECT_EQ(DecodeError<double>("a0"), "value: expected C++ double, got XLANG str \"\"");
}

TEST(CodecScalars, StringsUseTheSmallestHeader) {
  EXPECT_EQ(BodyHex(std::string()), "a0");
  EXPECT_EQ(BodyHex(std::string("abc")), "a3616263");
  EXPECT_EQ(BodyHex(std::string(31, 'a')).substr(0, 2), "bf");
  EXPECT_EQ(BodyHex(std::string(32, 'a')).substr(0, 4), "d920");
  EXPECT_EQ(BodyHex(std::string(255, 'a')).substr(0, 4), "d9ff");
  EXPECT_EQ(BodyHex(std::string(256, 'a')).substr(0, 6), "da0100");
  EXPECT_EQ(BodyHex(std::string(65535, 'a')).substr(0, 6), "daffff");
  EXPECT_EQ(BodyHex(std::string(65536, 'a')).substr(0, 10), "db00010000");
  EXPECT_EQ(BodyHex("lit"), "a36c6974");
  EXPECT_EQ(BodyHex(std::string_view("sv")), "a27376");
  const std::string utf8 = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80";
  EXPECT_EQ(FromHex<std::string>(BodyHex(utf8)), utf8);
  EXPECT_EQ(FromHex<std::string>(BodyHex(std::string(70000, 'z'))), std::string(70000, 'z'));
  EXPECT_EQ(FromHex<std::string>("d903616263"), "abc");  // str8 for 3 bytes decodes
}

TEST(CodecScalars, InvalidUtf8HasNoXlangForm) {
  for (const std::string& bad : {std::string("\xff"), std::string("a\xc3"), std::string("\xc0\x80"),
                                std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80")}) {
    try {
      Encode(bad, "argument 1 of F");
      ADD_FAILURE() << "encoded invalid UTF-8 " << Hex(bad);
    } catch (const TypeError& e) {
      EXPECT_EQ(std::string(e.what()),
                "argument 1 of F: std::string is not valid UTF-8 (send bytes as std::vector<uint8_t>)");
    }
  }
}

TEST(CodecScalars, BinUsesTheSmallestHeader) {
  EXPECT_EQ(BodyHex(std::vector<uint8_t>{}), "c400");
  EXPECT_EQ(BodyHex(std::vector<uint8_t>{0, 255}), "c40200ff");
  EXPECT_EQ(BodyHex(std::vector<uint8_t>(255)).substr(0, 4), "c4ff");
  EXPECT_EQ(BodyHex(std::vector<uint8_t>(256)).substr(0, 6), "c50100");
  EXPECT_EQ(BodyHex(std::vector<uint8_t>(65536)).substr(0, 10), "c600010000");
  std::vector<uint8_t> bytes(300);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(FromHex<std::vector<uint8_t>>(BodyHex(bytes)), bytes);
  EXPECT_EQ(FromHex<std::vector<uint8_t>>("93000102"), (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(DecodeError<std::vector<uint8_t>>("a161"),
            "value: expected C++ std::vector<uint8_t>, got XLANG str \"a\"");
}

TEST(CodecScalars, NilBoolOptional) {
  EXPECT_EQ(BodyHex(nullptr), "c0");
  EXPECT_EQ(BodyHex(true), "c3");
  EXPECT_EQ(BodyHex(false), "c2");
  EXPECT_EQ(BodyHex(std::optional<int>()), "c0");
  EXPECT_EQ(BodyHex(std::optional<int>(5)), "05");
  EXPECT_EQ(FromHex<std::optional<int>>("c0"), std::nullopt);
  EXPECT_EQ(FromHex<std::optional<int>>("05"), 5);
  EXPECT_EQ(FromHex<std::nullptr_t>("c0"), nullptr);
  EXPECT_TRUE(FromHex<bool>("c3"));
  EXPECT_EQ(DecodeError<std::optional<int>>("a0"),
            "value: expected C++ int32_t, got XLANG str \"\"");
}

enum class Color : int8_t { kRed = 1, kBlue = -2 };
enum Plain { kZero, kOne };

TEST(CodecScalars, EnumsTravelAsTheirValue) {
  EXPECT_EQ(BodyHex(Color::kRed), "01");
  EXPECT_EQ(BodyHex(Color::kBlue), "fe");
  EXPECT_EQ(BodyHex(kOne), "01");
  EXPECT_EQ(FromHex<Color>("fe"), Color::kBlue);
  EXPECT_EQ(FromHex<Plain>("01"), kOne);
  EXPECT_NE(DecodeError<Color>("cc80").find("out of range"), std::string::npos);
}

TEST(CodecScalars, EncodedIsXlangWithoutRefsOrBuffers) {
  const internal::Encoded e = Encode(std::string("x"));
  EXPECT_EQ(e.format, Format::kXlang);
  EXPECT_TRUE(e.buffers.empty());
  EXPECT_TRUE(e.nested_refs.empty());
  EXPECT_TRUE(e.nested_handles.empty());
  EXPECT_EQ(internal::EncodedSize(e), 2u);
}

TEST(CodecScalars, PythonFormatHasNoCppForm) {
  try {
    Decode<int>(ViewOfBody("\x80\x05K\x01.", Format::kPython), "return value of task F");
    FAIL();
  } catch (const TypeError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("return value of task F: the value was pickled by Python", 0), 0u) << m;
    EXPECT_NE(m.find("int32_t"), std::string::npos);
    EXPECT_NE(m.find("XLANG-compatible"), std::string::npos);
  }
}

TEST(CodecScalars, RawDecodesToBytesOnly) {
  const internal::ValueView raw = ViewOfBody(Unhex("0001ff"), Format::kRaw);
  EXPECT_EQ(Decode<std::vector<uint8_t>>(raw, "v"), (std::vector<uint8_t>{0, 1, 255}));
  EXPECT_EQ(Decode<std::string>(raw, "v"), Unhex("0001ff"));
  try {
    Decode<int>(raw, "v");
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_EQ(std::string(e.what()),
              "v: a RAW value cannot become C++ int32_t (decode RAW bytes as "
              "std::vector<uint8_t>, std::string or polyray::XValue)");
  }
}

TEST(CodecScalars, MalformedBodiesAreTypeErrors) {
  for (const char* hex : {"", "92", "9201", "0101", "a3", "c1"}) {
    try {
      FromHex<XValue>(hex);
      ADD_FAILURE() << "decoded malformed " << hex;
    } catch (const TypeError& e) {
      EXPECT_NE(std::string(e.what()).find("value: the XLANG value is malformed msgpack"),
                std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace polyray
