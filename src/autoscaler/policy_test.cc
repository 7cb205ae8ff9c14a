#include "autoscaler/policy.h"

#include <gtest/gtest.h>

namespace imgbatch::autoscaler {
namespace {

PoolState State(int desired, int64_t visible, int64_t in_flight, int64_t now_ms = 1'000'000) {
  PoolState s;
  s.desired = s.running = desired;
  s.visible = visible;
  s.in_flight = in_flight;
  s.now_ms = now_ms;
  return s;
}

TEST(TargetTracking, WakesFromZeroOnTheFirstMessage) {
  auto d = TargetTracking({}, {0, 2}, State(0, 1, 0));
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(d.desired, 1);
  EXPECT_NE(d.reason.find("backlog 1"), std::string::npos);
  EXPECT_FALSE(TargetTracking({}, {0, 2}, State(0, 0, 0)).changed);
}

TEST(TargetTracking, BacklogPerWorkerAndBounds) {
  EXPECT_EQ(TargetTracking({}, {0, 8}, State(1, 23, 0)).desired, 5);  // ceil(23/5)
  EXPECT_EQ(TargetTracking({}, {0, 2}, State(1, 500, 0)).desired, 2);
  EXPECT_EQ(TargetTracking({}, {1, 4}, State(1, 0, 0)).desired, 1);  // min holds
}

TEST(TargetTracking, ScaleInCountsInFlightAndBusyAndWaitsForCooldown) {
  TargetTrackingPolicy p;
  p.scale_in_cooldown_seconds = 60;
  PoolState s = State(4, 0, 12, 1'000'000);
  s.last_scale_out_ms = 990'000;  // 10 s ago
  auto d = TargetTracking(p, {0, 4}, s);
  EXPECT_FALSE(d.changed);  // cooldown
  s.now_ms = 1'060'000;
  d = TargetTracking(p, {0, 4}, s);
  EXPECT_EQ(d.desired, 3);  // ceil(12/5), not 0: in-flight work counts
  s.in_flight = 0;
  s.busy = 2;
  EXPECT_EQ(TargetTracking(p, {0, 4}, s).desired, 2);  // never below the busy workers
  s.busy = 0;
  EXPECT_EQ(TargetTracking(p, {0, 4}, s).desired, 0);  // scale to zero
}

TEST(StepScaling, TheSeedsAlarmWay) {
  StepScalingPolicy p{"SQSCloudWatchAlarm", {{0, 10, 1}, {10, std::nullopt, 2}}, 60};
  PoolState s = State(1, 0, 0);
  EXPECT_FALSE(StepScaling(p, {0, 4}, s, metrics::AlarmState::kOk, 3, 5).changed);
  auto d = StepScaling(p, {0, 4}, s, metrics::AlarmState::kAlarm, 7, 5);
  EXPECT_EQ(d.desired, 2);
  d = StepScaling(p, {0, 4}, s, metrics::AlarmState::kAlarm, 30, 5);
  EXPECT_EQ(d.desired, 3);
  s.last_scale_out_ms = s.now_ms - 1000;
  EXPECT_FALSE(StepScaling(p, {0, 4}, s, metrics::AlarmState::kAlarm, 30, 5).changed);
}

}  // namespace
}  // namespace imgbatch::autoscaler
