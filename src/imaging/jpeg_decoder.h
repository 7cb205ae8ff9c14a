// JPEG decoding with libjpeg-turbo, scaled in the DCT domain by M/8 so that a
// 4000-px photo bound for a 1024-px box is decoded at 1500 px (3/8) instead of
// 4000 or 2000. Internal to imaging. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "imaging/imaging.h"

namespace imgbatch::imaging {

struct JpegHeader {
  int width = 0;  // as stored, before orientation
  int height = 0;
  int orientation = 1;
  int components = 0;              // as stored (3 for YCbCr, 4 for CMYK/YCCK)
  bool multi_scan = false;         // progressive: the whole image is held as coefficients
  uint64_t coefficient_bytes = 0;  // what a multi-scan decode allocates for them
};

struct DecodedJpeg {
  // Rows of width * bands bytes, no padding. Not a vector: zero-filling
  // megabytes that the decoder overwrites anyway cost measurable time.
  std::unique_ptr<uint8_t[]> pixels;
  size_t size = 0;
  int width = 0;  // after scaling, before orientation
  int height = 0;
  int bands = 0;          // 1 (grey), 3 (RGB) or 4 (CMYK, already un-inverted)
  int scale_num = 8;      // decoded at scale_num / 8: width = ceil(header.width * scale_num / 8)
  bool narrowed = false;  // rows reduced to DecodePlan::narrow_width while decoding
  bool cmyk = false;
  std::string icc_profile;  // empty when none is embedded
  JpegHeader header;
};

inline bool LooksLikeJpeg(std::string_view bytes) {
  return bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
         static_cast<uint8_t>(bytes[1]) == 0xD8 && static_cast<uint8_t>(bytes[2]) == 0xFF;
}

// How to decode, chosen once the header is known.
struct DecodePlan {
  int scale_num = 8;  // scale M/8, M in 1..8
  // For a multi-scan (progressive) file, whose coefficient buffers hold the
  // whole image until the last row is out: reduce each row to this width as
  // it is decoded (Lanczos3, reduce.h), `narrow_scale` decoded pixels per
  // output pixel, so that the full-width image never sits next to them.
  // 0: keep whole rows. Baseline files are decoded row by row and never
  // narrowed (their peak is the decoded image alone).
  int narrow_width = 0;
  double narrow_scale = 1.0;
  // Hand the heap's free memory back (malloc_trim) before a multi-scan
  // file's coefficient buffers are allocated, whatever their size (the
  // caller knows that other images' memory sits beside them).
  bool release_heap = false;
};

// Returning an error (e.g. a limit) stops before any pixel is decoded.
using ScalePlanner = std::function<Result<DecodePlan>(const JpegHeader&)>;

// Reads only the header (dimensions, orientation).
Result<JpegHeader> ReadJpegHeader(std::string_view bytes);

// Called at most once, when the decoder has read all of the input before
// producing the first pixel row (progressive and other multi-scan files are
// absorbed whole into the coefficient buffers): the caller may free the bytes
// then, and the decoder never touches them again.
using InputConsumed = std::function<void()>;

// Decodes at the planned scale (and width). Before a multi-scan file's
// coefficient buffers are allocated, if they are big (tens of MB) or the plan
// asks, the process heap's free memory is handed back (malloc_trim) so that
// it does not add to them. Truncated data is an error (kCorrupt), not a
// grey-filled image.
Result<DecodedJpeg> DecodeJpeg(std::string_view bytes, const Limits& limits,
                               const ScalePlanner& plan, const InputConsumed& consumed = {});

// The dimension libjpeg-turbo produces for `size` scaled by M/8.
inline int ScaledJpegSize(int size, int m) { return static_cast<int>((int64_t{size} * m + 7) / 8); }

}  // namespace imgbatch::imaging
