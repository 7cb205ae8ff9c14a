#include "imaging/batch_scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace imgbatch::imaging {
namespace {

// Estimates by index; nullopt where unknown.
BatchScheduler::Estimator FromList(std::vector<std::optional<uint64_t>> bytes) {
  return [bytes](size_t index) { return bytes.at(index); };
}

// Returns once `n` Reserve() calls are blocked (no sleeps, no timing).
void AwaitWaiting(const MemoryBudget& budget, size_t n) {
  while (budget.waiting() < n) std::this_thread::yield();
}

// Calls Next() on its own thread (for the cases that must wait).
struct Taker {
  explicit Taker(BatchScheduler& scheduler)
      : thread([this, &scheduler] {
          assignment = scheduler.Next();
          done = true;
        }) {}
  ~Taker() {
    if (thread.joinable()) thread.join();
  }
  std::optional<BatchScheduler::Assignment> assignment;
  std::atomic<bool> done{false};
  std::thread thread;
};

TEST(BatchSchedulerTest, InInputOrderWhileEverythingFits) {
  MemoryBudget budget(100);
  BatchScheduler scheduler(3, FromList({30, 30, 30}), budget, {});
  std::vector<BatchScheduler::Assignment> held;
  for (size_t expected = 0; expected < 3; ++expected) {
    auto next = scheduler.Next();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->index, expected);
    EXPECT_EQ(next->reservation.bytes(), 30u);
    held.push_back(std::move(*next));
  }
  EXPECT_EQ(budget.in_use(), 90u);
  EXPECT_FALSE(scheduler.Next());
  EXPECT_EQ(scheduler.stats().taken_ahead, 0u);
}

// The case the scheduler is for: a big image decodes, the next is big too,
// so a small one further on runs beside it instead of the thread idling.
TEST(BatchSchedulerTest, TakesALaterInputThatFitsWhenTheOldestDoesNot) {
  MemoryBudget budget(100);
  BatchScheduler scheduler(4, FromList({70, 70, 10, 70}), budget, {});
  auto first = scheduler.Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->index, 0u);
  auto second = scheduler.Next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->index, 2u);  // 1 does not fit beside 0
  EXPECT_EQ(scheduler.stats().taken_ahead, 1u);

  first->reservation.Release();
  auto third = scheduler.Next();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->index, 1u);  // the oldest again, now that it fits
  EXPECT_EQ(budget.in_use(), 80u);

  // Nothing left fits: the thread waits for the oldest pending (3).
  Taker fourth(scheduler);
  AwaitWaiting(budget, 1);
  EXPECT_FALSE(fourth.done);
  EXPECT_EQ(scheduler.stats().waited, 1u);
  third->reservation.Release();
  fourth.thread.join();
  ASSERT_TRUE(fourth.assignment);
  EXPECT_EQ(fourth.assignment->index, 3u);
  EXPECT_FALSE(scheduler.Next());
}

// An image bigger than the whole budget waits until it can run alone; the
// images after it that fit do not wait behind it.
TEST(BatchSchedulerTest, AnOversizeImageRunsAloneAndOthersFlowMeanwhile) {
  MemoryBudget budget(100);
  BatchScheduler scheduler(3, FromList({10, 500, 20}), budget, {});
  auto small = scheduler.Next();
  ASSERT_TRUE(small);
  EXPECT_EQ(small->index, 0u);
  auto other = scheduler.Next();
  ASSERT_TRUE(other);
  EXPECT_EQ(other->index, 2u);

  Taker big(scheduler);
  AwaitWaiting(budget, 1);
  small->reservation.Release();
  EXPECT_FALSE(big.done);  // 2 is still in flight
  other->reservation.Release();
  big.thread.join();
  ASSERT_TRUE(big.assignment);
  EXPECT_EQ(big.assignment->index, 1u);
  EXPECT_EQ(budget.in_use(), 500u);
}

