#include "client/retry.h"

#include <gtest/gtest.h>

#include "client/http_transport.h"

namespace imgbatch::client {
namespace {

using std::chrono::milliseconds;

TEST(RetryTest, RetriesServerErrorsThrottlingAndConnectionFailures) {
  EXPECT_TRUE(ShouldRetry({Status::Ok(), 500, ""}));
  EXPECT_TRUE(ShouldRetry({Status::Ok(), 503, "SlowDown"}));
  EXPECT_TRUE(ShouldRetry({Status::Ok(), 429, ""}));
  EXPECT_TRUE(ShouldRetry({Status::Ok(), 400, "Throttling"}));
  EXPECT_TRUE(ShouldRetry({Status::Ok(), 400, "RequestLimitExceeded"}));
  EXPECT_TRUE(ShouldRetry({Status::Ok(), 400, "RequestTimeout"}));
  EXPECT_TRUE(ShouldRetry({Status(Code::kUnavailable, "connection refused"), 0, ""}));
  EXPECT_TRUE(ShouldRetry({Status(Code::kTimeout, "timed out"), 0, ""}));
}

TEST(RetryTest, DoesNotRetryClientErrorsOrAborts) {
  EXPECT_FALSE(ShouldRetry({Status::Ok(), 400, "InvalidArgument"}));
  EXPECT_FALSE(ShouldRetry({Status::Ok(), 403, "AccessDenied"}));
  EXPECT_FALSE(ShouldRetry({Status::Ok(), 404, "NoSuchKey"}));
  EXPECT_FALSE(ShouldRetry({Status::Ok(), 412, ""}));
  EXPECT_FALSE(ShouldRetry(
      {Status(Code::kUnavailable, "aborted").WithDetail(std::string(kAbortedDetail)), 0, ""}));
  EXPECT_FALSE(ShouldRetry({Status(Code::kInvalidArgument, "bad url"), 0, ""}));
}

TEST(RetryTest, BackoffIsFullJitterUnderAnExponentialCeiling) {
  RetryOptions options;
  options.base_delay = milliseconds(100);
  options.max_backoff = milliseconds(1000);
  EXPECT_EQ(BackoffDelay(1, options, 0.0), milliseconds(0));
  EXPECT_EQ(BackoffDelay(1, options, 0.5), milliseconds(50));
  EXPECT_EQ(BackoffDelay(2, options, 0.5), milliseconds(100));
  EXPECT_EQ(BackoffDelay(3, options, 0.5), milliseconds(200));
  // Capped at max_backoff however many retries.
  EXPECT_EQ(BackoffDelay(10, options, 0.5), milliseconds(500));
  EXPECT_EQ(BackoffDelay(1000, options, 0.999), milliseconds(999));
}

TEST(RetryTest, UnitRandomStaysInRange) {
  for (int i = 0; i < 1000; ++i) {
    double value = UnitRandom();
    ASSERT_GE(value, 0.0);
    ASSERT_LT(value, 1.0);
  }
}

TEST(RetryTest, RealSleeperStopsWhenAborted) {
  std::atomic<bool> abort{true};
  EXPECT_FALSE(RealSleeper()(milliseconds(60'000), &abort));
  EXPECT_TRUE(RealSleeper()(milliseconds(1), nullptr));
}

}  // namespace
}  // namespace imgbatch::client
