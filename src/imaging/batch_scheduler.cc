#include "imaging/batch_scheduler.h"

#include <algorithm>
#include <utility>

namespace imgbatch::imaging {

namespace {

BatchScheduler::Options Normalised(BatchScheduler::Options options) {
  options.lookahead = std::max<size_t>(options.lookahead, 1);
  return options;
}

}  // namespace

BatchScheduler::BatchScheduler(size_t count, Estimator estimate, MemoryBudget& budget,
                               Options options)
    : count_(count),
      estimate_(std::move(estimate)),
      budget_(budget),
      options_(Normalised(options)) {}

void BatchScheduler::Refill() {
  while (window_.size() < options_.lookahead && next_to_estimate_ < count_) {
    const size_t index = next_to_estimate_++;
    window_.push_back(Pending{index, estimate_(index), 0});
  }
}

std::optional<BatchScheduler::Assignment> BatchScheduler::TakeFitting() {
  // The oldest input, once passed over often enough, is the only candidate.
  const size_t candidates = window_.front().passes >= options_.max_passes ? 1 : window_.size();
  for (size_t i = 0; i < candidates; ++i) {
    const Pending& candidate = window_[i];
    std::optional<MemoryReservation> reservation;
    if (candidate.bytes) {
      reservation = budget_.TryReserve(*candidate.bytes);
      if (!reservation) continue;
    }
    // Unknown estimates are taken in turn: Process() reserves (or fails) for
    // them as it always did.
    Assignment taken{candidate.index, reservation ? std::move(*reservation) : MemoryReservation()};
    for (size_t j = 0; j < i; ++j) ++window_[j].passes;
    if (i > 0) ++stats_.taken_ahead;
    window_.erase(window_.begin() + static_cast<std::ptrdiff_t>(i));
    return taken;
  }
  return std::nullopt;
}

std::optional<BatchScheduler::Assignment> BatchScheduler::Next() {
  uint64_t bytes = 0;
  size_t index = 0;
  {
    std::lock_guard lock(mu_);
    Refill();
    if (window_.empty()) return std::nullopt;
    if (auto taken = TakeFitting()) return taken;
    // Nothing fits (an unknown estimate would have been taken): claim the
    // oldest and wait for it outside the lock, so that the other threads
    // keep taking what fits.
    index = window_.front().index;
    bytes = window_.front().bytes.value_or(0);
    window_.pop_front();
    ++stats_.waited;
  }
  return Assignment{index, budget_.Reserve(bytes)};
}

BatchScheduler::Stats BatchScheduler::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace imgbatch::imaging
