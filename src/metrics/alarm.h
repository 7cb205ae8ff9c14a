// Alarms as CloudWatch evaluates them: a metric's statistic over `period`,
// compared with a threshold for `evaluation_periods` consecutive periods.
// States OK / ALARM / INSUFFICIENT_DATA. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "metrics/history.h"

namespace imgbatch::metrics {

enum class Comparison {
  kGreaterThanOrEqualToThreshold,
  kGreaterThanThreshold,
  kLessThanThreshold,
  kLessThanOrEqualToThreshold,
};
std::optional<Comparison> ParseComparison(std::string_view name);
const char* ComparisonName(Comparison c);

enum class AlarmState { kOk, kAlarm, kInsufficientData };
const char* AlarmStateName(AlarmState s);

struct AlarmSpec {
  std::string name;
  std::string metric;  // a MetricHistory series name
  Statistic statistic = Statistic::kAverage;
  int period_seconds = 60;
  int evaluation_periods = 1;
  Comparison comparison = Comparison::kGreaterThanOrEqualToThreshold;
  double threshold = 0;
};

struct AlarmEvaluation {
  AlarmState state = AlarmState::kInsufficientData;
  std::optional<double> last_value;  // the newest period's statistic
  std::string reason;                // "Threshold Crossed: 2 datapoints [7.0, 6.5] >= 5.0"
};

bool Breaches(Comparison c, double value, double threshold);
AlarmEvaluation Evaluate(const AlarmSpec& spec, const MetricHistory& history, int64_t now_ms);

}  // namespace imgbatch::metrics
