// The image job on a handful of corpus photos (the full corpus is for bench/).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "imaging/imaging.h"
#include "imaging/jpeg_decoder.h"
#include "imaging/memory_budget.h"
#include "imaging/reduce.h"
#include "imaging/test_support.h"
#include "imaging/vips_modules.h"

namespace imgbatch::imaging {
namespace {

using testing::BlobBytes;
using testing::CorpusDir;
using testing::Decode;
using testing::MeanAbsDiff;
using testing::ReadFile;
using vips::VImage;

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitImaging().ok());
    auto dir = CorpusDir();
    if (!dir) GTEST_SKIP() << "corpus not found: set IMGBATCH_CORPUS or IMGBATCH_SOURCE_DIR";
    corpus_ = *dir;
  }

  std::vector<EncodedImage> Run(const std::string& name,
                                const std::vector<OutputSpec>& outputs = DefaultOutputs()) {
    auto result = Process(ReadFile(corpus_ / name), outputs);
    EXPECT_TRUE(result.ok()) << name << ": " << result.status().ToString();
    return result.ok() ? *result : std::vector<EncodedImage>{};
  }

  std::filesystem::path corpus_;
};

struct Expected {
  const char* name;
  int resized_w, resized_h, thumb_w, thumb_h;
};

TEST_F(ProcessTest, BoxFitDimensionsAreExact) {
  const Expected cases[] = {
      {"deb_plasma_Volna_5120x2880.jpg", 1024, 576, 192, 108},  // 16:9, 1/4 DCT scale
      {"exif_Landscape_1.jpg", 1024, 683, 192, 128},            // 3:2
      {"mx_Canon_PowerShot_A2500.jpg", 1024, 768, 192, 144},    // 4:3
      {"exif_Portrait_6.jpg", 512, 768, 128, 192},              // rotated portrait
      {"mx_Canon_PowerShot_G2_3.jpg", 640, 480, 192, 144},      // small: not upscaled
  };
  for (const auto& c : cases) {
    auto out = Run(c.name);
    ASSERT_EQ(out.size(), 2u) << c.name;
    EXPECT_EQ(out[0].prefix, "resized");
    EXPECT_EQ(out[0].width, c.resized_w) << c.name;
    EXPECT_EQ(out[0].height, c.resized_h) << c.name;
    EXPECT_EQ(out[1].prefix, "thumbs");
    EXPECT_EQ(out[1].width, c.thumb_w) << c.name;
    EXPECT_EQ(out[1].height, c.thumb_h) << c.name;
    for (const auto& image : out) {
      VImage decoded = Decode(image.bytes);
      EXPECT_EQ(decoded.width(), image.width) << c.name;
      EXPECT_EQ(decoded.height(), image.height) << c.name;
      EXPECT_EQ(image.content_type, "image/jpeg");
    }
  }
}

TEST_F(ProcessTest, AllEightOrientationsLookTheSame) {
  VImage reference = Decode(Run("exif_Landscape_1.jpg")[0].bytes);
  for (int n = 2; n <= 8; ++n) {
    std::string name = "exif_Landscape_" + std::to_string(n) + ".jpg";
    auto out = Run(name);
    ASSERT_EQ(out.size(), 2u);
    VImage oriented = Decode(out[0].bytes);
    ASSERT_EQ(oriented.width(), reference.width()) << name;
    ASSERT_EQ(oriented.height(), reference.height()) << name;
    // A wrong flip or rotation of this photo differs by tens of levels.
    EXPECT_LT(MeanAbsDiff(oriented, reference), 4.0) << name;
  }
}

TEST_F(ProcessTest, PortraitsComeOutPortrait) {
  for (const char* name : {"exif_Portrait_6.jpg", "exif_Portrait_8.jpg"}) {
    auto out = Run(name);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_GT(out[0].height, out[0].width) << name;
    EXPECT_GT(out[1].height, out[1].width) << name;
  }
}

TEST_F(ProcessTest, CmykBecomesSrgbWithTheRightColours) {
  const char* name = "sharp_CMYK_color.jpg";
  auto out = Run(name);
  ASSERT_EQ(out.size(), 2u);
  VImage ours = Decode(out[0].bytes);
  EXPECT_EQ(ours.bands(), 3);
  EXPECT_EQ(ours.interpretation(), VIPS_INTERPRETATION_sRGB);
  // Reference: libvips' own loader (Adobe inversion) + lcms through the
  // embedded profile, at full size (the input is smaller than the box).
  VImage reference = VImage::new_from_file((corpus_ / name).c_str())
                         .icc_transform("srgb", VImage::option()->set("embedded", true));
  ASSERT_EQ(reference.width(), ours.width());
  EXPECT_LT(MeanAbsDiff(ours, reference), 2.5);
  for (int band = 0; band < 3; ++band) {
    EXPECT_NEAR(ours[band].avg(), reference[band].avg(), 2.0) << band;
  }
}

