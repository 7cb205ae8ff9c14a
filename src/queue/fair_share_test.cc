#include "queue/fair_share.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace imgbatch::queue {
namespace {

using InFlight = std::vector<std::pair<std::string, int64_t>>;

std::vector<std::string> Groups(const std::shared_ptr<const NoisyTenants>& noisy) {
  std::vector<std::string> out;
  if (noisy) {
    for (const auto& t : noisy->tenants) out.push_back(t.group);
  }
  return out;
}

TEST(FairShareTest, ThirtyInFlightAndMoreThanATenthIsNoisy) {
  FairShare fair;
  fair.NoteSend("a", 0);
  fair.NoteSend("b", 0);
  // 30 of 100 in flight: noisy at once, before any processing-time history.
  auto noisy = fair.Sample({{"a", 30}, {"b", 5}}, 100, 1000);
  EXPECT_EQ(Groups(noisy), std::vector<std::string>{"a"});
  ASSERT_NE(noisy->Find("a"), nullptr);
  EXPECT_EQ(noisy->Find("a")->in_flight, 30);
  EXPECT_EQ(noisy->Find("b"), nullptr);
  EXPECT_EQ(noisy->Find(""), nullptr);
}

TEST(FairShareTest, TwentyNineInFlightIsNotNoisyByConcurrency) {
  FairShare fair;
  fair.NoteSend("a", 0);
  // All of the in-flight messages, but 29 of them, once: the concurrency
  // rule wants 30, and one second is too little processing time to count.
  EXPECT_EQ(fair.Sample({{"a", 29}}, 29, 1000), nullptr);
}

TEST(FairShareTest, ThirtyButATenthOrLessIsNotNoisy) {
  FairShare fair;
  fair.NoteSend("a", 0);
  EXPECT_EQ(fair.Sample({{"a", 30}}, 300, 1000), nullptr);  // exactly 10%
}

TEST(FairShareTest, ATenantThatTakesMostProcessingTimeBecomesNoisyWithFewInFlight) {
  FairShare fair;
  fair.NoteSend("slow", 0);
  fair.NoteSend("fast", 0);
  // Two slow messages of 20 in flight, second after second: 10% of the
  // processing time is crossed only above a tenth, so 4 of 20 (20%).
  std::shared_ptr<const NoisyTenants> noisy;
  int64_t now = 0;
  for (int i = 0; i < 120 && !noisy; ++i) {
    now += 1000;
    noisy = fair.Sample({{"slow", 4}, {"fast", 1}}, 20, now);
  }
  EXPECT_EQ(Groups(noisy), std::vector<std::string>{"slow"});
  EXPECT_GT(fair.ProcessingShare("slow"), FairShare::kNoisyShare);
  EXPECT_LT(fair.ProcessingShare("fast"), FairShare::kNoisyShare);
  // It took seconds, not one sample: the share is an average.
  EXPECT_GT(now, 1000);
}

TEST(FairShareTest, NoisyTenantsComeFewestInFlightFirst) {
  FairShare fair;
  for (const char* g : {"a", "b", "c"}) fair.NoteSend(g, 0);
  auto noisy = fair.Sample({{"a", 90}, {"b", 40}, {"c", 60}}, 200, 1000);
  EXPECT_EQ(Groups(noisy), (std::vector<std::string>{"b", "c", "a"}));
}

TEST(FairShareTest, FiveMinutesWithoutASendMakesATenantQuiet) {
  FairShare fair;
  fair.NoteSend("a", 0);
  EXPECT_NE(fair.Sample({{"a", 50}}, 50, 1000), nullptr);
  EXPECT_NE(fair.Sample({{"a", 50}}, 50, FairShare::kQuietAfterMs - 1), nullptr);
  EXPECT_EQ(fair.Sample({{"a", 50}}, 50, FairShare::kQuietAfterMs), nullptr);
  // A send makes it noisy again at the next sample.
  fair.NoteSend("a", FairShare::kQuietAfterMs + 10);
  EXPECT_NE(fair.Sample({{"a", 50}}, 50, FairShare::kQuietAfterMs + 1000), nullptr);
}

TEST(FairShareTest, ANoisyTenantStaysNoisyWhileItTakesTheConsumersTime) {
  FairShare fair;
  fair.NoteSend("a", 0);
  fair.NoteSend("b", 0);
  int64_t now = 0;
  for (int i = 0; i < 30; ++i) {
    now += 1000;
    fair.Sample({{"a", 40}}, 40, now);
  }
  // Quiet tenants served first: a's in-flight count drops under 30, but it
  // still holds most of the consumers, and stays noisy.
  now += 1000;
  EXPECT_EQ(Groups(fair.Sample({{"a", 8}, {"b", 2}}, 10, now)), std::vector<std::string>{"a"});
  // Its backlog gone, nothing of it in flight: quiet again once its share
  // of the last minutes' processing time is down to a tenth.
  std::shared_ptr<const NoisyTenants> noisy;
  int seconds = 0;
  do {
    now += 1000;
    noisy = fair.Sample({{"b", 2}}, 2, now);
  } while (noisy && noisy->Find("a") && ++seconds < 300);
  EXPECT_TRUE(!noisy || !noisy->Find("a"));
  EXPECT_LE(fair.ProcessingShare("a"), FairShare::kNoisyShare);
  EXPECT_GT(seconds, 1);  // an average, not the last sample
}

TEST(FairShareTest, UngroupedMessagesCountInTheTotalOnly) {
  FairShare fair;
  fair.NoteSend("", 0);  // ignored: each ungrouped message is a tenant of its own
  EXPECT_FALSE(fair.following());
  fair.NoteSend("a", 0);
  // 30 grouped among 400 in flight (370 ungrouped): 7.5%, not noisy.
  EXPECT_EQ(fair.Sample({{"a", 30}, {"", 370}}, 400, 1000), nullptr);
  EXPECT_EQ(fair.followed(), 1u);
}

TEST(FairShareTest, TenantsAreForgottenWhenIdleAndBounded) {
  FairShare fair;
  fair.NoteSend("a", 0);
  EXPECT_TRUE(fair.following());
  fair.Sample({}, 0, 1000);
  EXPECT_TRUE(fair.following());  // sent less than five minutes ago
  fair.Sample({}, 0, FairShare::kQuietAfterMs + 1);
  EXPECT_FALSE(fair.following());

  for (size_t i = 0; i < FairShare::kMaxTenants + 10; ++i) {
    fair.NoteSend("t" + std::to_string(i), 0);
  }
  EXPECT_EQ(fair.followed(), FairShare::kMaxTenants);
}

TEST(FairShareTest, TenantsInFlightAfterARestartAreFollowedButNotRecentSenders) {
  FairShare fair;  // a restart: nothing noted
  // In flight, but no send seen: not noisy (as if its last send were five
  // minutes old), and followed so that a send now counts at once.
  EXPECT_EQ(fair.Sample({{"a", 100}}, 100, 1'000'000), nullptr);
  EXPECT_TRUE(fair.following());
  fair.NoteSend("a", 1'000'500);
  EXPECT_NE(fair.Sample({{"a", 100}}, 100, 1'001'000), nullptr);
}

}  // namespace
}  // namespace imgbatch::queue
