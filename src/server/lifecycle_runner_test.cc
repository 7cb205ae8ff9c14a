// The lifecycle runner against a real object store on a temporary database
// and a pinned clock: a pass applies the rules as of the clock's time, and the
// thread runs one as soon as it starts.
#include "server/lifecycle_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/hashing.h"
#include "db/database.h"
#include "store/lifecycle.h"
#include "store/store_test_util.h"

namespace imgbatch::server {
namespace {

using namespace std::chrono_literals;

class LifecycleRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("lifecycle_runner_test_" + RandomHex(6));
    std::filesystem::create_directories(dir_);
    db::Options options;
    options.path = (dir_ / "test.db").string();
    db_ = std::move(db::Database::Open(options).value());
    store::StoreOptions store_options;
    store_options.data_dir = dir_.string();
    store_options.free_space_reserve = 0;
    store_ = std::move(store::ObjectStore::Open(*db_, store_options, clock_).value());
    ASSERT_TRUE(store_->CreateBucket("input", "").ok());
    store::LifecycleRule rule;
    rule.id = "week";
    rule.expiration_days = 7;
    ASSERT_TRUE(store_->PutBucketLifecycle("input", {{rule}}).ok());
    store::testing::StringSource body("image bytes");
    ASSERT_TRUE(store_->PutObject("input", "a.jpg", body, {}, {}).ok());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  size_t Objects() { return store_->ListObjects("input", {})->objects.size(); }

  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<store::ObjectStore> store_;
};

TEST_F(LifecycleRunnerTest, APassActsAsOfTheClock) {
  LifecycleRunner runner(*store_, 1h, clock_);
  Result<store::LifecycleReport> early = runner.RunOnce();
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->expired, 0u);
  EXPECT_EQ(Objects(), 1u);
  clock_.Advance(std::chrono::milliseconds(8 * store::kDayMs));
  Result<store::LifecycleReport> due = runner.RunOnce();
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->expired, 1u);
  EXPECT_EQ(Objects(), 0u);
}

TEST_F(LifecycleRunnerTest, TheThreadRunsAPassWhenItStartsAndStopsPromptly) {
  clock_.Advance(std::chrono::milliseconds(8 * store::kDayMs));
  LifecycleRunner runner(*store_, 1h, clock_);
  runner.Start();
  for (int i = 0; i < 500 && Objects() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(Objects(), 0u);
  runner.Stop();  // does not wait out the hour
}

}  // namespace
}  // namespace imgbatch::server
