#include "imaging/metadata.h"

#include <gtest/gtest.h>

#include <string>

namespace imgbatch::imaging {
namespace {

// An APP1 payload with one IFD0 entry: tag, type, count 1, value.
std::string Exif(bool big_endian, uint16_t tag, uint16_t type, uint16_t value) {
  auto u16 = [&](uint16_t v) {
    return big_endian ? std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}
                      : std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)};
  };
  auto u32 = [&](uint32_t v) {
    return big_endian ? u16(static_cast<uint16_t>(v >> 16)) + u16(static_cast<uint16_t>(v))
                      : u16(static_cast<uint16_t>(v)) + u16(static_cast<uint16_t>(v >> 16));
  };
  std::string tiff = big_endian ? "MM" : "II";
  tiff += u16(42) + u32(8) + u16(1) + u16(tag) + u16(type) + u32(1) + u16(value) + u16(0) + u32(0);
  return std::string("Exif\0\0", 6) + tiff;
}

TEST(ExifOrientationTest, ReadsBothByteOrders) {
  for (uint16_t v = 1; v <= 8; ++v) {
    EXPECT_EQ(ExifOrientation(Exif(true, 0x0112, 3, v)), v);
    EXPECT_EQ(ExifOrientation(Exif(false, 0x0112, 3, v)), v);
  }
}

TEST(ExifOrientationTest, DefaultsToOneWhenAbsentOrInvalid) {
  EXPECT_EQ(ExifOrientation(""), 1);
  EXPECT_EQ(ExifOrientation("Exif"), 1);
  EXPECT_EQ(ExifOrientation(Exif(true, 0x010F, 3, 6)), 1);  // another tag
  EXPECT_EQ(ExifOrientation(Exif(true, 0x0112, 3, 9)), 1);  // out of range
  EXPECT_EQ(ExifOrientation(Exif(true, 0x0112, 4, 6)), 1);  // wrong type
  std::string full = Exif(false, 0x0112, 3, 6);
  for (size_t cut = 0; cut < full.size(); ++cut) {
    int orientation = ExifOrientation(full.substr(0, cut));
    EXPECT_TRUE(orientation == 1 || orientation == 6) << cut;
  }
}

std::string Icc(const std::string& colour_space, const std::string& description) {
  std::string icc(128, '\0');
  icc.replace(16, 4, colour_space);
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  uint32_t offset = 128 + 4 + 12;
  icc += be32(1) + "desc" + be32(offset) + be32(static_cast<uint32_t>(description.size()));
  icc += description;
  return icc;
}

TEST(IsSrgbProfileTest, RecognisesTheDescription) {
  EXPECT_TRUE(IsSrgbProfile(Icc("RGB ", "desc....sRGB IEC61966-2.1")));
  EXPECT_TRUE(IsSrgbProfile(Icc("RGB ", std::string("mluc\0s\0R\0G\0B", 12))));
  EXPECT_FALSE(IsSrgbProfile(Icc("RGB ", "desc....Adobe RGB (1998)")));
  EXPECT_FALSE(IsSrgbProfile(Icc("CMYK", "desc....sRGB-ish CMYK")));
  EXPECT_FALSE(IsSrgbProfile(""));
  std::string full = Icc("RGB ", "sRGB");
  for (size_t cut = 0; cut < full.size(); ++cut) EXPECT_FALSE(IsSrgbProfile(full.substr(0, cut)));
}

}  // namespace
}  // namespace imgbatch::imaging