TEST_F(ProcessTest, GreyStaysGrey) {
  auto out = Run("im_portrait-orientation-6_gray.jpg");  // grey and rotated
  ASSERT_EQ(out.size(), 2u);
  for (const auto& image : out) EXPECT_EQ(Decode(image.bytes).bands(), 1);
  // Stored 700x840 with orientation 6: shown 840x700, inside the box as is.
  EXPECT_EQ(out[0].width, 840);
  EXPECT_EQ(out[0].height, 700);
  EXPECT_EQ(out[1].width, 192);
  EXPECT_EQ(out[1].height, 160);
}

TEST_F(ProcessTest, MetadataIsStripped) {
  auto out = Run("mx_Apple_iPhone_4S.jpg");  // EXIF with GPS and orientation 6
  ASSERT_EQ(out.size(), 2u);
  for (const auto& image : out) {
    VImage decoded = Decode(image.bytes);
    EXPECT_EQ(decoded.get_typeof(VIPS_META_EXIF_NAME), 0u);
    EXPECT_EQ(decoded.get_typeof(VIPS_META_XMP_NAME), 0u);
    EXPECT_EQ(decoded.get_typeof(VIPS_META_ICC_NAME), 0u);
  }
}

TEST_F(ProcessTest, OtherFormatsAndCoverFit) {
  auto outputs = ParseOutputSpecs("w:400x400:webp:q80;p:100x100:png:cover;a:64x64:jpeg:444");
  ASSERT_TRUE(outputs.ok());
  auto out = Run("exif_Landscape_6.jpg", *outputs);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].content_type, "image/webp");
  EXPECT_EQ(out[0].width, 400);
  EXPECT_EQ(out[0].height, 267);
  EXPECT_EQ(out[1].content_type, "image/png");
  EXPECT_EQ(out[1].width, 100);
  EXPECT_EQ(out[1].height, 100);
  for (const auto& image : out) {
    VImage decoded = Decode(image.bytes);
    EXPECT_EQ(decoded.width(), image.width);
    EXPECT_EQ(decoded.height(), image.height);
  }
}

// Non-JPEG input goes through libvips' loaders; alpha is flattened on white.
TEST(ProcessPngTest, TransparentPngBecomesJpegOnWhite) {
  ASSERT_TRUE(InitImaging().ok());
  // 2000x1000 RGBA: left half opaque red, right half fully transparent.
  VImage rgb =
      VImage::black(2000, 1000, VImage::option()->set("bands", 3)).new_from_image({255, 0, 0});
  VImage alpha = VImage::black(2000, 1000).insert(VImage::black(1000, 1000) + 255, 0, 0);
  std::string png = BlobBytes(rgb.bandjoin(alpha).cast(VIPS_FORMAT_UCHAR).pngsave_buffer());

  auto out = Process(png, DefaultOutputs());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].width, 1024);
  EXPECT_EQ((*out)[0].height, 512);
  VImage decoded = Decode((*out)[0].bytes);
  ASSERT_EQ(decoded.bands(), 3);
  auto left = decoded.getpoint(100, 256);
  auto right = decoded.getpoint(900, 256);
  EXPECT_GT(left[0], 240);
  EXPECT_LT(left[1], 15);
  EXPECT_GT(right[0], 240);  // white
  EXPECT_GT(right[1], 240);
  EXPECT_GT(right[2], 240);
}

VImage Solid(int width, int height, std::vector<double> rgb) {
  return VImage::black(width, height, VImage::option()->set("bands", 3))
      .new_from_image(rgb)
      .cast(VIPS_FORMAT_UCHAR);
}

