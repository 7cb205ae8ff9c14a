// Helpers shared by the imaging tests: the corpus location, file reading,
// decoding outputs with libvips, and generated bad inputs. Test-only.
#pragma once

#include <zlib.h>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vips/vips8>

namespace imgbatch::imaging::testing {

// $IMGBATCH_CORPUS, else $IMGBATCH_SOURCE_DIR/../shared/corpus; nullopt if absent.
inline std::optional<std::filesystem::path> CorpusDir() {
  std::filesystem::path dir;
  if (const char* corpus = std::getenv("IMGBATCH_CORPUS")) {
    dir = corpus;
  } else if (const char* source = std::getenv("IMGBATCH_SOURCE_DIR")) {
    dir = std::filesystem::path(source) / ".." / "shared" / "corpus";
  } else {
    return std::nullopt;
  }
  if (!std::filesystem::exists(dir / "exif_Landscape_1.jpg")) return std::nullopt;
  return dir;
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The bytes of a libvips *save_buffer result, which it then releases.
inline std::string BlobBytes(VipsBlob* blob) {
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  std::string bytes(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

inline vips::VImage Decode(const std::string& bytes) {
  return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory();
}

// Mean absolute difference over all pixels and bands (0..255).
inline double MeanAbsDiff(const vips::VImage& a, const vips::VImage& b) {
  return (a.cast(VIPS_FORMAT_FLOAT) - b.cast(VIPS_FORMAT_FLOAT)).abs().avg();
}

inline void AppendBigEndian32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

inline void AppendPngChunk(std::string& out, const char* type, const std::string& data) {
  AppendBigEndian32(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  AppendBigEndian32(out, static_cast<uint32_t>(
                             crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

// A valid 1-bit greyscale PNG of width x height zeros: a few KB that claim
// (and would decode to) width * height pixels — a decompression bomb.
inline std::string PngBomb(uint32_t width, uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  AppendBigEndian32(ihdr, width);
  AppendBigEndian32(ihdr, height);
  ihdr += std::string("\x01\x00\x00\x00\x00", 5);  // depth 1, grey, deflate, filter 0, no interlace
  AppendPngChunk(png, "IHDR", ihdr);
  const size_t row_bytes = 1 + (width + 7) / 8;  // filter byte + packed bits
  std::string row(row_bytes, '\0');
  z_stream z{};
  deflateInit(&z, Z_BEST_COMPRESSION);
  std::string idat;
  char buffer[1 << 16];
  for (uint32_t y = 0; y < height; ++y) {
    z.next_in = reinterpret_cast<Bytef*>(row.data());
    z.avail_in = static_cast<uInt>(row.size());
    int flush = y + 1 == height ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buffer);
      z.avail_out = sizeof(buffer);
      deflate(&z, flush);
      idat.append(buffer, sizeof(buffer) - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  AppendPngChunk(png, "IDAT", idat);
  AppendPngChunk(png, "IEND", "");
  return png;
}

// Rewrites the frame header (SOF0..SOF2) of a JPEG to claim other dimensions.
inline std::string WithJpegDimensions(std::string jpeg, uint16_t width, uint16_t height) {
  for (size_t i = 2; i + 9 < jpeg.size();) {
    if (static_cast<uint8_t>(jpeg[i]) != 0xFF) return jpeg;
    uint8_t marker = static_cast<uint8_t>(jpeg[i + 1]);
    size_t length = static_cast<uint8_t>(jpeg[i + 2]) << 8 | static_cast<uint8_t>(jpeg[i + 3]);
    if (marker >= 0xC0 && marker <= 0xC2) {
      jpeg[i + 5] = static_cast<char>(height >> 8);
      jpeg[i + 6] = static_cast<char>(height & 0xFF);
      jpeg[i + 7] = static_cast<char>(width >> 8);
      jpeg[i + 8] = static_cast<char>(width & 0xFF);
      return jpeg;
    }
    i += 2 + length;
  }
  return jpeg;
}

}  // namespace imgbatch::imaging::testing
