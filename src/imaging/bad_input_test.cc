// Bad inputs, generated here: each gives a classified error (or, for a valid
// PNG behind a .jpg name, correct outputs) and never a crash.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "imaging/imaging.h"
#include "imaging/test_support.h"

namespace imgbatch::imaging {
namespace {

using testing::CorpusDir;
using testing::ReadFile;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitImaging().ok()); }

  static void ExpectError(const std::string& bytes, ImageError expected,
                          const Limits& limits = {}) {
    auto result = Process(bytes, DefaultOutputs(), limits);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(ErrorOf(result.status()), expected) << result.status().ToString();
    EXPECT_FALSE(result.status().message().empty());
  }
};

TEST_F(BadInputTest, ZeroBytes) {
  ExpectError("", ImageError::kNotAnImage);
  EXPECT_TRUE(IsPermanent(Process("", DefaultOutputs()).status()));
}

TEST_F(BadInputTest, RandomBytes) {
  std::mt19937 random(42);
  for (size_t size : {1u, 3u, 100u, 4096u, 100000u}) {
    std::string bytes(size, '\0');
    for (auto& c : bytes) c = static_cast<char>(random());
    bytes[0] = 'x';  // not a JPEG/PNG signature by chance
    ExpectError(bytes, ImageError::kNotAnImage);
  }
}

TEST_F(BadInputTest, JpegSignatureFollowedByGarbage) {
  std::mt19937 random(7);
  std::string bytes("\xFF\xD8\xFF", 3);
  for (int i = 0; i < 5000; ++i) bytes.push_back(static_cast<char>(random()));
  auto result = Process(bytes, DefaultOutputs());
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(IsPermanent(result.status())) << result.status().ToString();
}

TEST_F(BadInputTest, TruncatedJpegAtSeveralOffsets) {
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  for (const char* name :
       {"exif_Landscape_1.jpg", "im_book-beside-flowers.jpg"}) {  // baseline, progressive
    std::string jpeg = ReadFile(*dir / name);
    for (size_t cut : {size_t{2}, size_t{20}, size_t{600}, jpeg.size() / 3, jpeg.size() / 2,
                       jpeg.size() - 1000}) {
      auto result = Process(jpeg.substr(0, cut), DefaultOutputs());
      ASSERT_FALSE(result.ok()) << name << " cut at " << cut;
      EXPECT_EQ(ErrorOf(result.status()), ImageError::kCorrupt)
          << name << " cut at " << cut << ": " << result.status().ToString();
    }
  }
}

TEST_F(BadInputTest, JpegHeaderClaimingHugeDimensions) {
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  std::string jpeg =
      testing::WithJpegDimensions(ReadFile(*dir / "exif_Landscape_1.jpg"), 60000, 60000);
  ExpectError(jpeg, ImageError::kTooLarge);
  auto probe = Probe(jpeg);
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(ErrorOf(probe.status()), ImageError::kTooLarge);
}

TEST_F(BadInputTest, LimitsAreCheckedBeforeDecoding) {
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  std::string jpeg = ReadFile(*dir / "exif_Landscape_1.jpg");  // 1800x1200
  Limits pixels;
  pixels.max_pixels = 1800 * 1200 - 1;
  ExpectError(jpeg, ImageError::kTooLarge, pixels);
  Limits dimension;
  dimension.max_dimension = 1799;
  ExpectError(jpeg, ImageError::kTooLarge, dimension);
  Limits bytes;
  bytes.max_input_bytes = jpeg.size() - 1;
  ExpectError(jpeg, ImageError::kTooLarge, bytes);
  Limits exact;
  exact.max_pixels = 1800 * 1200;
  exact.max_dimension = 1800;
  exact.max_input_bytes = jpeg.size();
  EXPECT_TRUE(Process(jpeg, DefaultOutputs(), exact).ok());
}

TEST_F(BadInputTest, PngDecompressionBomb) {
  // 30000x30000 = 900 MP in about 100 KB: refused from the header.
  std::string bomb = testing::PngBomb(30000, 30000);
  EXPECT_LT(bomb.size(), 1u << 20);
  ExpectError(bomb, ImageError::kTooLarge);
  // A smaller one under a tighter limit, and a truncated one.
  std::string small = testing::PngBomb(4000, 4000);
  Limits limits;
  limits.max_pixels = 10'000'000;
  ExpectError(small, ImageError::kTooLarge, limits);
  auto truncated = Process(small.substr(0, small.size() / 2), DefaultOutputs());
  ASSERT_FALSE(truncated.ok());
  EXPECT_TRUE(IsPermanent(truncated.status())) << truncated.status().ToString();
}

TEST_F(BadInputTest, ValidPngIsDecidedByContent) {
  // A real PNG; the name it arrives under (.jpg) plays no part in Process().
  std::string png = testing::PngBomb(640, 480);
  auto result = Process(png, DefaultOutputs());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ((*result)[0].width, 640);
  EXPECT_EQ((*result)[0].height, 480);
  EXPECT_EQ((*result)[1].width, 192);
  EXPECT_EQ((*result)[1].height, 144);
}

TEST_F(BadInputTest, UnsupportedFormatsAreRefused) {
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>";
  auto result = Process(svg, DefaultOutputs());
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(IsPermanent(result.status())) << result.status().ToString();
  EXPECT_NE(ErrorOf(result.status()), ImageError::kInternal);
}

}  // namespace
}  // namespace imgbatch::imaging