// Still and animated GIFs (Debian 12's libvips loads them with libnsgif);
// an animation gives its first frame.
TEST(ProcessGifTest, StillAndAnimatedGifsGiveTheirFirstFrame) {
  ASSERT_TRUE(InitImaging().ok());
  VImage red = Solid(1600, 800, {255, 0, 0});
  auto still = Process(BlobBytes(red.gifsave_buffer()), DefaultOutputs());
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_EQ((*still)[0].width, 1024);
  EXPECT_EQ((*still)[0].height, 512);

  VImage frames = red.join(Solid(1600, 800, {0, 0, 255}), VIPS_DIRECTION_VERTICAL).copy();
  frames.set("page-height", 800);
  auto animated = Process(BlobBytes(frames.gifsave_buffer()), DefaultOutputs());
  ASSERT_TRUE(animated.ok()) << animated.status().ToString();
  EXPECT_EQ((*animated)[0].width, 1024);
  EXPECT_EQ((*animated)[0].height, 512);
  auto centre = Decode((*animated)[0].bytes).getpoint(512, 256);
  EXPECT_GT(centre[0], 200);  // the red first frame, not the blue second
  EXPECT_LT(centre[2], 60);
}

// Each failure reports its own libvips error, on one line, not those of the
// images that failed before it (libvips' error buffer is process-wide).
TEST(ProcessErrorTest, AFailureCarriesOnlyItsOwnErrorOnOneLine) {
  ASSERT_TRUE(InitImaging().ok());
  VImage image = Solid(800, 600, {10, 200, 30});
  std::string png = BlobBytes(image.pngsave_buffer());
  std::string webp = BlobBytes(image.webpsave_buffer());
  auto truncated_png = Process(png.substr(0, png.size() * 6 / 10), DefaultOutputs());
  ASSERT_FALSE(truncated_png.ok());
  auto truncated_webp = Process(webp.substr(0, webp.size() * 6 / 10), DefaultOutputs());
  ASSERT_FALSE(truncated_webp.ok());
  const std::string message = truncated_webp.status().message();
  EXPECT_EQ(message.find("png"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

// HEIC (HEVC) and AVIF (AV1) input: Debian 12's libvips42 depends on libheif1,
// which brings libde265/x265 and dav1d/aom, so both decode wherever we run.
// The files are generated here with libvips' own HEIF saver.
std::string HeifOf(const VImage& image, VipsForeignHeifCompression compression) {
  EXPECT_TRUE(EnsureHeifModule().ok());  // libvips starts without it (vips_modules.h)
  return BlobBytes(image.heifsave_buffer(
      VImage::option()->set("compression", compression)->set("Q", 90)->set("effort", 0)));
}

TEST(ProcessHeifTest, HeicAndAvifInputsAreDecoded) {
  ASSERT_TRUE(InitImaging().ok());
  // 1600x800, left half red, right half blue.
  VImage red =
      VImage::black(800, 800, VImage::option()->set("bands", 3)).new_from_image({220, 20, 20});
  VImage blue =
      VImage::black(800, 800, VImage::option()->set("bands", 3)).new_from_image({20, 20, 220});
  VImage picture = red.join(blue, VIPS_DIRECTION_HORIZONTAL).cast(VIPS_FORMAT_UCHAR);
  for (auto compression : {VIPS_FOREIGN_HEIF_COMPRESSION_HEVC, VIPS_FOREIGN_HEIF_COMPRESSION_AV1}) {
    std::string heif = HeifOf(picture, compression);
    auto info = Probe(heif);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->loader, "heif");
    auto out = Process(heif, DefaultOutputs());
    ASSERT_TRUE(out.ok()) << compression << ": " << out.status().ToString();
    EXPECT_EQ((*out)[0].width, 1024);
    EXPECT_EQ((*out)[0].height, 512);
    EXPECT_EQ((*out)[1].width, 192);
    EXPECT_EQ((*out)[1].height, 96);
    VImage decoded = Decode((*out)[0].bytes);
    auto left = decoded.getpoint(200, 256);
    auto right = decoded.getpoint(800, 256);
    EXPECT_NEAR(left[0], 220, 12) << compression;
    EXPECT_NEAR(left[2], 20, 12) << compression;
    EXPECT_NEAR(right[0], 20, 12) << compression;
    EXPECT_NEAR(right[2], 220, 12) << compression;
    // Truncated HEIF is a permanent error, not a crash.
    auto truncated = Process(heif.substr(0, heif.size() / 2), DefaultOutputs());
    ASSERT_FALSE(truncated.ok());
    EXPECT_TRUE(IsPermanent(truncated.status())) << truncated.status().ToString();
  }
}

TEST(ProcessHeifTest, AvifOutputDecodes) {
  ASSERT_TRUE(InitImaging().ok());
  VImage picture =
      VImage::black(600, 400, VImage::option()->set("bands", 3)).new_from_image({30, 140, 60});
  std::string png = BlobBytes(picture.cast(VIPS_FORMAT_UCHAR).pngsave_buffer());
  auto outputs = ParseOutputSpecs("small:120x120:avif:q60");
  ASSERT_TRUE(outputs.ok());
  auto out = Process(png, *outputs);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].content_type, "image/avif");
  auto info = Probe((*out)[0].bytes);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->loader, "heif");
  EXPECT_EQ(info->width, 120);
  EXPECT_EQ(info->height, 80);
}

