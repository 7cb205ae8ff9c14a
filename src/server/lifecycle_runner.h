// LifecycleRunner: S3's lifecycle service for the one machine. Every
// interval it asks the object store to apply the buckets' lifecycle rules
// (ObjectStore::ApplyLifecycle): objects whose expiry time has come are
// deleted, with their LifecycleExpiration:Delete events, and incomplete
// multipart uploads past their days are aborted. S3 runs this once a day and
// acts "within a day" of an object's expiry; the default hour here is sooner.
//
// Thread-safety: Start/Stop from the composition root; RunOnce from any one
// thread at a time (tests call it directly). Owns one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "store/object_store.h"

namespace imgbatch::server {

class LifecycleRunner {
 public:
  LifecycleRunner(store::ObjectStore& store, std::chrono::seconds interval,
                  Clock& clock = SystemClock::Instance());
  ~LifecycleRunner();

  // The first pass runs at once (rules that came due while the server was
  // down act on start), then one per interval.
  void Start();
  void Stop();
  // One pass as of the clock's time; failures are logged and retried at the
  // next pass (nothing is lost: every deletion is its own transaction).
  Result<store::LifecycleReport> RunOnce();

 private:
  store::ObjectStore& store_;
  std::chrono::seconds interval_;
  Clock& clock_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace imgbatch::server
