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
  std::vector<double> latency_ms;     // recent per-image processing times
  std::vector<double> end_to_end_ms;  // recent upload-to-output times
};

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
  std::map<std::string, std::pair<int64_t, int64_t>>
      last_counts_;  // status file -> processed, failed
  int64_t last_scale_out_ms_ = -1;
  int64_t last_scale_in_ms_ = -1;

  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace imgbatch::server
