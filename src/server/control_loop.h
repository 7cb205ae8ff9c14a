// ControlLoop: once a second it samples the queues and the workers into the
// metric history, evaluates the alarms, asks the scaling policy for a desired
// worker count and drives the worker pool — CloudWatch + Application Auto
// Scaling + the ECS service scheduler of the seed, in one small loop.
//
// Thread-safety: Start/Stop from the composition root; Status() and
// Prometheus() from any thread. Owns one thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "autoscaler/policy.h"
#include "autoscaler/worker_pool.h"
#include "common/clock.h"
#include "metrics/alarm.h"
#include "metrics/history.h"
#include "queue/queue_engine.h"
#include "server/config.h"

namespace imgbatch::server {

struct ScalingEvent {
  int64_t time_ms = 0;
  int from = 0;
  int to = 0;
  std::string reason;
};

struct AlarmStatus {
  metrics::AlarmSpec spec;
  std::string queue;
  metrics::AlarmEvaluation evaluation;
};

// Counters the workers report in their status files, summed over the pool
// (workers that exited keep counting: the loop remembers their last values).
struct WorkerTotals {
  int64_t processed = 0;
  int64_t failed = 0;
  int64_t skipped = 0;                // outputs already current (a redelivered message)
  std::vector<double> latency_ms;     // recent per-image processing times
  std::vector<double> end_to_end_ms;  // recent upload-to-output times
};

// A worker's status file carries its newest samples of a series (oldest
// first) and how many it ever recorded (`total`). Returns the ones a reader
// that had seen `seen_total` of them has not seen yet, and updates
// `seen_total` — however many times the file was rewritten in between.
std::vector<double> UnseenSamples(const std::vector<double>& recent, uint64_t total,
                                  uint64_t& seen_total);

class ControlLoop {
 public:
  ControlLoop(const Config& config, queue::QueueEngine& queues, autoscaler::WorkerPool* pool,
              int max_workers, Clock& clock = SystemClock::Instance());
  ~ControlLoop();

  void Start();
  void Stop();
  // One iteration (tests call it directly with a ManualClock).
  void TickOnce();

  const metrics::MetricHistory& history() const { return history_; }
  std::vector<AlarmStatus> Alarms() const;
  std::vector<ScalingEvent> Decisions() const;
  WorkerTotals Totals() const;
  // Metric series names (shared with the dashboard and the Prometheus export).
  static std::string QueueSeries(const std::string& queue, const std::string& metric);

 private:
  void SampleQueues(int64_t now_ms);
  void SampleWorkers(int64_t now_ms);
  void EvaluateAlarms(int64_t now_ms);
  void Scale(int64_t now_ms);
  // Scales a pool at zero out as soon as a message is visible (checked every
  // 100 ms between ticks).
  void WakeFromZero();

  Config config_;
  queue::QueueEngine& queues_;
  autoscaler::WorkerPool* pool_;  // null: no workers (S3/SQS only)
  int max_workers_;
  Clock& clock_;
  metrics::MetricHistory history_;

  mutable std::mutex mu_;
  std::vector<AlarmStatus> alarms_;
  std::deque<ScalingEvent> decisions_;
  WorkerTotals totals_;
  // What was already counted from each live worker's status file.
  struct Seen {
    int64_t processed = 0, failed = 0, skipped = 0;
    uint64_t latency_samples = 0, end_to_end_samples = 0;
  };
  void Account(const std::string& status_file, const std::string& status_text);
  std::map<std::string, Seen> seen_;  // by status file
  int64_t last_scale_out_ms_ = -1;    // Clock::MonotonicMillis (cooldowns)
  int64_t last_scale_in_ms_ = -1;

  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace imgbatch::server