TEST(ProbeTest, ReadsTheHeaderOnly) {
  ASSERT_TRUE(InitImaging().ok());
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  auto info = Probe(ReadFile(*dir / "exif_Portrait_6.jpg"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->loader, "jpeg");
  EXPECT_EQ(info->orientation, 6);
  EXPECT_GT(info->width, info->height);  // stored landscape, shown portrait
}

// A progressive JPEG is read whole by jpeg_start_decompress, so its input can
// go before the pixels are allocated; a baseline one is read row by row.
TEST(DecodeJpegTest, ReportsTheInputConsumedOnlyWhenReadWholeUpFront) {
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  auto full_scale = [](const JpegHeader&) -> Result<DecodePlan> { return DecodePlan{}; };
  for (auto [name, read_up_front] : {std::pair{"im_book-beside-flowers.jpg", true},  // progressive
                                     std::pair{"exif_Landscape_1.jpg", false}}) {    // baseline
    std::string bytes = ReadFile(*dir / name);
    int calls = 0;
    auto decoded = DecodeJpeg(bytes, Limits{}, full_scale, [&] { ++calls; });
    ASSERT_TRUE(decoded.ok()) << name << ": " << decoded.status().ToString();
    EXPECT_EQ(calls, read_up_front ? 1 : 0) << name;
  }
}

// A progressive file's rows are narrowed as they are decoded, to the same
// bytes as narrowing the whole decoded image afterwards; a baseline file is
// left whole (its rows never sit next to whole-image coefficient buffers).
TEST(DecodeJpegTest, NarrowsRowsOfMultiScanFilesOnly) {
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  for (auto [name, progressive] :
       {std::pair{"im_book-beside-flowers.jpg", true}, std::pair{"exif_Landscape_1.jpg", false}}) {
    std::string bytes = ReadFile(*dir / name);
    auto whole = DecodeJpeg(bytes, Limits{}, [](const JpegHeader&) -> Result<DecodePlan> {
      return DecodePlan{.scale_num = 2};
    });
    ASSERT_TRUE(whole.ok()) << name << ": " << whole.status().ToString();
    const int target = whole->width / 3;
    const double scale = whole->header.width * 2 / 8.0 / target;
    auto narrowed = DecodeJpeg(bytes, Limits{}, [&](const JpegHeader&) -> Result<DecodePlan> {
      return DecodePlan{.scale_num = 2, .narrow_width = target, .narrow_scale = scale};
    });
    ASSERT_TRUE(narrowed.ok()) << name << ": " << narrowed.status().ToString();
    // Handing the heap back first (malloc_trim) changes no pixel.
    auto released = DecodeJpeg(bytes, Limits{}, [&](const JpegHeader&) -> Result<DecodePlan> {
      return DecodePlan{
          .scale_num = 2, .narrow_width = target, .narrow_scale = scale, .release_heap = true};
    });
    ASSERT_TRUE(released.ok()) << name << ": " << released.status().ToString();
    ASSERT_EQ(released->size, narrowed->size);
    EXPECT_TRUE(std::equal(released->pixels.get(), released->pixels.get() + released->size,
                           narrowed->pixels.get()))
        << name;
    EXPECT_EQ(narrowed->narrowed, progressive) << name;
    EXPECT_EQ(narrowed->height, whole->height) << name;
    if (!progressive) {
      EXPECT_EQ(narrowed->width, whole->width) << name;
      continue;
    }
    ASSERT_EQ(narrowed->width, target);
    std::vector<uint8_t> expected(static_cast<size_t>(target) * whole->height * whole->bands);
    ReduceWidthLanczos3(whole->pixels.get(), static_cast<size_t>(whole->width) * whole->bands,
                        whole->width, whole->height, whole->bands, expected.data(), target, scale);
    ASSERT_EQ(narrowed->size, expected.size());
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), narrowed->pixels.get())) << name;
  }
}

