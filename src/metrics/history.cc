#include "metrics/history.h"

#include <algorithm>
#include <limits>

namespace imgbatch::metrics {

std::optional<Statistic> ParseStatistic(std::string_view name) {
  if (name == "Average") return Statistic::kAverage;
  if (name == "Sum") return Statistic::kSum;
  if (name == "Minimum") return Statistic::kMinimum;
  if (name == "Maximum") return Statistic::kMaximum;
  if (name == "SampleCount") return Statistic::kSampleCount;
  return std::nullopt;
}

const char* StatisticName(Statistic s) {
  switch (s) {
    case Statistic::kAverage:
      return "Average";
    case Statistic::kSum:
      return "Sum";
    case Statistic::kMinimum:
      return "Minimum";
    case Statistic::kMaximum:
      return "Maximum";
    case Statistic::kSampleCount:
      return "SampleCount";
  }
  return "";
}

double Datapoint::Get(Statistic s) const {
  switch (s) {
    case Statistic::kAverage:
      return average;
    case Statistic::kSum:
      return sum;
    case Statistic::kMinimum:
      return minimum;
    case Statistic::kMaximum:
      return maximum;
    case Statistic::kSampleCount:
      return static_cast<double>(sample_count);
  }
  return 0;
}

void MetricHistory::Record(std::string_view metric, int64_t time_ms, double value) {
  std::lock_guard lock(mu_);
  auto it = series_.find(metric);
  if (it == series_.end()) it = series_.emplace(std::string(metric), std::deque<Sample>{}).first;
  auto& samples = it->second;
  // Kept in time order (Aggregate searches it). After a wall clock stepped
  // back, the samples taken before the step lie in the future: they go.
  while (!samples.empty() && samples.back().time_ms > time_ms) samples.pop_back();
  samples.push_back({time_ms, value});
  while (!samples.empty() && samples.front().time_ms < time_ms - retention_ms_) {
    samples.pop_front();
  }
}

std::optional<Datapoint> MetricHistory::Aggregate(std::string_view metric, int64_t from_ms,
                                                  int64_t to_ms) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(metric);
  if (it == series_.end()) return std::nullopt;
  Datapoint d;
  d.period_start_ms = from_ms;
  d.minimum = std::numeric_limits<double>::infinity();
  d.maximum = -std::numeric_limits<double>::infinity();
  // Samples are in time order: binary search the window.
  const auto& s = it->second;
  auto first = std::lower_bound(s.begin(), s.end(), from_ms,
                                [](const Sample& x, int64_t t) { return x.time_ms < t; });
  for (auto p = first; p != s.end() && p->time_ms < to_ms; ++p) {
    d.sum += p->value;
    d.minimum = std::min(d.minimum, p->value);
    d.maximum = std::max(d.maximum, p->value);
    ++d.sample_count;
  }
  if (d.sample_count == 0) return std::nullopt;
  d.average = d.sum / static_cast<double>(d.sample_count);
  return d;
}

std::vector<Datapoint> MetricHistory::Periods(std::string_view metric, int64_t period_ms, int count,
                                              int64_t now_ms) const {
  std::vector<Datapoint> out;
  if (period_ms <= 0 || count <= 0) return out;
  // Whole periods aligned to the epoch, the last one ending at or before now.
  int64_t end = now_ms - (now_ms % period_ms);
  for (int i = count; i >= 1; --i) {
    int64_t to = end - static_cast<int64_t>(i - 1) * period_ms;
    if (auto d = Aggregate(metric, to - period_ms, to)) out.push_back(*d);
  }
  return out;
}

std::optional<Sample> MetricHistory::Latest(std::string_view metric) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(metric);
  if (it == series_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<Sample> MetricHistory::Since(std::string_view metric, int64_t from_ms) const {
  std::lock_guard lock(mu_);
  std::vector<Sample> out;
  auto it = series_.find(metric);
  if (it == series_.end()) return out;
  for (const auto& s : it->second) {
    if (s.time_ms >= from_ms) out.push_back(s);
  }
  return out;
}

std::vector<std::string> MetricHistory::Names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, _] : series_) names.push_back(name);
  return names;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t idx = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(idx, values.size() - 1)];
}

}  // namespace imgbatch::metrics
