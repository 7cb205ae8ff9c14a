// Memory-aware order for a batch's inputs (batch.cc). With a FIFO memory
// budget, a thread whose next image is a big progressive JPEG waits while the
// other thread decodes another big one, and every image behind it waits too:
// on two cores the corpus ran at 140% CPU instead of 187% without a budget.
// The scheduler instead looks a few inputs ahead (their estimates come from
// the header, EstimateWorkingBytes) and hands out the first whose memory fits
// the budget now, reserved with TryReserve(); typically a baseline photo runs
// beside a big progressive one. A thread waits only when nothing within the
// look-ahead fits, and then for the oldest input, in the budget's FIFO
// (Reserve): so an image bigger than the whole budget still runs, alone, and
// nothing deadlocks. An input passed over `max_passes` times is waited for
// rather than passed over again, so a big image is never starved by a stream
// of small ones.
//
// Thread-safe: Next() is called by every worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "imaging/memory_budget.h"

namespace imgbatch::imaging {

class BatchScheduler {
 public:
  // The working bytes of input `index` (EstimateWorkingBytes), or nullopt
  // when unknown (an unreadable or odd file: Process() then reserves for it
  // itself, or reports its error). Called once per input, in input order,
  // under the scheduler's lock (a header read: keep it cheap).
  using Estimator = std::function<std::optional<uint64_t>(size_t index)>;

  struct Options {
    // Inputs whose estimates are held ahead (only numbers: the headers are
    // read and dropped, so a large window costs no input memory).
    size_t lookahead = 32;
    // How often the oldest input may be passed over before a thread waits
    // for it rather than take a later one.
    int max_passes = 16;
  };

  struct Assignment {
    size_t index = 0;
    // Memory reserved for the input's estimate; empty when it was unknown.
    MemoryReservation reservation;
  };

  // How the inputs were handed out (for the batch summary and tests).
  struct Stats {
    size_t taken_ahead = 0;  // a later input taken because the oldest did not fit
    size_t waited = 0;       // Next() calls that had to wait for memory
  };

  BatchScheduler(size_t count, Estimator estimate, MemoryBudget& budget, Options options);
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // The next input to process, with its memory reserved; nullopt once every
  // input was handed out. May block (see above), never forever.
  std::optional<Assignment> Next();

  Stats stats() const;

 private:
  struct Pending {
    size_t index = 0;
    std::optional<uint64_t> bytes;  // estimate
    int passes = 0;                 // times a later input was taken first
  };

  void Refill();  // mu_ held
  // A pending input that fits now (reserved) or nullopt; mu_ held.
  std::optional<Assignment> TakeFitting();

  const size_t count_;
  const Estimator estimate_;
  MemoryBudget& budget_;
  const Options options_;

  mutable std::mutex mu_;
  size_t next_to_estimate_ = 0;
  std::deque<Pending> window_;  // in input order
  Stats stats_;
};

}  // namespace imgbatch::imaging
