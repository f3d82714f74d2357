// The codec's error messages (polyray/codec/wire.h, polyray/codec.h): how a
// CodecMismatch collected on the way up a value becomes a polyray::TypeError,
// plus the UTF-8 check strings must pass before they are encoded.
//
// Invariants:
//  - A decode message reads "<what><place>: expected C++ <type>, got XLANG
//    <found> (<detail>)", the place outermost first (`[3]["k"].x`).
//  - Only failure paths build strings; nothing here runs for a good value
//    except IsValidUtf8.
#include <cstdint>
#include <string>

#include "polyray/codec.h"
#include "polyray/exceptions.h"

namespace polyray {
namespace internal {

namespace {

std::string Place(const CodecMismatch& m) {
  std::string place;
  for (auto it = m.path.rbegin(); it != m.path.rend(); ++it) place += *it;
  return place;
}

const char* FormatName(Format f) {
  switch (f) {
    case Format::kXlang: return "XLANG";
    case Format::kPython: return "PYTHON";
    case Format::kRaw: return "RAW";
    case Format::kArrow: return "ARROW";
    case Format::kError: return "ERROR";
  }
  return "unknown-format";
}

}  // namespace

void ThrowMismatch(const msgpack::object& found, std::string expected, std::string detail) {
  CodecMismatch m;
  m.expected = std::move(expected);
  m.found = DescribeXlang(found);
  m.detail = std::move(detail);
  throw m;
}

void ThrowEncodeMismatch(std::string type, std::string detail) {
  CodecMismatch m;
  m.expected = std::move(type);
  m.detail = std::move(detail);
  throw m;
}

void ThrowDecodeError(const std::string& what, const CodecMismatch& m) {
  std::string text = what + Place(m) + ": expected C++ " + m.expected + ", got XLANG " + m.found;
  if (!m.detail.empty()) text += " (" + m.detail + ")";
  throw TypeError(text);
}

void ThrowEncodeError(std::string_view what, const CodecMismatch& m) {
  throw TypeError(std::string(what) + Place(m) + ": " + m.expected + " " + m.detail);
}

void ThrowPythonFormat(const std::string& what, const std::string& expected) {
  throw TypeError(what + ": the value was pickled by Python (format PYTHON) and has no C++ form, "
                  "so it cannot become " + expected +
                  ". Return or pass XLANG-compatible values from Python (None, bool, int, "
                  "float, str, bytes, list, dict, numpy arrays, ObjectRefs, actor handles; "
                  "no tuples, sets or custom classes)");
}

void ThrowWrongFormat(const std::string& what, Format format, const std::string& expected) {
  const bool an = format == Format::kXlang || format == Format::kArrow || format == Format::kError;
  std::string text = what + (an ? ": an " : ": a ") + FormatName(format) +
                     " value cannot become C++ " + expected;
  switch (format) {
    case Format::kRaw:
      text += " (decode RAW bytes as std::vector<uint8_t>, std::string or polyray::XValue)";
      break;
    case Format::kArrow:
      text += " (decode an Arrow table as polyray::ArrowIpc)";
      break;
    case Format::kXlang:
      text += " (only an ARROW value is an Arrow table)";
      break;
    default:
      break;
  }
  throw TypeError(text);
}

bool IsValidUtf8(const char* data, size_t n) {
  const auto* s = reinterpret_cast<const unsigned char*>(data);
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

std::string FieldNameAt(const char* names, size_t i) {
  std::string_view all(names);
  for (size_t k = 0; k < i; ++k) {
    const size_t comma = all.find(',');
    if (comma == std::string_view::npos) return "field" + std::to_string(i);
    all.remove_prefix(comma + 1);
  }
  all = all.substr(0, all.find(','));
  while (!all.empty() && (all.front() == ' ' || all.front() == '\t' || all.front() == '\n')) {
    all.remove_prefix(1);
  }
  while (!all.empty() && (all.back() == ' ' || all.back() == '\t' || all.back() == '\n')) {
    all.remove_suffix(1);
  }
  return std::string(all);
}

}  // namespace internal
}  // namespace polyray
