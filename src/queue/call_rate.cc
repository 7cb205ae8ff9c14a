#include "queue/call_rate.h"

#include <algorithm>

namespace imgbatch::queue {

double CallRate::Available(const Bucket& b, int64_t calls_per_second, int64_t now_ms) {
  const double refilled =
      static_cast<double>(std::max<int64_t>(0, now_ms - b.at_ms)) * calls_per_second / 1000.0;
  return std::min(static_cast<double>(calls_per_second), b.calls + refilled);
}

bool CallRate::TryTake(std::vector<std::string> keys, int64_t calls_per_second, int64_t now_ms) {
  if (calls_per_second <= 0) return true;
  // A batch may name one message group twice; it is one call of that group.
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::lock_guard lock(mu_);
  if (buckets_.size() > kPruneAbove) PruneFull(calls_per_second, now_ms);
  // A new key starts full: a quiet method or group may take a second's calls.
  const Bucket full{static_cast<double>(calls_per_second), now_ms};
  for (const std::string& key : keys) {
    auto it = buckets_.find(key);
    if (it != buckets_.end() && Available(it->second, calls_per_second, now_ms) < 1.0) {
      return false;
    }
  }
  for (const std::string& key : keys) {
    auto [it, added] = buckets_.try_emplace(key, full);
    Bucket& b = it->second;
    b.calls = Available(b, calls_per_second, now_ms) - 1.0;
    b.at_ms = std::max(b.at_ms, now_ms);
  }
  return true;
}

void CallRate::PruneFull(int64_t calls_per_second, int64_t now_ms) {
  std::erase_if(buckets_, [&](const auto& entry) {
    return Available(entry.second, calls_per_second, now_ms) >= calls_per_second;
  });
}

size_t CallRate::Buckets() {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace imgbatch::queue
