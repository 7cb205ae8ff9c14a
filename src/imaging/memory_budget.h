// Admission control for image decodes: a process-wide budget of working
// memory. Before decoding, Process() estimates an image's working memory from
// its header (a progressive JPEG's coefficient buffers, the decoded pixels at
// the load scale, the resize buffers) and reserves it; a thread whose image
// does not fit waits until others release. Two big progressive JPEGs on two
// threads would otherwise overlap (84 + 69 MiB of coefficient buffers) and
// take the process past its memory target; small images never wait.
//
// Never refuses and never deadlocks: a reservation larger than the whole
// budget is granted when nothing else is in flight. Blocking requests are
// served in arrival order, so a big one is not starved by a stream of small
// ones. A caller with other work to do (the batch, batch.cc) asks with
// TryReserve() first and blocks only when nothing it could do fits.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>

#include "imaging/imaging.h"

namespace imgbatch::imaging {

class MemoryBudget;

// Holds bytes of a MemoryBudget until destroyed (or Release()d). Movable.
class MemoryReservation {
 public:
  MemoryReservation() = default;
  MemoryReservation(MemoryReservation&& other) noexcept;
  MemoryReservation& operator=(MemoryReservation&& other) noexcept;
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;
  ~MemoryReservation() { Release(); }

  // Gives back all but `bytes` (no-op when already at or below), e.g. once a
  // decoder's coefficient buffers are freed; waiting threads may proceed.
  void ShrinkTo(uint64_t bytes);
  void Release();
  uint64_t bytes() const { return bytes_; }
  bool held() const { return budget_ != nullptr; }

 private:
  friend class MemoryBudget;
  MemoryReservation(MemoryBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
  MemoryBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

class MemoryBudget {
 public:
  // capacity 0: unlimited (nothing ever waits).
  explicit MemoryBudget(uint64_t capacity) : capacity_(capacity) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Blocks until `bytes` fit beside the reservations in flight, or until
  // nothing else is in flight, and until every earlier request was served.
  MemoryReservation Reserve(uint64_t bytes);
  // Grants `bytes` only if Reserve() would grant them at once: they fit now
  // and no blocked Reserve() is ahead (a waiter is never overtaken, so it
  // cannot be starved by TryReserve() callers either). Never blocks.
  std::optional<MemoryReservation> TryReserve(uint64_t bytes);

  // Takes effect for requests not yet granted (waiters re-check).
  void SetCapacity(uint64_t capacity);
  uint64_t capacity() const;
  uint64_t in_use() const;   // bytes reserved now
  size_t in_flight() const;  // reservations held now
  size_t waiting() const;    // Reserve() calls blocked now

  // What Reserve() callers have waited so far (time threads sat idle for
  // memory): a load-independent measure of what the budget costs.
  struct WaitStats {
    uint64_t waits = 0;  // Reserve() calls that blocked
    double seconds = 0;  // summed over those calls
  };
  WaitStats wait_stats() const;

 private:
  friend class MemoryReservation;
  void Give(uint64_t bytes, bool ends_reservation);
  bool Fits(uint64_t bytes) const;  // mu_ held
  // Serves the current ticket with `bytes` (mu_ held, the caller's turn, fits).
  MemoryReservation Grant(uint64_t bytes);

  mutable std::mutex mu_;
  std::condition_variable changed_;
  uint64_t capacity_;
  uint64_t in_use_ = 0;
  size_t in_flight_ = 0;
  size_t waiting_ = 0;
  uint64_t next_ticket_ = 0;  // FIFO: the ticket of the next Reserve()
  uint64_t serving_ = 0;      // the ticket allowed to be granted next
  WaitStats wait_stats_;
};

// The budget Process() reserves from (kDefaultMemoryBudget, imaging.h, until
// SetMemoryBudget()).
MemoryBudget& ProcessMemoryBudget();

}  // namespace imgbatch::imaging
