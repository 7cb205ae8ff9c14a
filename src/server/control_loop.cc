#include "server/control_loop.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace imgbatch::server {
namespace {

constexpr size_t kMaxDecisions = 50;
constexpr size_t kMaxLatencySamples = 500;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void AppendBounded(std::vector<double>& v, const nlohmann::json& values) {
  if (!values.is_array()) return;
  for (const auto& x : values) {
    if (x.is_number()) v.push_back(x.get<double>());
  }
  if (v.size() > kMaxLatencySamples) v.erase(v.begin(), v.end() - kMaxLatencySamples);
}

}  // namespace

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
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    }
  });
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
  for (const auto& w : snap.workers) {
    auto doc = nlohmann::json::parse(ReadFile(w.status_file), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) continue;
    int64_t processed = doc.value("processed", int64_t{0});
    int64_t failed = doc.value("failed", int64_t{0});
    auto& last = last_counts_[w.status_file];
    totals_.processed += std::max<int64_t>(0, processed - last.first);
    totals_.failed += std::max<int64_t>(0, failed - last.second);
    if (processed != last.first || failed != last.second) {
      // Each status write carries the latencies since the previous write.
      AppendBounded(totals_.latency_ms, doc.value("recent_latency_ms", nlohmann::json::array()));
      AppendBounded(totals_.end_to_end_ms,
                    doc.value("recent_end_to_end_ms", nlohmann::json::array()));
    }
    last = {processed, failed};
  }
  history_.Record("images:processed", now_ms, static_cast<double>(totals_.processed));
  history_.Record("images:failed", now_ms, static_cast<double>(totals_.failed));
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
  state.now_ms = now_ms;
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
      (d.desired > state.desired ? last_scale_out_ms_ : last_scale_in_ms_) = now_ms;
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