// The oldest image is passed over at most max_passes times; then threads
// wait for it even though later ones would fit.
TEST(BatchSchedulerTest, TheOldestIsNotStarvedByImagesThatFit) {
  MemoryBudget budget(100);
  MemoryReservation elsewhere = budget.Reserve(20);  // e.g. another image in flight
  BatchScheduler scheduler(5, FromList({90, 10, 10, 10, 10}), budget,
                           {.lookahead = 8, .max_passes = 2});
  auto a = scheduler.Next();
  auto b = scheduler.Next();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->index, 1u);
  EXPECT_EQ(b->index, 2u);

  Taker overdue(scheduler);  // 3 would fit, but 0 was passed over twice
  AwaitWaiting(budget, 1);
  elsewhere.Release();
  a->reservation.Release();
  b->reservation.Release();
  overdue.thread.join();
  ASSERT_TRUE(overdue.assignment);
  EXPECT_EQ(overdue.assignment->index, 0u);
  EXPECT_EQ(overdue.assignment->reservation.bytes(), 90u);
  auto next = scheduler.Next();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->index, 3u);
}

// Only inputs within the look-ahead are estimated (a header read each), one
// at a time as the window moves; a look-ahead of 1 keeps strict order.
TEST(BatchSchedulerTest, EstimatesOnlyWithinTheLookahead) {
  MemoryBudget budget(100);
  std::vector<size_t> estimated;
  BatchScheduler scheduler(10,
                           [&](size_t index) -> std::optional<uint64_t> {
                             estimated.push_back(index);
                             return index == 0 ? 90 : 5;
                           },
                           budget, {.lookahead = 3, .max_passes = 16});
  auto first = scheduler.Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(estimated, (std::vector<size_t>{0, 1, 2}));
  auto second = scheduler.Next();
  ASSERT_TRUE(second);
  EXPECT_EQ(estimated, (std::vector<size_t>{0, 1, 2, 3}));

  MemoryBudget strict_budget(100);
  MemoryReservation big = strict_budget.Reserve(90);
  BatchScheduler strict(2, FromList({50, 5}), strict_budget, {.lookahead = 1, .max_passes = 16});
  Taker waits(strict);  // 1 would fit, but is not looked at
  AwaitWaiting(strict_budget, 1);
  big.Release();
  waits.thread.join();
  ASSERT_TRUE(waits.assignment);
  EXPECT_EQ(waits.assignment->index, 0u);
}

// Unknown estimates (unreadable headers) are handed out in turn with no
// reservation: Process() reserves for them itself, or reports the error.
TEST(BatchSchedulerTest, UnknownEstimatesAreTakenInTurnWithoutAReservation) {
  MemoryBudget budget(100);
  BatchScheduler scheduler(2, FromList({std::nullopt, 40}), budget, {});
  auto first = scheduler.Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->index, 0u);
  EXPECT_FALSE(first->reservation.held());
  auto second = scheduler.Next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->index, 1u);
  EXPECT_TRUE(second->reservation.held());
}

// Many threads, sizes of all kinds (some over the whole budget): every input
// is handed out exactly once, and an oversize one is always alone in flight.
TEST(BatchSchedulerTest, ManyThreadsTakeEveryInputOnce) {
  constexpr size_t kInputs = 400;
  MemoryBudget budget(100);
  std::vector<std::optional<uint64_t>> sizes;
  for (size_t i = 0; i < kInputs; ++i) sizes.push_back((i * 37) % 160);
  BatchScheduler scheduler(kInputs, FromList(sizes), budget, {.lookahead = 8, .max_passes = 4});
  std::vector<std::atomic<int>> taken(kInputs);
  std::atomic<int> not_alone{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (auto next = scheduler.Next()) {
        ++taken[next->index];
        // While it is held nothing else can be granted, so this is exact.
        if (next->reservation.bytes() > 100 && budget.in_flight() != 1) ++not_alone;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (size_t i = 0; i < kInputs; ++i) EXPECT_EQ(taken[i], 1) << i;
  EXPECT_EQ(not_alone, 0);
  EXPECT_EQ(budget.in_use(), 0u);
}

}  // namespace
}  // namespace imgbatch::imaging
