#include "queue/fair_share.h"

#include <algorithm>
#include <cmath>

namespace imgbatch::queue {
namespace {

// Debian's Abseil has a string_view of its own (not std::string_view).
absl::string_view Key(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

const NoisyTenants::Tenant* NoisyTenants::Find(std::string_view group) const {
  if (group.empty()) return nullptr;
  // A handful at most: each holds more than a tenth of something.
  for (const Tenant& t : tenants) {
    if (t.group == group) return &t;
  }
  return nullptr;
}

void FairShare::NoteSend(std::string_view group, int64_t now) {
  if (group.empty()) return;
  auto it = tenants_.find(Key(group));
  if (it == tenants_.end()) {
    if (tenants_.size() >= kMaxTenants) return;
    it = tenants_.emplace(std::string(group), Tenant{}).first;
  }
  it->second.last_send_ms = std::max(it->second.last_send_ms, now);
}

bool FairShare::Noisy(const Tenant& t, int64_t total_in_flight, int64_t now) const {
  if (now - t.last_send_ms >= kQuietAfterMs) return false;
  const bool concurrency =
      t.in_flight >= kMinInFlight &&
      static_cast<double>(t.in_flight) > kNoisyShare * static_cast<double>(total_in_flight);
  return concurrency || t.processing_share > kNoisyShare;
}

std::shared_ptr<NoisyTenants> FairShare::Sample(
    const std::vector<std::pair<std::string, int64_t>>& in_flight, int64_t total_in_flight,
    int64_t now) {
  for (auto& [group, t] : tenants_) t.in_flight = 0;
  for (const auto& [group, n] : in_flight) {
    // A tenant in flight that sent before a restart (or past kMaxTenants)
    // is followed from here on, as one that has not sent lately.
    auto it = tenants_.find(group);
    if (it == tenants_.end()) {
      if (group.empty() || tenants_.size() >= kMaxTenants) continue;
      it = tenants_.emplace(group, Tenant{.last_send_ms = now - kQuietAfterMs}).first;
    }
    it->second.in_flight = n;
  }
  // The weight of this sample in the average: the time since the last one
  // over kRecentMs (an exponential decay, so irregular samples are fine).
  const double dt = last_sample_ms_ < 0 ? 1000.0 : static_cast<double>(now - last_sample_ms_);
  last_sample_ms_ = now;
  const double weight = 1.0 - std::exp(-std::max(0.0, dt) / static_cast<double>(kRecentMs));
  auto noisy = std::make_shared<NoisyTenants>();
  for (auto it = tenants_.begin(); it != tenants_.end();) {
    Tenant& t = it->second;
    const double share = total_in_flight > 0 ? static_cast<double>(t.in_flight) /
                                                   static_cast<double>(total_in_flight)
                                             : 0.0;
    t.processing_share += weight * (share - t.processing_share);
    if (Noisy(t, total_in_flight, now)) noisy->tenants.push_back({it->first, t.in_flight});
    // Forgotten once it neither sends, nor has messages in flight, nor
    // weighs anything in the average.
    if (now - t.last_send_ms >= kQuietAfterMs && t.in_flight == 0 &&
        t.processing_share < kNoisyShare / 100) {
      tenants_.erase(it++);
    } else {
      ++it;
    }
  }
  if (noisy->tenants.empty()) return nullptr;
  std::sort(noisy->tenants.begin(), noisy->tenants.end(), [](const auto& a, const auto& b) {
    return std::pair(a.in_flight, std::string_view(a.group)) <
           std::pair(b.in_flight, std::string_view(b.group));
  });
  return noisy;
}

double FairShare::ProcessingShare(std::string_view group) const {
  auto it = tenants_.find(Key(group));
  return it == tenants_.end() ? 0.0 : it->second.processing_share;
}

}  // namespace imgbatch::queue
