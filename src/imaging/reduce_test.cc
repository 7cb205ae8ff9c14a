#include "imaging/reduce.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>
#include <vips/vips8>

#include "imaging/imaging.h"

namespace imgbatch::imaging {
namespace {

using vips::VImage;

TEST(ReduceWidthTest, FlatStaysFlat) {
  for (int bands : {1, 3, 4}) {
    std::vector<uint8_t> in(static_cast<size_t>(300 * 4 * bands), 77);
    std::vector<uint8_t> out(static_cast<size_t>(97 * 4 * bands), 0);
    ReduceWidthLanczos3(in.data(), static_cast<size_t>(300 * bands), 300, 4, bands, out.data(), 97,
                        300.0 / 97);
    for (uint8_t v : out) ASSERT_EQ(v, 77);
  }
}

TEST(ReduceWidthTest, SameWidthIsIdentity) {
  std::vector<uint8_t> in(64 * 3);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> out(in.size());
  ReduceWidthLanczos3(in.data(), in.size(), 64, 1, 3, out.data(), 64, 1.0);
  EXPECT_EQ(in, out);
}

// The dispatched pass (AVX2 where the CPU has it) equals the portable scalar
// one byte for byte, edges, odd sizes and tiny images included.
TEST(ReduceWidthTest, VectorPassMatchesScalar) {
  std::mt19937 random(7);
  for (int bands : {1, 2, 3, 4}) {
    for (auto [in_width, out_width] : {std::pair{1500, 1024},
                                       {2500, 1024},
                                       {1024, 192},
                                       {4001, 333},
                                       {7, 2},
                                       {3, 1},
                                       {64, 64},
                                       {65, 64}}) {
      const int height = 3;
      const size_t stride = static_cast<size_t>(in_width * bands + 5);  // padded rows
      std::vector<uint8_t> in(stride * height);
      for (auto& v : in) v = static_cast<uint8_t>(random());
      const size_t out_size = static_cast<size_t>(out_width * height * bands);
      std::vector<uint8_t> vector(out_size), scalar(out_size);
      const double scale = static_cast<double>(in_width) / out_width;
      ReduceWidthLanczos3(in.data(), stride, in_width, height, bands, vector.data(), out_width,
                          scale);
      ReduceWidthLanczos3Scalar(in.data(), stride, in_width, height, bands, scalar.data(),
                                out_width, scale);
      ASSERT_EQ(vector, scalar) << bands << " bands, " << in_width << " -> " << out_width;
    }
  }
}

TEST(ReduceHeightTest, VectorPassMatchesScalar) {
  std::mt19937 random(11);
  for (auto [row_bytes, in_height, out_height] : {std::tuple{size_t{7500}, 1875, 768},
                                                  {size_t{3072}, 768, 128},
                                                  {size_t{35}, 9, 4},
                                                  {size_t{16}, 3, 1},
                                                  {size_t{5}, 64, 64},
                                                  {size_t{48}, 65, 64}}) {
    const size_t stride = row_bytes + 3;
    std::vector<uint8_t> in(stride * static_cast<size_t>(in_height));
    for (auto& v : in) v = static_cast<uint8_t>(random());
    std::vector<uint8_t> vector(row_bytes * static_cast<size_t>(out_height));
    std::vector<uint8_t> scalar(vector.size());
    const double scale = static_cast<double>(in_height) / out_height;
    ReduceHeightLanczos3(in.data(), stride, row_bytes, in_height, vector.data(), row_bytes,
                         out_height, scale);
    ReduceHeightLanczos3Scalar(in.data(), stride, row_bytes, in_height, scalar.data(), row_bytes,
                               out_height, scale);
    ASSERT_EQ(vector, scalar) << row_bytes << " bytes, " << in_height << " -> " << out_height;
  }
}

// Agrees with libvips' own Lanczos3 reducev to within rounding.
TEST(ReduceHeightTest, MatchesLibvipsReducev) {
  ASSERT_TRUE(InitImaging().ok());
  const int width = 40, height = 1500, bands = 3;
  std::vector<uint8_t> in(static_cast<size_t>(width * height * bands));
  std::mt19937 random(2);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width * bands; ++x) {
      int v = (y * (x % 3 + 1)) % 200 + static_cast<int>(random() % 40) + (y > 700 ? 15 : 0);
      in[static_cast<size_t>(y * width * bands + x)] = static_cast<uint8_t>(v);
    }
  }
  const size_t row_bytes = static_cast<size_t>(width * bands);
  for (int out_height : {768, 700, 128, 1499}) {
    std::vector<uint8_t> ours(row_bytes * static_cast<size_t>(out_height));
    ReduceHeightLanczos3(in.data(), row_bytes, row_bytes, height, ours.data(), row_bytes,
                         out_height, static_cast<double>(height) / out_height);
    VImage theirs =
        VImage::new_from_memory(in.data(), in.size(), width, height, bands, VIPS_FORMAT_UCHAR)
            .reducev(static_cast<double>(height) / out_height,
                     VImage::option()->set("kernel", VIPS_KERNEL_LANCZOS3))
            .copy_memory();
    ASSERT_EQ(theirs.height(), out_height);
    VImage mine = VImage::new_from_memory(ours.data(), ours.size(), width, out_height, bands,
                                          VIPS_FORMAT_UCHAR);
    double mean_diff = (mine.cast(VIPS_FORMAT_FLOAT) - theirs.cast(VIPS_FORMAT_FLOAT)).abs().avg();
    EXPECT_LT(mean_diff, 1.0) << out_height;
  }
}

