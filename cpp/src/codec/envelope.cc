// Envelopes as protocol messages (envelope.h).
//
// Invariants: no copies on the view side; the deterministic flag is set on
// every serialization this file does.
#include "codec/envelope.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace polyray {
namespace internal {

std::string SerializeDeterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

void ToEnvelope(const Encoded& value, rpc::Envelope* out) {
  out->set_format(static_cast<rpc::Format>(value.format));
  out->set_body(value.body);
  out->clear_buffers();
  for (const auto& b : value.buffers) out->add_buffers(b);
}

void ToEnvelope(Encoded&& value, rpc::Envelope* out) {
  out->set_format(static_cast<rpc::Format>(value.format));
  out->set_body(std::move(value.body));
  out->clear_buffers();
  for (auto& b : value.buffers) out->add_buffers(std::move(b));
}

ValueView ViewOfEnvelope(std::shared_ptr<const rpc::Envelope> envelope) {
  const rpc::Envelope& ref = *envelope;
  return ViewOfEnvelope(ref, std::move(envelope));
}

ValueView ViewOfEnvelope(const rpc::Envelope& envelope, std::shared_ptr<const void> owner) {
  ValueView view;
  view.format = static_cast<Format>(envelope.format());
  view.body = envelope.body();
  view.buffers.reserve(envelope.buffers_size());
  for (const auto& b : envelope.buffers()) view.buffers.emplace_back(b);
  view.keepalive = std::move(owner);
  return view;
}

}  // namespace internal
}  // namespace polyray
