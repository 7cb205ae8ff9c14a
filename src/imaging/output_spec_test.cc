#include <gtest/gtest.h>

#include "imaging/imaging.h"

namespace imgbatch::imaging {
namespace {

TEST(OutputSpecTest, DefaultsAreTheSeeds) {
  auto outputs = DefaultOutputs();
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].prefix, "resized");
  EXPECT_EQ(outputs[0].width, 1024);
  EXPECT_EQ(outputs[0].height, 768);
  EXPECT_EQ(outputs[0].quality, 100);
  EXPECT_EQ(outputs[0].chroma, ChromaSubsampling::k420);
  EXPECT_EQ(outputs[1].prefix, "thumbs");
  EXPECT_EQ(outputs[1].width, 192);
  EXPECT_EQ(outputs[1].height, 192);
  EXPECT_EQ(outputs[1].quality, 75);
  for (const auto& o : outputs) {
    EXPECT_EQ(o.format, ImageFormat::kJpeg);
    EXPECT_EQ(o.fit, Fit::kInside);
    EXPECT_TRUE(o.strip_metadata);
  }
}

TEST(OutputSpecTest, ParsesCompactSyntax) {
  auto parsed = ParseOutputSpecs("big:2048x1536:webp:q80:444 ; sq:100x100:cover:png:keep");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].prefix, "big");
  EXPECT_EQ((*parsed)[0].width, 2048);
  EXPECT_EQ((*parsed)[0].format, ImageFormat::kWebp);
  EXPECT_EQ((*parsed)[0].quality, 80);
  EXPECT_EQ((*parsed)[0].chroma, ChromaSubsampling::k444);
  EXPECT_EQ((*parsed)[1].fit, Fit::kCover);
  EXPECT_EQ((*parsed)[1].format, ImageFormat::kPng);
  EXPECT_FALSE((*parsed)[1].strip_metadata);
}

TEST(OutputSpecTest, FormatRoundTrips) {
  auto defaults = DefaultOutputs();
  auto parsed = ParseOutputSpecs(FormatOutputSpecs(defaults));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(FormatOutputSpecs(*parsed), FormatOutputSpecs(defaults));
}

TEST(OutputSpecTest, RejectsBadSpecs) {
  for (const char* bad : {"", "resized", "resized:1024", "r:0x10", "r:10x70000", "r:10x10:q0",
                          "r:10x10:q101", "r:10x10:gif", "a:1x1;a:2x2", ":1x1", "../x:1x1"}) {
    auto parsed = ParseOutputSpecs(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << bad;
    }
  }
}

TEST(OutputNameTest, ReplacesTheExtensionOnlyWhenTheFormatDiffers) {
  EXPECT_EQ(OutputName("a/b.jpg", ImageFormat::kJpeg), "a/b.jpg");
  EXPECT_EQ(OutputName("b.JPEG", ImageFormat::kJpeg), "b.JPEG");
  EXPECT_EQ(OutputName("b.png", ImageFormat::kJpeg), "b.jpg");
  EXPECT_EQ(OutputName("b.jpg", ImageFormat::kWebp), "b.webp");
  EXPECT_EQ(OutputName("dir.d/noext", ImageFormat::kPng), "dir.d/noext.png");
}

TEST(ErrorClassTest, PermanentAndTransient) {
  EXPECT_TRUE(IsPermanent(Status(Code::kCorruption, "x").WithDetail("Corrupt")));
  EXPECT_TRUE(IsPermanent(Status(Code::kTooLarge, "x").WithDetail("TooLarge")));
  EXPECT_FALSE(IsPermanent(Status(Code::kUnavailable, "x").WithDetail("OutOfMemory")));
  EXPECT_FALSE(IsPermanent(Status(Code::kIoError, "x").WithDetail("Io")));
  EXPECT_FALSE(IsPermanent(Status(Code::kInternal, "unclassified")));
  EXPECT_FALSE(IsPermanent(Status::Ok()));
  EXPECT_EQ(ErrorOf(Status(Code::kInvalidArgument, "x").WithDetail("NotAnImage")),
            ImageError::kNotAnImage);
}

}  // namespace
}  // namespace imgbatch::imaging
