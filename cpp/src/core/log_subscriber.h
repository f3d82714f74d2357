// Prints the job's worker output on the driver's stdout / stderr, as Ray
// prints print() in tasks (and as the Java driver does): a SubscribeLogs
// stream from the GCS, each line prefixed with its worker's label.
//
// Invariants: one stream at a time; a broken stream is reopened after
// 500 ms until Stop(); Stop() returns once the stream has ended (bounded).
// Drain() (at shutdown) asks the GCS to drain every raylet (DrainLogs) and
// returns once the stream brought its marker, or after the bound.
#ifndef POLYRAY_CORE_LOG_SUBSCRIBER_H_
#define POLYRAY_CORE_LOG_SUBSCRIBER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace grpc {
class Channel;
class ClientContext;
}

namespace polyray::core {

class Scheduler;

/// Forwards worker logs; see the file comment.
class LogSubscriber {
 public:
  LogSubscriber(std::shared_ptr<grpc::Channel> gcs, std::string job_id, Scheduler& scheduler)
      : gcs_(std::move(gcs)), job_id_(std::move(job_id)), scheduler_(scheduler) {}
  ~LogSubscriber() { Stop(); }

  /// Opens the stream.
  void Start();
  /// Ends the stream and stops reopening it.
  void Stop();
  /// Waits until every line the job's workers printed before now was printed
  /// here, at most `timeout_ms`; false when the bound passed first.
  bool Drain(int64_t timeout_ms);

 private:
  class Reader;
  void Ended();
  void Subscribed();
  void MarkerSeen(const std::string& token);

  std::shared_ptr<grpc::Channel> gcs_;
  std::string job_id_;
  Scheduler& scheduler_;
  std::mutex mu_;
  std::condition_variable cv_;
  Reader* reader_ = nullptr;
  bool stopped_ = false;
  bool subscribed_ = false;  // the GCS has the current stream (its headers came)
  std::set<std::string> markers_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_LOG_SUBSCRIBER_H_
