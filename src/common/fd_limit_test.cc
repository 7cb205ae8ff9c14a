#include "common/fd_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace imgbatch {
namespace {

class OpenFileLimitTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved_), 0); }
  void TearDown() override { setrlimit(RLIMIT_NOFILE, &saved_); }
  static rlim_t Soft() {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur;
  }
  void SetSoft(rlim_t soft) {
    rlimit limit = saved_;
    limit.rlim_cur = soft;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  rlimit saved_{};
};

TEST_F(OpenFileLimitTest, RaisesTheSoftLimitUpToTheHardOne) {
  if (saved_.rlim_max != RLIM_INFINITY && saved_.rlim_max < 512) {
    GTEST_SKIP() << "this machine's hard open-file limit is below 512";
  }
  SetSoft(256);
  EXPECT_EQ(RaiseOpenFileLimit(512), 512u);
  EXPECT_EQ(Soft(), 512u);
  if (saved_.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(RaiseOpenFileLimit(saved_.rlim_max + 1000), saved_.rlim_max);
    EXPECT_EQ(Soft(), saved_.rlim_max);
  }
}

TEST_F(OpenFileLimitTest, NeverLowersIt) {
  SetSoft(300);
  EXPECT_EQ(RaiseOpenFileLimit(100), 300u);
  EXPECT_EQ(Soft(), 300u);
}

}  // namespace
}  // namespace imgbatch
