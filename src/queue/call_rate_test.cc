#include "queue/call_rate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace imgbatch::queue {
namespace {

using Keys = std::vector<std::string>;

// How many calls of `keys` go through at now_ms before one is refused.
int CallsUntilRefused(CallRate& rate, const Keys& keys, int64_t per_second, int64_t now_ms) {
  int taken = 0;
  while (taken < 1000 && rate.TryTake(keys, per_second, now_ms)) ++taken;
  return taken;
}

TEST(CallRateTest, HoldsOneSecondsCallsAndRefillsAtTheRate) {
  CallRate rate;
  EXPECT_EQ(CallsUntilRefused(rate, {"send"}, 300, 0), 300);
  EXPECT_EQ(CallsUntilRefused(rate, {"send"}, 300, 9), 2);  // 9 ms: 2.7 calls
  // 0.7 call was left over; 1 ms more makes it 1.0.
  EXPECT_EQ(CallsUntilRefused(rate, {"send"}, 300, 10), 1);
  // Idle for a minute: the bucket is full again, not fuller.
  EXPECT_EQ(CallsUntilRefused(rate, {"send"}, 300, 60'000), 300);
}

TEST(CallRateTest, EachKeyHasItsOwnBucket) {
  CallRate rate;
  EXPECT_EQ(CallsUntilRefused(rate, {"send"}, 3, 0), 3);
  EXPECT_TRUE(rate.TryTake({"receive"}, 3, 0));
  EXPECT_TRUE(rate.TryTake({"send/b"}, 3, 0));
  EXPECT_FALSE(rate.TryTake({"send"}, 3, 0));
}

TEST(CallRateTest, ACallTakesFromEveryKeyOrFromNone) {
  CallRate rate;
  EXPECT_EQ(CallsUntilRefused(rate, {"a"}, 3, 0), 3);
  EXPECT_FALSE(rate.TryTake({"b", "a"}, 3, 0));
  // b lost nothing to the refused call.
  EXPECT_EQ(CallsUntilRefused(rate, {"b"}, 3, 0), 3);
}

TEST(CallRateTest, AKeyNamedTwiceIsOneCall) {
  CallRate rate;
  EXPECT_TRUE(rate.TryTake({"g", "g", "g"}, 3, 0));
  EXPECT_EQ(CallsUntilRefused(rate, {"g"}, 3, 0), 2);
}

TEST(CallRateTest, ARateOfZeroIsNoQuota) {
  CallRate rate;
  EXPECT_EQ(CallsUntilRefused(rate, {"send"}, 0, 0), 1000);
  EXPECT_EQ(rate.Buckets(), 0u);
}

TEST(CallRateTest, ManyIdleKeysAreForgotten) {
  CallRate rate;
  for (size_t i = 0; i <= CallRate::kPruneAbove; ++i) {
    ASSERT_TRUE(rate.TryTake({"g" + std::to_string(i)}, 5, 0));
  }
  EXPECT_EQ(rate.Buckets(), CallRate::kPruneAbove + 1);
  // A second later every bucket is full again: the next call drops them.
  ASSERT_TRUE(rate.TryTake({"new"}, 5, 1000));
  EXPECT_EQ(rate.Buckets(), 1u);
  // One that is still refilling is kept, and still counts.
  EXPECT_EQ(CallsUntilRefused(rate, {"new"}, 5, 1000), 4);
}

}  // namespace
}  // namespace imgbatch::queue
