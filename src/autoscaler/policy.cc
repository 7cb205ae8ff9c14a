#include "autoscaler/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace imgbatch::autoscaler {
namespace {

int Clamp(int v, PoolBounds b) { return std::clamp(v, b.min, std::max(b.min, b.max)); }

bool CooledDown(int64_t last_ms, int cooldown_seconds, int64_t now_ms) {
  return last_ms < 0 || now_ms - last_ms >= int64_t{cooldown_seconds} * 1000;
}

std::string Format(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

}  // namespace

Decision TargetTracking(const TargetTrackingPolicy& policy, PoolBounds bounds,
                        const PoolState& state) {
  Decision d{state.desired, false, ""};
  int64_t backlog = state.visible + state.in_flight;
  double target = policy.target_backlog_per_worker > 0 ? policy.target_backlog_per_worker : 1;
  int needed = static_cast<int>(std::ceil(static_cast<double>(backlog) / target));
  // Never fewer than the workers that are busy right now.
  needed = std::max(needed, state.busy);
  needed = Clamp(needed, bounds);
  std::string numbers =
      Format("backlog %lld (visible %lld + in flight %lld), target %.1f/worker",
             static_cast<long long>(backlog), static_cast<long long>(state.visible),
             static_cast<long long>(state.in_flight), target);
  if (needed > state.desired) {
    bool from_zero = state.desired == 0;
    if (!from_zero &&
        !CooledDown(state.last_scale_out_ms, policy.scale_out_cooldown_seconds, state.now_ms)) {
      d.reason = "scale-out cooldown: " + numbers;
      return d;
    }
    d.desired = needed;
    d.changed = true;
    d.reason = Format("scale out %d -> %d: ", state.desired, needed) + numbers;
  } else if (needed < state.desired) {
    if (!CooledDown(std::max(state.last_scale_out_ms, state.last_scale_in_ms),
                    policy.scale_in_cooldown_seconds, state.now_ms)) {
      d.reason = "scale-in cooldown: " + numbers;
      return d;
    }
    d.desired = needed;
    d.changed = true;
    d.reason = Format("scale in %d -> %d: ", state.desired, needed) + numbers;
  } else {
    d.reason = "steady: " + numbers;
  }
  return d;
}

Decision StepScaling(const StepScalingPolicy& policy, PoolBounds bounds, const PoolState& state,
                     metrics::AlarmState alarm_state, std::optional<double> metric_value,
                     double threshold) {
  Decision d{state.desired, false, ""};
  if (alarm_state != metrics::AlarmState::kAlarm || !metric_value) {
    d.reason = "alarm " + policy.alarm + " not in ALARM";
    return d;
  }
  int64_t last = std::max(state.last_scale_out_ms, state.last_scale_in_ms);
  if (!CooledDown(last, policy.cooldown_seconds, state.now_ms)) {
    d.reason = "step cooldown";
    return d;
  }
  double delta = *metric_value - threshold;
  for (const auto& step : policy.steps) {
    if ((step.lower && delta < *step.lower) || (step.upper && delta >= *step.upper)) continue;
    int desired = Clamp(state.desired + step.change, bounds);
    d.changed = desired != state.desired;
    d.desired = desired;
    d.reason = Format("alarm %s at %.2f (threshold %.2f): step %+d -> %d", policy.alarm.c_str(),
                      *metric_value, threshold, step.change, desired);
    return d;
  }
  d.reason = "no step matches";
  return d;
}

}  // namespace imgbatch::autoscaler
