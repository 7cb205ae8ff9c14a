#include "server/control_loop.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace imgbatch::server {
namespace {

constexpr size_t kMaxDecisions = 50;
constexpr size_t kMaxLatencySamples = 500;
constexpr auto kTick = std::chrono::seconds(1);
constexpr auto kZeroPoolCheck = std::chrono::milliseconds(100);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Appends the samples of one series this reader has not seen yet.
void AppendNew(std::vector<double>& out, const nlohmann::json& doc, const char* values_key,
               const char* total_key, uint64_t& seen_total) {
  auto values = doc.find(values_key);
  auto total = doc.find(total_key);
  if (values == doc.end() || !values->is_array() || total == doc.end() ||
      !total->is_number_unsigned()) {
    return;
  }
  std::vector<double> recent;
  for (const auto& v : *values) recent.push_back(v.is_number() ? v.get<double>() : 0.0);
  std::vector<double> fresh = UnseenSamples(recent, total->get<uint64_t>(), seen_total);
  out.insert(out.end(), fresh.begin(), fresh.end());
  if (out.size() > kMaxLatencySamples) out.erase(out.begin(), out.end() - kMaxLatencySamples);
}

}  // namespace

std::vector<double> UnseenSamples(const std::vector<double>& recent, uint64_t total,
                                  uint64_t& seen_total) {
  // A smaller total: the worker restarted its count (a new process in the
  // same slot); everything it reports is new.
  uint64_t fresh = total >= seen_total ? total - seen_total : total;
  seen_total = total;
  size_t take = static_cast<size_t>(std::min<uint64_t>(fresh, recent.size()));
  return {recent.end() - static_cast<std::ptrdiff_t>(take), recent.end()};
}

ControlLoop::ControlLoop(const Config& config, queue::QueueEngine& queues,
                         autoscaler::WorkerPool* pool, int max_workers, Clock& clock)
    : config_(config), queues_(queues), pool_(pool), max_workers_(max_workers), clock_(clock) {
  for (const auto& a : config_.alarms) {
    AlarmStatus s;
    s.spec.name = a.name;
    s.spec.metric = QueueSeries(a.queue, a.metric);
    s.spec.statistic = metrics::ParseStatistic(a.statistic).value_or(metrics::Statistic::kAverage);
    s.spec.period_seconds = a.period_seconds;
    s.spec.evaluation_periods = a.evaluation_periods;
    s.spec.comparison = metrics::ParseComparison(a.comparison)
                            .value_or(metrics::Comparison::kGreaterThanOrEqualToThreshold);
    s.spec.threshold = a.threshold;
    s.queue = a.queue;
    alarms_.push_back(s);
  }
}

ControlLoop::~ControlLoop() { Stop(); }

std::string ControlLoop::QueueSeries(const std::string& queue, const std::string& metric) {
  return "queue:" + queue + ":" + metric;
}

void ControlLoop::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(wake_mu_);
    while (!stopping_) {
      lock.unlock();
      TickOnce();
      lock.lock();
      // Between the once-a-second ticks a pool at zero watches for the first
      // message, so the first upload does not wait for the next tick.
      auto next_tick = std::chrono::steady_clock::now() + kTick;
      while (!wake_.wait_until(
                 lock, std::min(next_tick, std::chrono::steady_clock::now() + kZeroPoolCheck),
                 [this] { return stopping_; }) &&
             std::chrono::steady_clock::now() < next_tick) {
        lock.unlock();
        WakeFromZero();
        lock.lock();
      }
    }
  });
}

void ControlLoop::WakeFromZero() {
  if (!pool_ || pool_->Snapshot().desired > 0) return;
  auto counts = queues_.Counts(config_.workers.queue);
  if (!counts.ok() || counts->visible == 0) return;
  int64_t now = clock_.NowMillis();
  Scale(now);
  pool_->Tick();
}

void ControlLoop::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ControlLoop::TickOnce() {
  int64_t now = clock_.NowMillis();
  SampleQueues(now);
  SampleWorkers(now);
  EvaluateAlarms(now);
  Scale(now);
  if (pool_) pool_->Tick();
}

void ControlLoop::SampleQueues(int64_t now_ms) {
  for (const auto& q : config_.queues) {
    auto counts = queues_.Counts(q.name);
    if (!counts.ok()) continue;
    history_.Record(QueueSeries(q.name, "ApproximateNumberOfMessagesVisible"), now_ms,
                    static_cast<double>(counts->visible));
    history_.Record(QueueSeries(q.name, "ApproximateNumberOfMessagesNotVisible"), now_ms,
                    static_cast<double>(counts->not_visible));
    history_.Record(QueueSeries(q.name, "ApproximateNumberOfMessagesDelayed"), now_ms,
                    static_cast<double>(counts->delayed));
  }
}

