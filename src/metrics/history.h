// MetricHistory: per-metric ring buffers of one-second samples, queried with
// CloudWatch's statistics (Average, Sum, Minimum, Maximum, SampleCount) over
// periods. Thread-safe (one mutex; sampling is once a second, reads are rare).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgbatch::metrics {

enum class Statistic { kAverage, kSum, kMinimum, kMaximum, kSampleCount };
std::optional<Statistic> ParseStatistic(std::string_view name);  // "Average", ...
const char* StatisticName(Statistic s);

struct Datapoint {
  int64_t period_start_ms = 0;
  double average = 0, sum = 0, minimum = 0, maximum = 0;
  int64_t sample_count = 0;
  double Get(Statistic s) const;
};

struct Sample {
  int64_t time_ms = 0;
  double value = 0;
};

// The p-quantile (0..1, nearest rank) of values; 0 when empty.
double Percentile(std::vector<double> values, double p);

class MetricHistory {
 public:
  // Keeps samples younger than `retention_ms`, in time order: a sample older
  // than the newest (the wall clock stepped back) drops those after it.
  explicit MetricHistory(int64_t retention_ms = 3'600'000) : retention_ms_(retention_ms) {}

  void Record(std::string_view metric, int64_t time_ms, double value);
  // Aggregates of the samples in [from_ms, to_ms); nullopt when none.
  std::optional<Datapoint> Aggregate(std::string_view metric, int64_t from_ms, int64_t to_ms) const;
  // The last `count` whole periods ending at or before now_ms, oldest first;
  // periods without samples are absent (as CloudWatch returns them).
  std::vector<Datapoint> Periods(std::string_view metric, int64_t period_ms, int count,
                                 int64_t now_ms) const;
  std::optional<Sample> Latest(std::string_view metric) const;
  // Raw samples since from_ms (for dashboard charts).
  std::vector<Sample> Since(std::string_view metric, int64_t from_ms) const;
  std::vector<std::string> Names() const;

 private:
  int64_t retention_ms_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<Sample>, std::less<>> series_;
};

}  // namespace imgbatch::metrics
