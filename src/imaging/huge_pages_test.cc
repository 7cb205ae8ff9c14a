#include "imaging/huge_pages.h"

#include <gtest/gtest.h>

namespace imgbatch::imaging {
namespace {

TEST(HugePagesTest, AddsTheTunableUnlessItIsAlreadyChosen) {
  EXPECT_EQ(TunablesWithHugePages(nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithHugePages(""), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(TunablesWithHugePages("glibc.malloc.arena_max=1"),
            "glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1");
  // The user's own choice stands, whatever it is (and nothing loops).
  EXPECT_EQ(TunablesWithHugePages("glibc.malloc.hugetlb=0"), std::nullopt);
  EXPECT_EQ(TunablesWithHugePages("a=1:glibc.malloc.hugetlb=1"), std::nullopt);
}

}  // namespace
}  // namespace imgbatch::imaging
