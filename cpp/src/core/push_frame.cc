// Frame helpers of push_frame.h.
#include "core/push_frame.h"

#include <google/protobuf/message_lite.h>

namespace polyray::core {

uint32_t PushFrameLength(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 | static_cast<uint32_t>(b[2]) << 16 |
         static_cast<uint32_t>(b[3]) << 24;
}

void AppendPushFrame(const google::protobuf::MessageLite& message, std::string& out) {
  size_t n = message.ByteSizeLong();
  size_t at = out.size();
  out.resize(at + kPushFrameHeader + n);
  for (size_t i = 0; i < kPushFrameHeader; ++i) out[at + i] = static_cast<char>((n >> (8 * i)) & 0xff);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&out[at + kPushFrameHeader]));
}

}  // namespace polyray::core
