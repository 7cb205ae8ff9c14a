#include "imaging/batch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "imaging/memory_budget.h"
#include "imaging/test_support.h"

namespace imgbatch::imaging {
namespace {

namespace fs = std::filesystem;

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitImaging().ok());
    root_ = fs::temp_directory_path() / ("imaging_batch_test_" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "in" / "sub");
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  // Options for a batch over root_/in writing root_/<out>, without a progress bar.
  BatchOptions OptionsInto(const char* out) const {
    BatchOptions options;
    options.inputs = {(root_ / "in").string()};
    options.out_dir = root_ / out;
    options.progress = ProgressStyle::kNone;
    return options;
  }

  // A JPEG of width x height (progressive when asked) from a generated PNG.
  static std::string Jpeg(int width, int height, bool progressive) {
    void* buffer = nullptr;
    size_t length = 0;
    testing::Decode(testing::PngBomb(width, height))
        .write_to_buffer(progressive ? ".jpg[interlace]" : ".jpg", &buffer, &length);
    std::string bytes(static_cast<char*>(buffer), length);
    g_free(buffer);
    return bytes;
  }

  static std::map<std::string, std::string> ReadTree(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file())
        files[entry.path().lexically_relative(dir).string()] = testing::ReadFile(entry.path());
    }
    return files;
  }

  fs::path root_;
};

TEST_F(BatchTest, WritesOutputsKeepsGoingAndReportsFailures) {
  Write(root_ / "in" / "sub" / "photo.png", testing::PngBomb(800, 600));
  Write(root_ / "in" / "png_named.jpg", testing::PngBomb(300, 200));
  Write(root_ / "in" / "broken.jpg", "definitely not an image");
  Write(root_ / "in" / "README.md", "skipped: not an image extension");

  BatchOptions options = OptionsInto("out");
  options.threads = 2;
  auto summary = RunBatch(options);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();

  EXPECT_EQ(summary->images, 3u);
  EXPECT_EQ(summary->succeeded, 2u);
  ASSERT_EQ(summary->failures.size(), 1u);
  EXPECT_NE(summary->failures[0].path.find("broken.jpg"), std::string::npos);
  EXPECT_EQ(ErrorOf(summary->failures[0].status), ImageError::kNotAnImage);
  EXPECT_GT(summary->bytes_out, 0u);

  // The extension changes only where the format does.
  for (const char* prefix : {"resized", "thumbs"}) {
    EXPECT_TRUE(fs::exists(root_ / "out" / prefix / "sub" / "photo.jpg")) << prefix;
    EXPECT_TRUE(fs::exists(root_ / "out" / prefix / "png_named.jpg")) << prefix;
    EXPECT_FALSE(fs::exists(root_ / "out" / prefix / "broken.jpg")) << prefix;
  }
  auto thumb = testing::Decode(testing::ReadFile(root_ / "out" / "thumbs" / "sub" / "photo.jpg"));
  EXPECT_EQ(thumb.width(), 192);
  EXPECT_EQ(thumb.height(), 144);

  std::string text = FormatSummary(*summary);
  EXPECT_NE(text.find("3 images, 1 failed"), std::string::npos) << text;
  EXPECT_NE(text.find("NotAnImage"), std::string::npos) << text;
}

// A budget smaller than any image: the two threads take turns (each image
// runs alone) and every output is still written.
TEST_F(BatchTest, TwoThreadsUnderATinyMemoryBudgetWriteEveryOutput) {
  const uint64_t saved = MemoryBudgetBytes();
  SetMemoryBudget(1);
  // PNGs (the generic path) and baseline and progressive JPEGs.
  for (int i = 0; i < 6; ++i) {
    std::string name = "p" + std::to_string(i);
    if (i % 3 == 0) {
      Write(root_ / "in" / (name + ".png"), testing::PngBomb(1200 + i, 900));
      continue;
    }
    Write(root_ / "in" / (name + ".jpg"), Jpeg(1200 + i, 900, /*progressive=*/i % 3 == 2));
  }
  Write(root_ / "in" / "sub" / "broken.jpg", "not an image");
  BatchOptions options = OptionsInto("out");
  options.threads = 2;
  auto summary = RunBatch(options);
  SetMemoryBudget(saved);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->threads, 2);
  EXPECT_EQ(summary->succeeded, 6u);
  EXPECT_EQ(summary->failures.size(), 1u);
  for (int i = 0; i < 6; ++i) {
    for (const char* prefix : {"resized", "thumbs"}) {
      EXPECT_TRUE(fs::exists(root_ / "out" / prefix / ("p" + std::to_string(i) + ".jpg")))
          << prefix << " " << i;
    }
  }
}

