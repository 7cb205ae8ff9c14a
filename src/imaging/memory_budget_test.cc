#include "imaging/memory_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace imgbatch::imaging {
namespace {

// Returns once `n` Reserve() calls are blocked (no sleeps, no timing).
void AwaitWaiting(const MemoryBudget& budget, size_t n) {
  while (budget.waiting() < n) std::this_thread::yield();
}

// Reserves on its own thread; `granted` tells whether Reserve() returned.
struct Requester {
  Requester(MemoryBudget& budget, uint64_t bytes)
      : thread([this, &budget, bytes] {
          reservation = budget.Reserve(bytes);
          granted = true;
        }) {}
  ~Requester() {
    if (thread.joinable()) thread.join();
  }
  void Join() { thread.join(); }
  MemoryReservation reservation;
  std::atomic<bool> granted{false};
  std::thread thread;
};

TEST(MemoryBudgetTest, FittingReservationsAreGrantedAndReleasedOnDestruction) {
  MemoryBudget budget(100);
  {
    MemoryReservation a = budget.Reserve(60);
    MemoryReservation b = budget.Reserve(40);
    EXPECT_EQ(budget.in_use(), 100u);
    EXPECT_EQ(budget.in_flight(), 2u);
    MemoryReservation moved = std::move(a);
    EXPECT_FALSE(a.held());
    EXPECT_EQ(moved.bytes(), 60u);
    EXPECT_EQ(budget.in_use(), 100u);
  }
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.in_flight(), 0u);
}

TEST(MemoryBudgetTest, WaitsUntilAnotherReleases) {
  MemoryBudget budget(100);
  MemoryReservation first = budget.Reserve(60);
  Requester second(budget, 60);
  AwaitWaiting(budget, 1);
  EXPECT_FALSE(second.granted);
  EXPECT_EQ(budget.in_use(), 60u);
  first.Release();
  second.Join();
  EXPECT_TRUE(second.granted);
  EXPECT_EQ(budget.in_use(), 60u);
}

TEST(MemoryBudgetTest, ShrinkingLetsAWaiterIn) {
  MemoryBudget budget(100);
  MemoryReservation decoding = budget.Reserve(90);  // e.g. coefficient buffers
  Requester other(budget, 50);
  AwaitWaiting(budget, 1);
  decoding.ShrinkTo(40);
  other.Join();
  EXPECT_TRUE(other.granted);
  EXPECT_EQ(budget.in_use(), 90u);
  decoding.ShrinkTo(70);  // growing is not shrinking: no-op
  EXPECT_EQ(decoding.bytes(), 40u);
}

TEST(MemoryBudgetTest, OversizeRunsAloneAndNeverDeadlocks) {
  MemoryBudget budget(100);
  { MemoryReservation alone = budget.Reserve(1000); }  // nothing in flight: granted at once

  MemoryReservation small = budget.Reserve(10);
  Requester big(budget, 1000);
  AwaitWaiting(budget, 1);
  EXPECT_FALSE(big.granted);
  small.Release();
  big.Join();
  EXPECT_TRUE(big.granted);
  EXPECT_EQ(budget.in_flight(), 1u);
}

TEST(MemoryBudgetTest, ABigRequestIsNotStarvedBySmallOnes) {
  MemoryBudget budget(100);
  MemoryReservation held = budget.Reserve(60);
  Requester big(budget, 200);
  AwaitWaiting(budget, 1);
  Requester small(budget, 10);  // would fit now, but arrived after `big`
  AwaitWaiting(budget, 2);
  EXPECT_FALSE(small.granted);
  held.Release();
  big.Join();  // alone now
  EXPECT_FALSE(small.granted);
  big.reservation.Release();
  small.Join();
  EXPECT_TRUE(small.granted);
}

TEST(MemoryBudgetTest, ZeroCapacityIsUnlimitedAndCapacityCanGrow) {
  MemoryBudget unlimited(0);
  MemoryReservation a = unlimited.Reserve(1ull << 40);
  MemoryReservation b = unlimited.Reserve(1ull << 40);
  EXPECT_EQ(unlimited.in_flight(), 2u);

  MemoryBudget budget(100);
  MemoryReservation first = budget.Reserve(80);
  Requester second(budget, 80);
  AwaitWaiting(budget, 1);
  budget.SetCapacity(200);
  second.Join();
  EXPECT_TRUE(second.granted);
}

TEST(MemoryBudgetTest, TryReserveGrantsOnlyWhatFitsNow) {
  MemoryBudget budget(100);
  auto first = budget.TryReserve(60);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->bytes(), 60u);
  EXPECT_FALSE(budget.TryReserve(50));  // 110 > 100
  auto second = budget.TryReserve(40);
  ASSERT_TRUE(second);
  EXPECT_EQ(budget.in_use(), 100u);
  EXPECT_EQ(budget.in_flight(), 2u);
  first->Release();
  second->Release();
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.waiting(), 0u);
  // Nothing in flight: even an oversize request runs (alone).
  auto alone = budget.TryReserve(1000);
  ASSERT_TRUE(alone);
  EXPECT_FALSE(budget.TryReserve(1));
}

TEST(MemoryBudgetTest, TryReserveNeverOvertakesAWaiter) {
  MemoryBudget budget(100);
  MemoryReservation held = budget.Reserve(60);
  Requester big(budget, 80);
  AwaitWaiting(budget, 1);
  EXPECT_FALSE(budget.TryReserve(10));  // would fit, but `big` waits first
  held.Release();
  big.Join();
  EXPECT_TRUE(big.granted);
  auto after = budget.TryReserve(10);  // the queue is empty again
  ASSERT_TRUE(after);
  EXPECT_EQ(budget.in_use(), 90u);
}

TEST(MemoryBudgetTest, CountsTheReserveCallsThatWaited) {
  MemoryBudget budget(100);
  MemoryReservation held = budget.Reserve(60);
  EXPECT_EQ(budget.wait_stats().waits, 0u);
  Requester second(budget, 60);
  AwaitWaiting(budget, 1);
  held.Release();
  second.Join();
  EXPECT_EQ(budget.wait_stats().waits, 1u);
  EXPECT_GE(budget.wait_stats().seconds, 0.0);
}

// N threads with random sizes, some over the whole budget: every request is
// served, and the budget is exceeded only by a reservation alone in flight.
TEST(MemoryBudgetTest, ManyThreadsAllFinishWithinTheBudget) {
  constexpr uint64_t kCapacity = 100;
  MemoryBudget budget(kCapacity);
  std::atomic<int> violations{0};
  std::atomic<int> served{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      std::uniform_int_distribution<uint64_t> size(0, 150);
      for (int i = 0; i < 300; ++i) {
        MemoryReservation r = budget.Reserve(size(random));
        if (budget.in_use() > kCapacity && budget.in_flight() > 1) ++violations;
        if (i % 3 == 0) r.ShrinkTo(r.bytes() / 2);
        ++served;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(served, 8 * 300);
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.waiting(), 0u);
}

}  // namespace
}  // namespace imgbatch::imaging
