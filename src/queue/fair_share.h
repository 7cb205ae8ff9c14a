// A standard queue's tenants and which of them are noisy neighbours, as
// AWS's fair queues decide it (SQS Developer Guide, "How Amazon SQS fair
// queues work"). A tenant is a MessageGroupId; a message without one is a
// tenant of its own, and as such never noisy. A tenant is noisy while it has
// sent within the last five minutes and either
//   - holds more than 10% of the queue's messages in flight, and at least
//     30 of them (concurrency share), or
//   - had more than 10% of the consumers' recent processing time.
// Receives then give the quiet tenants' messages first, and of the noisy
// tenants' those of the one with the fewest in flight (EngineImpl::
// ReadVisibleFair). Nothing is dropped or throttled.
//
// Processing time is time in flight (from a receive to the delete, or to
// the end of the visibility timeout), so a tenant's share of it is the
// average of its share of the in-flight messages: Sample() takes those once
// a second and keeps an exponentially weighted average over kRecentMs. That
// average is also what keeps a tenant noisy while its backlog lasts: with
// quiet tenants served first, its in-flight count may dip below 30, but it
// still takes most of the consumers' time. Once its backlog is gone it
// leaves the in-flight set, and its share decays below 10% within
// kRecentMs * ln(share / 10%): under 2.5 minutes from any share. Noisy
// without waiting messages changes no delivery. (AWS keeps a tenant noisy
// "until its backlog is drained"; telling that exactly would need a
// per-tenant count of waiting messages, written by every send and delete.)
//
// Not thread-safe: the engine guards it with its lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace imgbatch::queue {

// The noisy tenants of one queue at one sample, fewest in flight first: what
// receives read (immutable, shared with them).
struct NoisyTenants {
  struct Tenant {
    std::string group;
    int64_t in_flight = 0;
  };
  std::vector<Tenant> tenants;
  uint64_t sample = 0;  // set by the engine: tells one sample from the next
  // The tenant's entry, or null for a quiet one ("" is never noisy).
  const Tenant* Find(std::string_view group) const;
};

class FairShare {
 public:
  static constexpr int64_t kMinInFlight = 30;
  static constexpr double kNoisyShare = 0.10;
  static constexpr int64_t kQuietAfterMs = 5 * 60 * 1000;
  static constexpr int64_t kRecentMs = 60 * 1000;
  // Tenants followed per queue. Past this, new tenants are quiet until
  // others are forgotten (five minutes without a send and nothing in
  // flight): a bound on memory for producers that use an id per message.
  static constexpr size_t kMaxTenants = 100'000;

  // A send by tenant `group` (not empty) at now.
  void NoteSend(std::string_view group, int64_t now);
  // Whether any tenant sent in the last five minutes or is still followed:
  // only then is the queue sampled.
  bool following() const { return !tenants_.empty(); }
  size_t followed() const { return tenants_.size(); }

  // One sample at now: each tenant's messages in flight (tenants with none
  // may be left out) and all of the queue's, ungrouped ones included.
  // Recomputes the noisy set; returns it (null when no tenant is noisy).
  std::shared_ptr<NoisyTenants> Sample(
      const std::vector<std::pair<std::string, int64_t>>& in_flight, int64_t total_in_flight,
      int64_t now);

  // The recent processing-time share of a tenant (0 for one not followed).
  double ProcessingShare(std::string_view group) const;

 private:
  struct Tenant {
    int64_t last_send_ms = 0;
    int64_t in_flight = 0;
    double processing_share = 0;
  };
  bool Noisy(const Tenant& t, int64_t total_in_flight, int64_t now) const;

  absl::flat_hash_map<std::string, Tenant> tenants_;
  int64_t last_sample_ms_ = -1;
};

}  // namespace imgbatch::queue
