#include "common/status.h"

#include <gtest/gtest.h>

namespace imgbatch {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  IMGBATCH_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(Status, ResultPropagates) {
  EXPECT_EQ(Quarter(8).value(), 2);
  EXPECT_EQ(Quarter(6).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Status(Code::kNotFound, "x").WithDetail("NoSuchKey").ToString(),
            "NotFound(NoSuchKey): x");
}

}  // namespace
}  // namespace imgbatch
