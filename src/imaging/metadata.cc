#include "imaging/metadata.h"

#include <cstdint>
#include <cstring>
#include <optional>

namespace imgbatch::imaging {
namespace {

constexpr uint16_t kOrientationTag = 0x0112;
constexpr uint16_t kTypeShort = 3;
constexpr size_t kIfdEntryBytes = 12;
constexpr size_t kIccHeaderBytes = 128;
constexpr size_t kIccTagEntryBytes = 12;
constexpr uint32_t kMaxIccTags = 1000;
constexpr size_t kIccColourSpaceOffset = 16;

// Reads integers from a TIFF block in its declared byte order.
class TiffReader {
 public:
  TiffReader(std::string_view data, bool big_endian) : data_(data), big_endian_(big_endian) {}

  std::optional<uint16_t> U16(size_t offset) const {
    if (offset > data_.size() || data_.size() - offset < 2) return std::nullopt;
    auto b = [&](size_t i) {
      return static_cast<uint16_t>(static_cast<uint8_t>(data_[offset + i]));
    };
    return big_endian_ ? static_cast<uint16_t>(b(0) << 8 | b(1))
                       : static_cast<uint16_t>(b(1) << 8 | b(0));
  }
  std::optional<uint32_t> U32(size_t offset) const {
    auto hi = U16(big_endian_ ? offset : offset + 2);
    auto lo = U16(big_endian_ ? offset + 2 : offset);
    if (!hi || !lo) return std::nullopt;
    return static_cast<uint32_t>(*hi) << 16 | *lo;
  }

 private:
  std::string_view data_;
  bool big_endian_;
};

uint32_t BigEndian32(std::string_view data, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(data[offset + i]);
  return v;
}

bool ContainsSrgb(std::string_view text) {
  static constexpr char kUtf16[] = {'\0', 's', '\0', 'R', '\0', 'G', '\0', 'B'};
  return text.find("sRGB") != std::string_view::npos ||
         text.find(std::string_view(kUtf16, sizeof(kUtf16))) != std::string_view::npos;
}

}  // namespace

int ExifOrientation(std::string_view app1) {
  static constexpr std::string_view kExifHeader("Exif\0\0", 6);
  if (app1.substr(0, kExifHeader.size()) != kExifHeader) return 1;
  std::string_view tiff = app1.substr(kExifHeader.size());
  if (tiff.size() < 8) return 1;
  bool big_endian;
  if (tiff.substr(0, 2) == "MM") {
    big_endian = true;
  } else if (tiff.substr(0, 2) == "II") {
    big_endian = false;
  } else {
    return 1;
  }
  TiffReader reader(tiff, big_endian);
  auto ifd = reader.U32(4);
  if (!ifd) return 1;
  auto count = reader.U16(*ifd);
  if (!count) return 1;
  for (uint32_t i = 0; i < *count; ++i) {
    size_t entry = static_cast<size_t>(*ifd) + 2 + i * kIfdEntryBytes;
    auto tag = reader.U16(entry);
    if (!tag) return 1;
    if (*tag != kOrientationTag) continue;
    auto type = reader.U16(entry + 2);
    auto value = reader.U16(entry + 8);
    if (!type || *type != kTypeShort || !value) return 1;
    return (*value >= 1 && *value <= 8) ? *value : 1;
  }
  return 1;
}

bool IsSrgbProfile(std::string_view icc) {
  if (icc.size() < kIccHeaderBytes + 4) return false;
  if (icc.compare(kIccColourSpaceOffset, 4, "RGB ") != 0) return false;
  uint32_t tag_count = BigEndian32(icc, kIccHeaderBytes);
  if (tag_count > kMaxIccTags) return false;
  for (uint32_t i = 0; i < tag_count; ++i) {
    size_t entry = kIccHeaderBytes + 4 + i * kIccTagEntryBytes;
    if (entry + kIccTagEntryBytes > icc.size()) return false;
    if (icc.compare(entry, 4, "desc") != 0) continue;
    uint32_t offset = BigEndian32(icc, entry + 4);
    uint32_t size = BigEndian32(icc, entry + 8);
    if (offset > icc.size() || size > icc.size() - offset) return false;
    return ContainsSrgb(icc.substr(offset, size));
  }
  return false;
}

}  // namespace imgbatch::imaging
