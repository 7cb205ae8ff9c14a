#include "server/allocator.h"

#include <gtest/gtest.h>

namespace imgbatch::server {
namespace {

constexpr char kLib[] = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

TEST(ServerAllocatorTest, PreloadsJemallocAheadOfWhatIsThere) {
  EXPECT_EQ(PreloadWithJemalloc(nullptr, kLib), kLib);
  EXPECT_EQ(PreloadWithJemalloc("", kLib), kLib);
  EXPECT_EQ(PreloadWithJemalloc("/opt/trace.so", kLib), std::string(kLib) + ":/opt/trace.so");
}

TEST(ServerAllocatorTest, NothingToDoWithoutJemallocOrWhenAlreadyPreloaded) {
  EXPECT_EQ(PreloadWithJemalloc(nullptr, ""), std::nullopt);
  EXPECT_EQ(PreloadWithJemalloc("/opt/trace.so", ""), std::nullopt);
  // A re-executed server sees its own preload and does not loop; a user's own
  // jemalloc (any path) stands.
  EXPECT_EQ(PreloadWithJemalloc(kLib, kLib), std::nullopt);
  EXPECT_EQ(PreloadWithJemalloc("/usr/local/lib/libjemalloc.so", kLib), std::nullopt);
}

TEST(ServerAllocatorTest, InstalledJemallocIsAReadableFileOrNothing) {
  const std::string path = InstalledJemalloc();
  if (path.empty()) GTEST_SKIP() << "built without jemalloc (libjemalloc2 not installed)";
  EXPECT_NE(path.find("jemalloc"), std::string::npos) << path;
}

}  // namespace
}  // namespace imgbatch::server
