// The throughput quota of FIFO queues ("Amazon SQS FIFO queue quotas"): 300
// API calls per second per API method (SendMessage with SendMessageBatch,
// ReceiveMessage, DeleteMessage with DeleteMessageBatch), a batch of up to
// ten messages being one call, so 3,000 messages per second with batching.
// With FifoThroughputLimit=perMessageGroupId the quota applies to each
// message group instead of the queue. A call over it is refused (AWS:
// RequestThrottled, which SDKs retry with backoff) and changes nothing.
//
// CallRate keeps one token bucket per key (an API method, or a method and a
// message group): it holds up to one second's calls and refills at the
// quota's rate, so a quiet queue may take a second's worth at once and a
// busy one gets the quota on average.
//
// Thread-safety: CallRate is thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace imgbatch::queue {

class CallRate {
 public:
  // Takes one call from each key's bucket when every one of them has one at
  // now_ms (a monotonic clock), else takes none and returns false. A rate of
  // 0 or less is no quota.
  bool TryTake(std::vector<std::string> keys, int64_t calls_per_second, int64_t now_ms);

  // Buckets kept (tests; a bucket full again is forgotten when there are many).
  size_t Buckets();

  // Past this many buckets, the full ones (idle for a second) are dropped.
  static constexpr size_t kPruneAbove = 10'000;

 private:
  struct Bucket {
    double calls = 0;  // calls available at at_ms
    int64_t at_ms = 0;
  };
  static double Available(const Bucket& b, int64_t calls_per_second, int64_t now_ms);
  void PruneFull(int64_t calls_per_second, int64_t now_ms);

  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace imgbatch::queue