TEST(ProcessTakingInputTest, SameOutputsAsProcessAndTruncationStillFails) {
  ASSERT_TRUE(InitImaging().ok());
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  std::string progressive = ReadFile(*dir / "im_book-beside-flowers.jpg");
  auto expected = Process(progressive, DefaultOutputs());
  auto taken = ProcessTakingInput(progressive, DefaultOutputs());
  ASSERT_TRUE(expected.ok() && taken.ok()) << taken.status().ToString();
  ASSERT_EQ(taken->size(), expected->size());
  for (size_t i = 0; i < taken->size(); ++i) EXPECT_EQ((*taken)[i].bytes, (*expected)[i].bytes);

  auto truncated =
      ProcessTakingInput(progressive.substr(0, progressive.size() / 2), DefaultOutputs());
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(ErrorOf(truncated.status()), ImageError::kCorrupt) << truncated.status().ToString();
}

// The estimate needs only the header: the first 64 KB give the same answer
// as the whole file, and too short a head says so (kOutOfRange) rather than
// guessing. A progressive JPEG's estimate includes its coefficient buffers.
TEST(EstimateWorkingBytesTest, FromTheHeadOfTheFile) {
  ASSERT_TRUE(InitImaging().ok());
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  std::string progressive = ReadFile(*dir / "im_book-beside-flowers.jpg");
  std::string baseline = ReadFile(*dir / "exif_Landscape_1.jpg");
  uint64_t estimates[2] = {};
  for (int i = 0; i < 2; ++i) {
    const std::string& bytes = i == 0 ? progressive : baseline;
    auto whole = EstimateWorkingBytes(bytes, bytes.size(), DefaultOutputs());
    auto head = EstimateWorkingBytes(std::string_view(bytes).substr(0, 64 << 10), bytes.size(),
                                     DefaultOutputs());
    ASSERT_TRUE(whole.ok() && head.ok()) << whole.status().ToString();
    EXPECT_EQ(*head, *whole);
    estimates[i] = *whole;
    auto short_head = EstimateWorkingBytes(std::string_view(bytes).substr(0, 100), bytes.size(),
                                           DefaultOutputs());
    EXPECT_EQ(short_head.status().code(), Code::kOutOfRange) << short_head.status().ToString();
  }
  auto header = ReadJpegHeader(progressive);
  ASSERT_TRUE(header.ok());
  EXPECT_GT(estimates[0], header->coefficient_bytes);
  EXPECT_LT(estimates[1], estimates[0]);

  auto not_an_image = EstimateWorkingBytes("plain text", 10, DefaultOutputs());
  EXPECT_EQ(ErrorOf(not_an_image.status()), ImageError::kNotAnImage);
  Limits tight;
  tight.max_pixels = 1000;
  EXPECT_EQ(
      ErrorOf(EstimateWorkingBytes(baseline, baseline.size(), DefaultOutputs(), tight).status()),
      ImageError::kTooLarge);
}

// A reservation the caller made from the estimate is used (not a second
// one), and given back with the image; a short one is traded for a full one.
// The outputs are the same whichever way the memory was reserved.
TEST(ProcessTakingInputTest, UsesTheCallersReservation) {
  ASSERT_TRUE(InitImaging().ok());
  auto dir = CorpusDir();
  if (!dir) GTEST_SKIP() << "corpus not found";
  std::string bytes = ReadFile(*dir / "im_book-beside-flowers.jpg");
  auto expected = Process(bytes, DefaultOutputs());
  auto estimate = EstimateWorkingBytes(bytes, bytes.size(), DefaultOutputs());
  ASSERT_TRUE(expected.ok() && estimate.ok());
  MemoryBudget& budget = ProcessMemoryBudget();
  for (uint64_t reserved : {*estimate, *estimate + 1000, uint64_t{1}}) {
    auto reservation = budget.TryReserve(reserved);
    ASSERT_TRUE(reservation);
    auto result = ProcessTakingInput(bytes, DefaultOutputs(), Limits{}, std::move(*reservation));
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ASSERT_EQ(result->size(), expected->size());
    for (size_t i = 0; i < result->size(); ++i) EXPECT_EQ((*result)[i].bytes, (*expected)[i].bytes);
    EXPECT_EQ(budget.in_flight(), 0u) << reserved;
    EXPECT_EQ(budget.in_use(), 0u) << reserved;
  }
}

}  // namespace
}  // namespace imgbatch::imaging
