// The control loop against a real queue engine on a temporary database, a
// pinned clock and a worker pool whose launcher only records.
#include "server/control_loop.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "common/hashing.h"
#include "db/database.h"

namespace imgbatch::server {
namespace {

using namespace std::chrono_literals;

class RecordingLauncher : public autoscaler::ProcessLauncher {
 public:
  Result<pid_t> Launch(const std::vector<std::string>&, const std::vector<std::string>&) override {
    return next_pid_++;
  }
  void Signal(pid_t, int) override {}
  std::vector<std::pair<pid_t, int>> Reap() override { return {}; }
  std::string ReadStatus(const std::string&) override { return ""; }

 private:
  pid_t next_pid_ = 1000;
};

class ControlLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("control_loop_test_" + RandomHex(6));
    std::filesystem::create_directories(dir_);
    db::Options options;
    options.path = (dir_ / "test.db").string();
    db_ = std::move(db::Database::Open(options).value());
    queues_ = std::move(queue::QueueEngine::Open(*db_, clock_).value());
    ASSERT_TRUE(queues_->CreateQueue(config_.workers.queue, {}, {}).ok());
    pool_ = std::make_unique<autoscaler::WorkerPool>(
        launcher_, autoscaler::WorkerCommand{{"/bin/imgbatch", "worker"}, {}, dir_.string()},
        clock_, 25);
    loop_ = std::make_unique<ControlLoop>(config_, *queues_, pool_.get(), 8, clock_);
  }
  void TearDown() override {
    loop_.reset();
    pool_.reset();
    queues_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Send(int n) {
    for (int i = 0; i < n; ++i) {
      queue::SendRequest r;
      r.body = "m";
      ASSERT_TRUE(queues_->Send(config_.workers.queue, std::move(r)).ok());
    }
  }

  std::filesystem::path dir_;
  Config config_;  // target tracking: 5 messages per worker, no scale-out cooldown
  ManualClock clock_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<queue::QueueEngine> queues_;
  RecordingLauncher launcher_;
  std::unique_ptr<autoscaler::WorkerPool> pool_;
  std::unique_ptr<ControlLoop> loop_;
};

TEST_F(ControlLoopTest, ScalesOutWithTheBacklog) {
  Send(5);
  loop_->TickOnce();
  EXPECT_EQ(pool_->Snapshot().desired, 1);
  Send(10);
  clock_.Advance(1s);
  loop_->TickOnce();
  EXPECT_EQ(pool_->Snapshot().desired, 3);
}

// Cooldowns are durations: a wall clock stepped back an hour (an NTP step, a
// restored snapshot) must not hold the pool at its size for that hour while
// the backlog grows.
TEST_F(ControlLoopTest, ScalesOutWhenTheWallClockHasSteppedBack) {
  Send(5);
  loop_->TickOnce();
  ASSERT_EQ(pool_->Snapshot().desired, 1);
  clock_.StepWall(-1h);
  Send(10);
  clock_.Advance(1s);
  loop_->TickOnce();
  EXPECT_EQ(pool_->Snapshot().desired, 3);
  // The decision is shown at the wall clock's time.
  const std::vector<ScalingEvent> decisions = loop_->Decisions();
  ASSERT_EQ(decisions.size(), 2u);
  EXPECT_EQ(decisions.back().time_ms, clock_.NowMillis());
}

}  // namespace
}  // namespace imgbatch::server