// The first image does not fit the memory left (another user holds most of
// the budget), so the thread takes the small ones behind it first, then
// waits for the big one alone; the outputs are the same bytes as in order.
TEST_F(BatchTest, ImagesThatFitGoAheadOfOneThatWaitsWithTheSameOutputs) {
  const std::string big = Jpeg(2400, 1800, /*progressive=*/true);
  const std::string small = Jpeg(300, 200, /*progressive=*/false);
  Write(root_ / "in" / "a_big.jpg", big);
  for (int i = 0; i < 3; ++i) Write(root_ / "in" / ("b_small" + std::to_string(i) + ".jpg"), small);
  auto big_bytes = EstimateWorkingBytes(big, big.size(), DefaultOutputs());
  auto small_bytes = EstimateWorkingBytes(small, small.size(), DefaultOutputs());
  ASSERT_TRUE(big_bytes.ok() && small_bytes.ok());
  ASSERT_GT(*big_bytes, *small_bytes);

  BatchOptions options = OptionsInto("in_order");
  options.threads = 1;
  options.lookahead = 1;
  auto in_order = RunBatch(options);
  ASSERT_TRUE(in_order.ok()) << in_order.status().ToString();
  EXPECT_EQ(in_order->taken_ahead, 0u);

  const uint64_t saved = MemoryBudgetBytes();
  const uint64_t capacity = *big_bytes + *small_bytes - 1;
  SetMemoryBudget(capacity);
  MemoryReservation elsewhere = ProcessMemoryBudget().Reserve(capacity - *small_bytes);
  options.out_dir = root_ / "ahead";
  options.lookahead = 8;
  auto ahead = std::async(std::launch::async, [&] { return RunBatch(options); });
  while (ProcessMemoryBudget().waiting() < 1) std::this_thread::yield();  // smalls done
  elsewhere.Release();
  auto summary = ahead.get();
  SetMemoryBudget(saved);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->succeeded, 4u);
  EXPECT_EQ(summary->taken_ahead, 3u);
  EXPECT_EQ(summary->memory_waits, 1u);
  EXPECT_NE(FormatSummary(*summary).find("3 images taken ahead"), std::string::npos);
  EXPECT_EQ(ReadTree(root_ / "ahead"), ReadTree(root_ / "in_order"));
}

TEST_F(BatchTest, SymlinkedFilesStayInsideTheOutputDirectory) {
  fs::create_directories(root_ / "elsewhere");
  Write(root_ / "elsewhere" / "real.png", testing::PngBomb(40, 30));
  fs::create_symlink(root_ / "elsewhere" / "real.png", root_ / "in" / "sub" / "link.png");
  BatchOptions options = OptionsInto("out");
  auto summary = RunBatch(options);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->succeeded, 1u);
  EXPECT_TRUE(fs::exists(root_ / "out" / "resized" / "sub" / "link.jpg"));
  EXPECT_FALSE(fs::exists(root_ / "elsewhere" / "real.jpg"));
}

TEST_F(BatchTest, AFileArgumentKeepsItsName) {
  Write(root_ / "in" / "sub" / "one.png", testing::PngBomb(50, 40));
  auto inputs = FindInputs({(root_ / "in" / "sub" / "one.png").string()});
  ASSERT_TRUE(inputs.ok());
  ASSERT_EQ(inputs->size(), 1u);
  EXPECT_EQ((*inputs)[0].relative, "one.png");
  EXPECT_FALSE(FindInputs({(root_ / "missing").string()}).ok());
}

TEST_F(BatchTest, NothingToDoIsAnError) {
  BatchOptions options = OptionsInto("out");
  EXPECT_FALSE(RunBatch(options).ok());
}

TEST(CoresTest, AtLeastOne) { EXPECT_GE(CoresInAffinity(), 1); }

}  // namespace
}  // namespace imgbatch::imaging
