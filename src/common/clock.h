// Clock: the one source of "now", behind an interface so tests pin time
// (SigV4 vectors, visibility timeouts). Implementations are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace imgbatch {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (for timestamps on the wire and in the database).
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time (for deadlines and durations).
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;

  int64_t NowMillis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
  // Milliseconds of Monotonic(), for what is timed by duration (deadlines,
  // cooldowns, backoffs): a wall clock stepped back would hold those for the
  // length of the step.
  int64_t MonotonicMillis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Monotonic().time_since_epoch())
        .count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  static SystemClock& Instance();
};

// A clock the test moves by hand; both readings advance together, except
// that StepWall moves the wall clock alone, as an NTP step or a restored
// snapshot does.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t epoch_millis = 1'700'000'000'000) : millis_(epoch_millis) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(millis_.load() + wall_step_.load()));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(millis_.load()));
  }
  void Advance(std::chrono::milliseconds d) { millis_ += d.count(); }
  void SetMillis(int64_t epoch_millis) { millis_ = epoch_millis; }
  void StepWall(std::chrono::milliseconds d) { wall_step_ += d.count(); }

 private:
  std::atomic<int64_t> millis_;
  std::atomic<int64_t> wall_step_{0};
};

}  // namespace imgbatch
