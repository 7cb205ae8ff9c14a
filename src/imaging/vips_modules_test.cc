// libvips starts without its optional modules; the heif one opens when an
// image needs it. Checked in a fresh process (this test binary run again),
// as this process may already have opened it for other tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vips/vips8>

#include "imaging/imaging.h"
#include "imaging/test_support.h"
#include "imaging/vips_modules.h"

namespace imgbatch::imaging {
namespace {

using vips::VImage;

constexpr const char* kChildVariable = "IMGBATCH_MODULES_CHILD_HEIC";

// The libvips modules mapped into this process, e.g. "vips-heif.so".
std::string MappedModules() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::string found;
  while (std::getline(maps, line)) {
    auto at = line.find("/vips-modules-");
    if (at == std::string::npos) continue;
    std::string name = std::filesystem::path(line.substr(at)).filename().string();
    if (found.find(name) == std::string::npos) found += name + " ";
  }
  return found;
}

TEST(VipsModulesTest, OnlyHeifAndOnlyWhenAnImageNeedsIt) {
  ASSERT_TRUE(EnsureHeifModule().ok());  // to make the HEIC file
  VImage picture =
      VImage::black(64, 48, VImage::option()->set("bands", 3)).new_from_image({200, 30, 30});
  VipsBlob* blob = picture.cast(VIPS_FORMAT_UCHAR)
                       .heifsave_buffer(VImage::option()
                                            ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC)
                                            ->set("effort", 0));
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  std::filesystem::path heic = std::filesystem::temp_directory_path() /
                               ("imgbatch-modules-" + std::to_string(getpid()) + ".heic");
  std::ofstream(heic, std::ios::binary).write(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));

  char self[4096] = {};
  ssize_t self_length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(self_length, 0);
  std::string command = "env -u VIPSHOME " + std::string(kChildVariable) + "='" + heic.string() +
                        "' '" + std::string(self, static_cast<size_t>(self_length)) +
                        "' --gtest_filter=VipsModulesTest.Child 2>&1";
  std::FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char line[512];
  while (std::fgets(line, sizeof(line), pipe) != nullptr) output += line;
  int status = pclose(pipe);
  std::filesystem::remove(heic);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("[  PASSED  ] 1 test"), std::string::npos) << output;
}

TEST(VipsModulesTest, Child) {
  const char* heic_path = std::getenv(kChildVariable);
  if (heic_path == nullptr) GTEST_SKIP() << "only runs as the child of OnlyHeifAndOnlyWhen...";
  ASSERT_TRUE(InitImaging().ok());
  EXPECT_EQ(MappedModules(), "");
  ASSERT_TRUE(Process(testing::PngBomb(64, 48), DefaultOutputs()).ok());
  EXPECT_EQ(MappedModules(), "") << "a PNG needs no module";
  auto out = Process(testing::ReadFile(heic_path), DefaultOutputs());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].width, 64);
  EXPECT_EQ(MappedModules(), "vips-heif.so ");
  // The environment is left as it was given (unset by the parent; libvips'
  // own init would have set it).
  EXPECT_EQ(std::getenv("VIPSHOME"), nullptr);
}

}  // namespace
}  // namespace imgbatch::imaging
