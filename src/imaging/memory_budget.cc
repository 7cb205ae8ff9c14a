#include "imaging/memory_budget.h"

#include <chrono>
#include <utility>

namespace imgbatch::imaging {

MemoryReservation::MemoryReservation(MemoryReservation&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void MemoryReservation::ShrinkTo(uint64_t bytes) {
  if (budget_ == nullptr || bytes >= bytes_) return;
  budget_->Give(bytes_ - bytes, /*ends_reservation=*/false);
  bytes_ = bytes;
}

void MemoryReservation::Release() {
  if (budget_ == nullptr) return;
  std::exchange(budget_, nullptr)->Give(std::exchange(bytes_, 0), /*ends_reservation=*/true);
}

bool MemoryBudget::Fits(uint64_t bytes) const {
  // Nothing in flight: even an image bigger than the whole budget runs (the
  // limits, not the budget, decide what is refused).
  return capacity_ == 0 || in_flight_ == 0 || in_use_ + bytes <= capacity_;
}

MemoryReservation MemoryBudget::Reserve(uint64_t bytes) {
  std::unique_lock lock(mu_);
  const uint64_t ticket = next_ticket_++;
  if (ticket != serving_ || !Fits(bytes)) {
    ++waiting_;
    const auto start = std::chrono::steady_clock::now();
    changed_.wait(lock, [&] { return ticket == serving_ && Fits(bytes); });
    ++wait_stats_.waits;
    wait_stats_.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    --waiting_;
  }
  MemoryReservation granted = Grant(bytes);
  // The next ticket may fit too (it was waiting for its turn, not for memory).
  changed_.notify_all();
  return granted;
}

std::optional<MemoryReservation> MemoryBudget::TryReserve(uint64_t bytes) {
  std::lock_guard lock(mu_);
  // next_ticket_ == serving_: no Reserve() is waiting for its turn.
  if (next_ticket_ != serving_ || !Fits(bytes)) return std::nullopt;
  // Takes a ticket and serves it at once, so that the FIFO order holds.
  ++next_ticket_;
  return Grant(bytes);
}

MemoryReservation MemoryBudget::Grant(uint64_t bytes) {
  ++serving_;
  in_use_ += bytes;
  ++in_flight_;
  return MemoryReservation(this, bytes);
}

void MemoryBudget::Give(uint64_t bytes, bool ends_reservation) {
  {
    std::lock_guard lock(mu_);
    in_use_ -= bytes;
    if (ends_reservation) --in_flight_;
  }
  changed_.notify_all();
}

void MemoryBudget::SetCapacity(uint64_t capacity) {
  {
    std::lock_guard lock(mu_);
    capacity_ = capacity;
  }
  changed_.notify_all();
}

uint64_t MemoryBudget::capacity() const {
  std::lock_guard lock(mu_);
  return capacity_;
}

uint64_t MemoryBudget::in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

size_t MemoryBudget::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

size_t MemoryBudget::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_;
}

MemoryBudget::WaitStats MemoryBudget::wait_stats() const {
  std::lock_guard lock(mu_);
  return wait_stats_;
}

MemoryBudget& ProcessMemoryBudget() {
  static MemoryBudget budget(kDefaultMemoryBudget);
  return budget;
}

void SetMemoryBudget(uint64_t bytes) { ProcessMemoryBudget().SetCapacity(bytes); }

uint64_t MemoryBudgetBytes() { return ProcessMemoryBudget().capacity(); }

}  // namespace imgbatch::imaging
