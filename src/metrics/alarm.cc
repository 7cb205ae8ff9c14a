#include "metrics/alarm.h"

#include <cstdio>

namespace imgbatch::metrics {

std::optional<Comparison> ParseComparison(std::string_view name) {
  if (name == "GreaterThanOrEqualToThreshold") return Comparison::kGreaterThanOrEqualToThreshold;
  if (name == "GreaterThanThreshold") return Comparison::kGreaterThanThreshold;
  if (name == "LessThanThreshold") return Comparison::kLessThanThreshold;
  if (name == "LessThanOrEqualToThreshold") return Comparison::kLessThanOrEqualToThreshold;
  return std::nullopt;
}

const char* ComparisonName(Comparison c) {
  switch (c) {
    case Comparison::kGreaterThanOrEqualToThreshold:
      return "GreaterThanOrEqualToThreshold";
    case Comparison::kGreaterThanThreshold:
      return "GreaterThanThreshold";
    case Comparison::kLessThanThreshold:
      return "LessThanThreshold";
    case Comparison::kLessThanOrEqualToThreshold:
      return "LessThanOrEqualToThreshold";
  }
  return "";
}

const char* AlarmStateName(AlarmState s) {
  switch (s) {
    case AlarmState::kOk:
      return "OK";
    case AlarmState::kAlarm:
      return "ALARM";
    case AlarmState::kInsufficientData:
      return "INSUFFICIENT_DATA";
  }
  return "";
}

bool Breaches(Comparison c, double value, double threshold) {
  switch (c) {
    case Comparison::kGreaterThanOrEqualToThreshold:
      return value >= threshold;
    case Comparison::kGreaterThanThreshold:
      return value > threshold;
    case Comparison::kLessThanThreshold:
      return value < threshold;
    case Comparison::kLessThanOrEqualToThreshold:
      return value <= threshold;
  }
  return false;
}

namespace {

const char* Symbol(Comparison c) {
  switch (c) {
    case Comparison::kGreaterThanOrEqualToThreshold:
      return ">=";
    case Comparison::kGreaterThanThreshold:
      return ">";
    case Comparison::kLessThanThreshold:
      return "<";
    case Comparison::kLessThanOrEqualToThreshold:
      return "<=";
  }
  return "?";
}

}  // namespace

AlarmEvaluation Evaluate(const AlarmSpec& spec, const MetricHistory& history, int64_t now_ms) {
  AlarmEvaluation out;
  auto periods = history.Periods(spec.metric, int64_t{spec.period_seconds} * 1000,
                                 spec.evaluation_periods, now_ms);
  if (periods.empty()) {
    out.reason = "no datapoints";
    return out;
  }
  out.last_value = periods.back().Get(spec.statistic);
  if (static_cast<int>(periods.size()) < spec.evaluation_periods) {
    out.reason = "not enough datapoints";
    return out;
  }
  bool all_breach = true;
  std::string values;
  for (const auto& p : periods) {
    double v = p.Get(spec.statistic);
    all_breach = all_breach && Breaches(spec.comparison, v, spec.threshold);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.2f", values.empty() ? "" : ", ", v);
    values += buf;
  }
  char reason[256];
  std::snprintf(reason, sizeof reason, "%s: %d datapoint(s) [%s] %s %s %.2f",
                all_breach ? "Threshold Crossed" : "Threshold Not Crossed",
                static_cast<int>(periods.size()), values.c_str(), all_breach ? "" : "not",
                Symbol(spec.comparison), spec.threshold);
  out.reason = reason;
  out.state = all_breach ? AlarmState::kAlarm : AlarmState::kOk;
  return out;
}

}  // namespace imgbatch::metrics
