#include <gtest/gtest.h>

#include "metrics/alarm.h"
#include "metrics/history.h"
#include "metrics/prometheus.h"

namespace imgbatch::metrics {
namespace {

TEST(History, AggregatesLikeCloudWatch) {
  MetricHistory h;
  for (int i = 0; i < 60; ++i) h.Record("visible", 1'000'000 + i * 1000, i % 2 ? 10 : 0);
  auto d = h.Aggregate("visible", 1'000'000, 1'060'000);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->sample_count, 60);
  EXPECT_DOUBLE_EQ(d->sum, 300);
  EXPECT_DOUBLE_EQ(d->average, 5);
  EXPECT_DOUBLE_EQ(d->minimum, 0);
  EXPECT_DOUBLE_EQ(d->maximum, 10);
  EXPECT_FALSE(h.Aggregate("visible", 0, 1000).has_value());
  EXPECT_FALSE(h.Aggregate("unknown", 0, 2'000'000).has_value());
  EXPECT_DOUBLE_EQ(h.Latest("visible")->value, 10);
}

TEST(History, RetentionDropsOldSamples) {
  MetricHistory h(10'000);
  for (int i = 0; i < 100; ++i) h.Record("m", i * 1000, i);
  EXPECT_EQ(h.Since("m", 0).size(), 11u);
}

// Samples are kept in time order, which the window searches rely on. A wall
// clock stepped back (an NTP step, a restored snapshot) makes the samples
// already taken lie in the future: they go, and the series goes on from the
// new time, so that alarms see its new samples at once.
TEST(History, AClockSteppedBackDropsTheSamplesNowInTheFuture) {
  MetricHistory h;
  for (int i = 0; i < 60; ++i) h.Record("m", 3'600'000 + i * 1000, 1);
  for (int i = 0; i < 60; ++i) h.Record("m", 60'000 + i * 1000, 3);
  auto d = h.Aggregate("m", 60'000, 120'000);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->sample_count, 60);
  EXPECT_DOUBLE_EQ(d->average, 3);
  EXPECT_EQ(h.Since("m", 0).size(), 60u);
  EXPECT_EQ(h.Latest("m")->time_ms, 119'000);
}

TEST(History, PeriodsAreAlignedAndSkipEmptyOnes) {
  MetricHistory h;
  for (int i = 0; i < 120; ++i) h.Record("m", 60'000 + i * 1000, i < 60 ? 1 : 3);
  auto p = h.Periods("m", 60'000, 3, 180'500);
  ASSERT_EQ(p.size(), 2u);  // [0,60s) is empty
  EXPECT_DOUBLE_EQ(p[0].average, 1);
  EXPECT_DOUBLE_EQ(p[1].average, 3);
}

TEST(Alarm, TheSeedAlarmFiresOnAverageAtLeastFive) {
  AlarmSpec seed{"SQSCloudWatchAlarm",
                 "visible",
                 Statistic::kAverage,
                 60,
                 1,
                 Comparison::kGreaterThanOrEqualToThreshold,
                 5};
  MetricHistory h;
  EXPECT_EQ(Evaluate(seed, h, 120'000).state, AlarmState::kInsufficientData);
  for (int i = 0; i < 60; ++i) h.Record("visible", 60'000 + i * 1000, 5);
  auto e = Evaluate(seed, h, 120'000);
  EXPECT_EQ(e.state, AlarmState::kAlarm);
  EXPECT_DOUBLE_EQ(*e.last_value, 5);
  EXPECT_NE(e.reason.find("Threshold Crossed"), std::string::npos);
  for (int i = 0; i < 60; ++i) h.Record("visible", 120'000 + i * 1000, 4.9);
  EXPECT_EQ(Evaluate(seed, h, 180'000).state, AlarmState::kOk);
}

TEST(Alarm, NeedsEveryEvaluationPeriodToBreach) {
  AlarmSpec two{"a", "m", Statistic::kMaximum, 10, 2, Comparison::kGreaterThanThreshold, 1};
  MetricHistory h;
  h.Record("m", 5'000, 2);
  EXPECT_EQ(Evaluate(two, h, 20'000).state, AlarmState::kInsufficientData);
  h.Record("m", 15'000, 0);
  EXPECT_EQ(Evaluate(two, h, 20'000).state, AlarmState::kOk);
  h.Record("m", 25'000, 5);
  EXPECT_EQ(Evaluate(two, h, 30'000).state, AlarmState::kOk);  // 0 then 5
  h.Record("m", 35'000, 5);
  EXPECT_EQ(Evaluate(two, h, 40'000).state, AlarmState::kAlarm);
  EXPECT_TRUE(ParseComparison("LessThanThreshold").has_value());
  EXPECT_FALSE(ParseComparison("Bigger").has_value());
  EXPECT_EQ(ParseStatistic("SampleCount"), Statistic::kSampleCount);
}

TEST(Prometheus, TextFormat) {
  std::string text = RenderPrometheus(
      {{"imgbatch_queue_messages_visible",
        "Messages available.",
        "gauge",
        {{{{"queue", "batch-queue"}}, 3}, {{{"queue", "a\"b"}}, 0.5}}},
       {"imgbatch_images_processed_total", "Images processed.", "counter", {{{}, 7}}}});
  EXPECT_EQ(text,
            "# HELP imgbatch_queue_messages_visible Messages available.\n"
            "# TYPE imgbatch_queue_messages_visible gauge\n"
            "imgbatch_queue_messages_visible{queue=\"batch-queue\"} 3\n"
            "imgbatch_queue_messages_visible{queue=\"a\\\"b\"} 0.5\n"
            "# HELP imgbatch_images_processed_total Images processed.\n"
            "# TYPE imgbatch_images_processed_total counter\n"
            "imgbatch_images_processed_total 7\n");
}

}  // namespace
}  // namespace imgbatch::metrics
