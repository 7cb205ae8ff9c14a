// Scaling policies as pure functions: given the queue's backlog, the pool's
// state and the clock, what should the desired worker count be, and why.
// Target tracking on backlog per worker (AWS's recommended SQS scaling, KEDA's
// queueLength) is the default; step scaling on an alarm is the seed's way.
// Thread-safe (no state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "metrics/alarm.h"

namespace imgbatch::autoscaler {

struct PoolBounds {
  int min = 0;
  int max = 1;
};

struct PoolState {
  int desired = 0;
  int running = 0;
  int busy = 0;  // workers with images in flight
  int64_t visible = 0;
  int64_t in_flight = 0;
  // These three on one monotonic clock (Clock::MonotonicMillis): they only
  // time cooldowns, which a wall clock stepped back would stretch.
  int64_t now_ms = 0;
  int64_t last_scale_out_ms = -1;  // -1: never
  int64_t last_scale_in_ms = -1;
};

struct TargetTrackingPolicy {
  double target_backlog_per_worker = 5;
  int scale_out_cooldown_seconds = 0;  // react to a burst at once
  int scale_in_cooldown_seconds = 60;  // shrink only after the backlog stayed low
};

struct StepAdjustment {
  // Bounds relative to the alarm threshold (AWS's MetricIntervalLower/UpperBound).
  std::optional<double> lower;
  std::optional<double> upper;
  int change = 0;  // ChangeInCapacity
};

struct StepScalingPolicy {
  std::string alarm;
  std::vector<StepAdjustment> steps;
  int cooldown_seconds = 60;
};

struct Decision {
  int desired = 0;
  bool changed = false;
  std::string reason;  // the numbers behind it, for the log and the dashboard
};

// Backlog per worker: (visible + in flight) / target, rounded up; activation
// from zero on the first visible message (>= 1, not > 1); scale-in counts
// in-flight messages so busy workers are not taken away; cooldowns.
Decision TargetTracking(const TargetTrackingPolicy& policy, PoolBounds bounds,
                        const PoolState& state);

// Applies the step whose interval holds (metric value - threshold) while the
// alarm is in ALARM; no change otherwise.
Decision StepScaling(const StepScalingPolicy& policy, PoolBounds bounds, const PoolState& state,
                     metrics::AlarmState alarm_state, std::optional<double> metric_value,
                     double threshold);

}  // namespace imgbatch::autoscaler
