#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "worker/image_processor.h"

namespace imgbatch::worker {
namespace {

std::optional<std::string> CorpusImage(const std::string& name) {
  const char* source = std::getenv("IMGBATCH_SOURCE_DIR");
  if (source == nullptr) return std::nullopt;
  auto path = std::filesystem::path(source) / ".." / "shared" / "corpus" / name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(ImagingProcessorTest, SeedOutputsAndKeys) {
  auto processor = MakeImagingProcessor({});
  ASSERT_TRUE(processor.ok()) << processor.status().ToString();
  EXPECT_EQ((*processor)->OutputKeys("dir/a b.jpg"),
            (std::vector<std::string>{"resized/dir/a b.jpg", "thumbs/dir/a b.jpg"}));
  // Only the extension changes, and only when the format differs.
  EXPECT_EQ((*processor)->OutputKeys("x.png"),
            (std::vector<std::string>{"resized/x.jpg", "thumbs/x.jpg"}));
}

TEST(ImagingProcessorTest, ConfiguredOutputs) {
  auto processor = MakeImagingProcessor({"small:64x64:webp:q80", 0, 0});
  ASSERT_TRUE(processor.ok()) << processor.status().ToString();
  EXPECT_EQ((*processor)->OutputKeys("x.jpg"), (std::vector<std::string>{"small/x.webp"}));
  // The full spec, defaults included: what the worker records as output-spec.
  EXPECT_EQ((*processor)->OutputSpecs(),
            (std::vector<std::string>{"small:64x64:webp:q80:inside:420:strip"}));
  EXPECT_FALSE(MakeImagingProcessor({"nonsense", 0, 0}).ok());
}

TEST(ImagingProcessorTest, NotAnImageIsPermanent) {
  auto processor = MakeImagingProcessor({});
  ASSERT_TRUE(processor.ok());
  auto result = (*processor)->Process("a.jpg", "this is text, not an image");
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE((*processor)->IsPermanent(result.status())) << result.status().ToString();
  EXPECT_FALSE((*processor)->IsPermanent(Status(Code::kUnavailable, "try later")));
}

TEST(ImagingProcessorTest, ProcessesACorpusJpeg) {
  auto bytes = CorpusImage("exif_Landscape_1.jpg");
  if (!bytes) GTEST_SKIP() << "corpus not found next to the source tree";
  auto processor = MakeImagingProcessor({});
  ASSERT_TRUE(processor.ok());
  auto result = (*processor)->Process("in/photo.jpg", *bytes);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->size(), 2u);
  EXPECT_EQ((*result)[0].key, "resized/in/photo.jpg");
  EXPECT_EQ((*result)[1].key, "thumbs/in/photo.jpg");
  for (const auto& output : *result) {
    EXPECT_EQ(output.content_type, "image/jpeg");
    ASSERT_GE(output.bytes.size(), 2u);
    EXPECT_EQ(output.bytes.substr(0, 2), "\xff\xd8");  // JPEG SOI
  }
}

}  // namespace
}  // namespace imgbatch::worker
