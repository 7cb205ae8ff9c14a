#include "worker/health.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <filesystem>

namespace imgbatch::worker {
namespace {

TEST(HealthTest, FreshStaleAndMissing) {
  auto path =
      (std::filesystem::temp_directory_path() / ("imgbatch-health-" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove(path);
  EXPECT_EQ(CheckHealthFile(path, std::chrono::seconds(60)).code(), Code::kNotFound);

  ASSERT_TRUE(TouchHealthFile(path).ok());
  EXPECT_TRUE(CheckHealthFile(path, std::chrono::seconds(60)).ok());

  // Backdate the file by 10 minutes instead of waiting.
  struct utimbuf old_times {};
  old_times.actime = old_times.modtime = ::time(nullptr) - 600;
  ASSERT_EQ(::utime(path.c_str(), &old_times), 0);
  Status stale = CheckHealthFile(path, std::chrono::seconds(60));
  EXPECT_EQ(stale.code(), Code::kUnavailable);
  EXPECT_NE(stale.message().find("stale"), std::string::npos);

  ASSERT_TRUE(TouchHealthFile(path).ok());
  EXPECT_TRUE(CheckHealthFile(path, std::chrono::seconds(60)).ok());
  std::filesystem::remove(path);
}

TEST(HealthTest, UnwritableLocationIsAnError) {
  EXPECT_FALSE(TouchHealthFile("/nonexistent-dir/imgbatch/health").ok());
}

}  // namespace
}  // namespace imgbatch::worker
