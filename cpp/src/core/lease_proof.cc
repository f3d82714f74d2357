#include "core/lease_proof.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "core/ids.h"

namespace polyray::core {

std::string SignLease(const std::string& key, const std::string& lease_id, const std::string& holder, uint64_t seq) {
  std::string msg = lease_id + holder;
  for (int i = 7; i >= 0; i--) msg.push_back(static_cast<char>((seq >> (8 * i)) & 0xff));
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool VerifyLease(const std::string& key, const rpc::LeaseProof& lease) {
  std::string want = SignLease(key, lease.lease_id(), lease.holder(), lease.seq());
  return lease.proof().size() == want.size() && CRYPTO_memcmp(want.data(), lease.proof().data(), want.size()) == 0;
}

namespace {
std::optional<std::string> KeyFromHex(const char* s) {
  if (s == nullptr) return std::nullopt;
  std::string hex(s);
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    char* end = nullptr;
    std::string byte = hex.substr(i, 2);
    long v = std::strtol(byte.c_str(), &end, 16);
    if (end != byte.c_str() + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}
}  // namespace

LeaseGuard LeaseGuard::FromEnv() { return LeaseGuard(KeyFromHex(std::getenv("POLYRAY_LEASE_KEY"))); }

LeaseGuard& LeaseGuard::Process() {
  static LeaseGuard guard = FromEnv();
  return guard;
}

void LeaseGuard::Open(const rpc::PushTasksRequest& request, StreamLease& stream) {
  if (!key_ || !request.has_lease()) return;
  const rpc::LeaseProof& lease = request.lease();
  if (!VerifyLease(*key_, lease)) {
    stream = StreamLease{"", 0, "the lease proof of lease " + Hex(lease.lease_id()) +
                                    " does not verify (not a grant of this worker to " + Hex(lease.holder()) + ")"};
    return;
  }
  uint64_t newest = newest_.load();
  while (lease.seq() >= newest && !newest_.compare_exchange_weak(newest, lease.seq())) {
  }
  if (lease.seq() < newest) {
    stream = StreamLease{"", 0, "lease " + Hex(lease.lease_id()) + " is stale: grant " + std::to_string(lease.seq()) +
                                    ", the worker was leased again since (grant " + std::to_string(newest) + ")"};
    return;
  }
  stream = StreamLease{lease.holder(), lease.seq(), ""};
}

std::string LeaseGuard::Refusal(const StreamLease& stream, const rpc::TaskSpec& spec) const {
  if (!key_ || spec.type() != rpc::NORMAL_TASK) return "";
  if (!stream.missing.empty()) return stream.missing;
  uint64_t newest = newest_.load();
  if (stream.seq < newest) {
    return "the stream's lease is stale: grant " + std::to_string(stream.seq) +
           ", the worker was leased again since (grant " + std::to_string(newest) + ")";
  }
  if (spec.caller().worker_id() != stream.holder) {
    return "the caller " + Hex(spec.caller().worker_id()) + " is not the lease holder " + Hex(stream.holder);
  }
  return "";
}

rpc::TaskResult RefusedTaskResult(const rpc::TaskSpec& spec, const std::string& why, const std::string& worker) {
  rpc::ErrorRecord rec;
  rec.set_kind(rpc::RUNTIME_ERROR);
  rec.set_type_name("LeaseRefused");
  rec.set_language(rpc::CPP);
  rec.set_message("the task was refused by worker " + worker + ": " + why);
  rpc::Envelope env;
  env.set_format(rpc::FORMAT_ERROR);
  env.set_body(rec.SerializeAsString());
  rpc::TaskResult result;
  result.set_task_id(spec.task_id());
  result.set_lease_refused(true);
  for (int i = 1; i <= spec.num_returns(); i++) {
    rpc::ReturnObject* r = result.add_returns();
    std::string oid = spec.task_id();
    uint32_t idx = static_cast<uint32_t>(i);
    for (int b = 0; b < 4; b++) oid.push_back(static_cast<char>((idx >> (8 * b)) & 0xff));
    r->set_object_id(oid);
    *r->mutable_value() = env;
  }
  return result;
}

}  // namespace polyray::core
