#include "server/lifecycle_runner.h"

#include <spdlog/spdlog.h>

namespace imgbatch::server {

LifecycleRunner::LifecycleRunner(store::ObjectStore& store, std::chrono::seconds interval,
                                 Clock& clock)
    : store_(store), interval_(interval), clock_(clock) {}

LifecycleRunner::~LifecycleRunner() { Stop(); }

void LifecycleRunner::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      (void)RunOnce();
      lock.lock();
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  });
}

void LifecycleRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<store::LifecycleReport> LifecycleRunner::RunOnce() {
  Result<store::LifecycleReport> report = store_.ApplyLifecycle(clock_.NowMillis());
  if (!report.ok()) {
    spdlog::warn("lifecycle pass failed (retried next pass): {}", report.status().ToString());
  } else if (report->expired > 0 || report->aborted > 0) {
    spdlog::info("lifecycle: {} objects expired, {} incomplete multipart uploads aborted",
                 report->expired, report->aborted);
  }
  return report;
}

}  // namespace imgbatch::server
