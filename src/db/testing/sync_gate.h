// Test-only: holds a Database's WAL syncs (Options::wal_sync_for_test) until
// the test lets them through, so a test can look at what callers have heard
// between a commit and its sync. Shared by the db's and the queue's tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "common/status.h"

namespace imgbatch::db::testing {

class SyncGate {
 public:
  using SyncHook = std::function<Status(const std::function<Status()>& sync)>;
  static constexpr std::chrono::seconds kWait{10};

  // For Options::wal_sync_for_test. Every sync waits at the gate; the real
  // fdatasync runs once it is let through (or fails, after FailNext()).
  SyncHook Hook() {
    return [this](const std::function<Status()>& sync) -> Status {
      std::unique_lock lock(mu_);
      ++started_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_ >= started_; });
      if (fail_next_) {
        fail_next_ = false;
        return IoError("injected fdatasync failure");
      }
      return sync();
    };
  }

  // Waits until `n` syncs in all have started, then lets those through.
  // False when they did not start within kWait.
  bool Release(int n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return started_ >= n; })) return false;
    released_ = n;
    cv_.notify_all();
    return true;
  }
  // true: every sync passes from now on; false: the next ones wait again.
  void ReleaseAll(bool all) {
    std::lock_guard lock(mu_);
    released_ = all ? (1 << 30) : started_;
    cv_.notify_all();
  }
  // Waits until `n` syncs in all have started; false after kWait.
  bool WaitForStarted(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return started_ >= n; });
  }
  int Started() {
    std::lock_guard lock(mu_);
    return started_;
  }
  // The next sync to be let through fails instead of syncing.
  void FailNext() {
    std::lock_guard lock(mu_);
    fail_next_ = true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  int released_ = 0;
  bool fail_next_ = false;
};

}  // namespace imgbatch::db::testing