void ControlLoop::SampleWorkers(int64_t now_ms) {
  if (!pool_) return;
  autoscaler::PoolSnapshot snap = pool_->Snapshot();
  history_.Record("workers:desired", now_ms, snap.desired);
  history_.Record("workers:running", now_ms, snap.running);
  history_.Record("workers:busy", now_ms, snap.busy);
  std::lock_guard lock(mu_);
  for (const auto& w : snap.workers) Account(w.status_file, ReadFile(w.status_file));
  // Workers gone since the last tick: their last status, then forget them.
  for (const auto& exited : pool_->TakeExited()) {
    Account(exited.status_file, exited.final_status);
    seen_.erase(exited.status_file);
  }
  history_.Record("images:processed", now_ms, static_cast<double>(totals_.processed));
  history_.Record("images:failed", now_ms, static_cast<double>(totals_.failed));
  // Percentiles of the recent window, as the dashboard charts them.
  if (!totals_.end_to_end_ms.empty()) {
    history_.Record("images:upload_to_output_ms:p50", now_ms,
                    metrics::Percentile(totals_.end_to_end_ms, 0.5));
    history_.Record("images:upload_to_output_ms:p99", now_ms,
                    metrics::Percentile(totals_.end_to_end_ms, 0.99));
  }
}

// Adds what a worker did since its status file was last read: counters are
// cumulative per worker, latencies come with a running total.
void ControlLoop::Account(const std::string& status_file, const std::string& status_text) {
  auto doc = nlohmann::json::parse(status_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return;
  Seen& seen = seen_[status_file];
  auto add = [](int64_t& total, int64_t& last, int64_t now) {
    total += std::max<int64_t>(0, now - last);
    last = now;
  };
  add(totals_.processed, seen.processed, doc.value("processed", int64_t{0}));
  add(totals_.failed, seen.failed, doc.value("failed", int64_t{0}));
  add(totals_.skipped, seen.skipped, doc.value("skipped", int64_t{0}));
  AppendNew(totals_.latency_ms, doc, "recent_latency_ms", "latency_samples", seen.latency_samples);
  AppendNew(totals_.end_to_end_ms, doc, "recent_end_to_end_ms", "end_to_end_samples",
            seen.end_to_end_samples);
}

void ControlLoop::EvaluateAlarms(int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (auto& a : alarms_) {
    auto before = a.evaluation.state;
    a.evaluation = metrics::Evaluate(a.spec, history_, now_ms);
    if (a.evaluation.state != before) {
      spdlog::info("alarm {} {} -> {}: {}", a.spec.name, metrics::AlarmStateName(before),
                   metrics::AlarmStateName(a.evaluation.state), a.evaluation.reason);
    }
  }
}

void ControlLoop::Scale(int64_t now_ms) {
  if (!pool_) return;
  const std::string& queue = config_.workers.queue;
  auto counts = queues_.Counts(queue);
  if (!counts.ok()) return;
  autoscaler::PoolSnapshot snap = pool_->Snapshot();
  autoscaler::PoolState state;
  state.desired = snap.desired;
  state.running = snap.running;
  state.busy = snap.busy;
  state.visible = counts->visible;
  state.in_flight = counts->not_visible;
  state.now_ms = clock_.MonotonicMillis();  // cooldowns; decisions show now_ms
  autoscaler::PoolBounds bounds{config_.workers.min, max_workers_};
  autoscaler::Decision d;
  {
    std::lock_guard lock(mu_);
    state.last_scale_out_ms = last_scale_out_ms_;
    state.last_scale_in_ms = last_scale_in_ms_;
    const ScalingConfig& s = config_.scaling;
    if (s.policy == "step") {
      autoscaler::StepScalingPolicy p;
      p.alarm = s.step_alarm;
      p.cooldown_seconds = s.scale_in_cooldown_seconds;
      for (const auto& st : s.steps) p.steps.push_back({st.lower, st.upper, st.change});
      for (const auto& a : alarms_) {
        if (a.spec.name == s.step_alarm) {
          d = autoscaler::StepScaling(p, bounds, state, a.evaluation.state, a.evaluation.last_value,
                                      a.spec.threshold);
        }
      }
    } else {
      autoscaler::TargetTrackingPolicy p;
      p.target_backlog_per_worker = s.target_backlog_per_worker;
      p.scale_out_cooldown_seconds = s.scale_out_cooldown_seconds;
      p.scale_in_cooldown_seconds = s.scale_in_cooldown_seconds;
      d = autoscaler::TargetTracking(p, bounds, state);
    }
    if (d.changed) {
      (d.desired > state.desired ? last_scale_out_ms_ : last_scale_in_ms_) = state.now_ms;
      decisions_.push_back({now_ms, state.desired, d.desired, d.reason});
      if (decisions_.size() > kMaxDecisions) decisions_.pop_front();
    }
  }
  if (d.changed) {
    spdlog::info("scaling: {}", d.reason);
    pool_->SetDesired(d.desired);
  }
}

std::vector<AlarmStatus> ControlLoop::Alarms() const {
  std::lock_guard lock(mu_);
  return alarms_;
}

std::vector<ScalingEvent> ControlLoop::Decisions() const {
  std::lock_guard lock(mu_);
  return {decisions_.begin(), decisions_.end()};
}

WorkerTotals ControlLoop::Totals() const {
  std::lock_guard lock(mu_);
  return totals_;
}

}  // namespace imgbatch::server