// Rows handed over a few at a time (a decoder's output) give the same bytes
// as one call over the whole image.
TEST(ReduceWidthTest, WidthReducerInChunksMatchesOneCall) {
  std::mt19937 random(11);
  const int in_width = 2560, out_width = 1024, height = 37;
  for (int bands : {1, 3, 4}) {
    const size_t in_stride = static_cast<size_t>(in_width * bands);
    const size_t out_stride = static_cast<size_t>(out_width * bands);
    std::vector<uint8_t> in(in_stride * height);
    for (auto& v : in) v = static_cast<uint8_t>(random());
    std::vector<uint8_t> whole(out_stride * height), chunked(out_stride * height);
    const double scale = 2559.5 / out_width;  // a partial last column, as after DCT scaling
    ReduceWidthLanczos3(in.data(), in_stride, in_width, height, bands, whole.data(), out_width,
                        scale);
    WidthReducer reducer(in_width, bands, out_width, scale);
    for (int y = 0; y < height; y += 8) {
      reducer.Reduce(in.data() + y * in_stride, in_stride, std::min(8, height - y),
                     chunked.data() + y * out_stride);
    }
    EXPECT_EQ(whole, chunked) << bands;
  }
}

// Agrees with libvips' own Lanczos3 reduceh to within rounding.
TEST(ReduceWidthTest, MatchesLibvipsReduceh) {
  ASSERT_TRUE(InitImaging().ok());
  const int width = 1500, height = 40, bands = 3;
  std::vector<uint8_t> in(static_cast<size_t>(width * height * bands));
  std::mt19937 random(1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int b = 0; b < bands; ++b) {
        // Smooth content plus noise plus a hard edge: like a photo.
        int v = (x * (b + 1)) % 200 + static_cast<int>(random() % 40) + (x > 700 ? 15 : 0);
        in[static_cast<size_t>((y * width + x) * bands + b)] = static_cast<uint8_t>(v);
      }
    }
  }
  for (int out_width : {1024, 700, 192, 1499}) {
    std::vector<uint8_t> ours(static_cast<size_t>(out_width * height * bands));
    ReduceWidthLanczos3(in.data(), static_cast<size_t>(width * bands), width, height, bands,
                        ours.data(), out_width, static_cast<double>(width) / out_width);
    VImage theirs =
        VImage::new_from_memory(in.data(), in.size(), width, height, bands, VIPS_FORMAT_UCHAR)
            .reduceh(static_cast<double>(width) / out_width,
                     VImage::option()->set("kernel", VIPS_KERNEL_LANCZOS3))
            .copy_memory();
    ASSERT_EQ(theirs.width(), out_width);
    VImage mine = VImage::new_from_memory(ours.data(), ours.size(), out_width, height, bands,
                                          VIPS_FORMAT_UCHAR);
    double mean_diff = (mine.cast(VIPS_FORMAT_FLOAT) - theirs.cast(VIPS_FORMAT_FLOAT)).abs().avg();
    EXPECT_LT(mean_diff, 1.0) << out_width;
  }
}

}  // namespace
}  // namespace imgbatch::imaging
