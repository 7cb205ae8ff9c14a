// Bad inputs, generated here: each gives a classified error (or, for a valid
// PNG behind a .jpg name, correct outputs) and never a crash.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

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

// Bounded memory is measured in a fresh process (this test binary run again
// with IMGBATCH_MEMORY_CASE set; a fork would inherit libvips' thread pool
// without its threads and hang): the child runs a small valid image first so
// that code and libraries are resident, then reports how much its peak RSS
// grew while it ran the case. A fresh process keeps the parent's history
// (earlier, larger images) from hiding the growth.
struct MemoryCase {
  std::string name;
  std::string bytes;
  double max_growth_mib;  // the bound; a negative value means "at least -value" (the control)
};

// Bad inputs are refused from the header or fail early: none may cost more
// than a few MiB whatever size it claims (a 60000x60000 JPEG would be 10 GB of
// pixels, the PNG bomb 900 MB). The exception is a truncated progressive
// JPEG: its coefficient buffers (2 bytes per sample of the size in its
// header: 35 MiB for this 3024x4032 4:2:0 photo) are allocated before the
// missing scans are noticed. The header's size is already checked against
// Limits, so that too is bounded. The last case is the control: the same
// progressive photo, whole, must show that growth.
std::vector<MemoryCase> MemoryCases(const std::filesystem::path& dir) {
  constexpr double kSmall = 16;
  constexpr double kProgressiveCoefficients = 35 + 4;
  std::string baseline = ReadFile(dir / "exif_Landscape_1.jpg");
  std::string progressive = ReadFile(dir / "im_book-beside-flowers.jpg");
  std::mt19937 random(3);
  std::string noise(1 << 20, '\0');
  for (auto& c : noise) c = static_cast<char>(random());
  noise[0] = 'x';
  return {
      {"zero bytes", "", kSmall},
      {"1 MiB of random bytes", noise, kSmall},
      {"JPEG header claiming 60000x60000", testing::WithJpegDimensions(baseline, 60000, 60000),
       kSmall},
      {"progressive JPEG header claiming 60000x60000",
       testing::WithJpegDimensions(progressive, 60000, 60000), kSmall},
      {"PNG bomb 30000x30000", testing::PngBomb(30000, 30000), kSmall},
      {"truncated baseline JPEG", baseline.substr(0, baseline.size() / 2), kSmall},
      {"truncated progressive JPEG", progressive.substr(0, progressive.size() / 2),
       kProgressiveCoefficients},
      {"control: the whole progressive JPEG", progressive, -30},
  };
}

// nullopt when the child failed. Can be slightly negative: ru_maxrss is
// updated lazily, the baseline is current.
std::optional<double> PeakRssGrowthMiB(size_t index) {
  char self[4096] = {};
  ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return std::nullopt;
  std::string command = "IMGBATCH_MEMORY_CASE=" + std::to_string(index) + " '" +
                        std::string(self, static_cast<size_t>(length)) +
                        "' --gtest_filter=BadInputTest.MemoryChild 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::optional<double> growth;
  char line[512];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) {
    double value = 0;
    if (std::sscanf(line, "growth_mib=%lf", &value) == 1) growth = value;
  }
  return pclose(pipe) == 0 ? growth : std::nullopt;
}

TEST_F(BadInputTest, MemoryStaysBounded) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "under ASan, RSS counts shadow memory and the free quarantine; "
                  "the release build runs this test";
#endif
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  auto cases = MemoryCases(*dir);
  for (size_t i = 0; i < cases.size(); ++i) {
    auto growth = PeakRssGrowthMiB(i);
    const MemoryCase& c = cases[i];
    ASSERT_TRUE(growth) << c.name << ": the child failed";
    std::printf("%s: peak RSS +%.1f MiB\n", c.name.c_str(), *growth);
    if (c.max_growth_mib < 0) {
      EXPECT_GT(*growth, -c.max_growth_mib) << c.name;
    } else {
      EXPECT_LT(*growth, c.max_growth_mib) << c.name;
    }
  }
}

TEST_F(BadInputTest, MemoryChild) {
  const char* which = std::getenv("IMGBATCH_MEMORY_CASE");
  if (which == nullptr) GTEST_SKIP() << "only runs as the child of MemoryStaysBounded";
  auto dir = CorpusDir();
  ASSERT_TRUE(dir);
  auto cases = MemoryCases(*dir);
  size_t index = std::stoul(which);
  ASSERT_LT(index, cases.size());
  const bool control = cases[index].max_growth_mib < 0;
  ASSERT_TRUE(Process(testing::PngBomb(64, 48), DefaultOutputs()).ok());
  long pages = 0;
  long resident = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  ASSERT_NE(statm, nullptr);
  ASSERT_EQ(std::fscanf(statm, "%ld %ld", &pages, &resident), 2);
  std::fclose(statm);
  const double before_kib = static_cast<double>(resident) * (sysconf(_SC_PAGESIZE) / 1024.0);
  auto result = Process(cases[index].bytes, DefaultOutputs());
  EXPECT_EQ(result.ok(), control) << cases[index].name;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("growth_mib=%.2f\n", (static_cast<double>(usage.ru_maxrss) - before_kib) / 1024.0);
}

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
