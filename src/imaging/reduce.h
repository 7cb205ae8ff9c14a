// Horizontal Lanczos3 reduction of 8-bit interleaved pixels. libvips 8.14's
// reduceh is scalar C at ~90 instructions per output sample and was the
// largest single cost of the job (28% of instructions, callgrind); this one
// precomputes fixed-point taps once per image and, for 3 and 4 bands on CPUs
// with AVX2 (checked at run time; the binary still runs on any x86-64 and
// elsewhere), sums four taps per instruction. The vertical pass stays with
// libvips' vectorised reducev. Internal to imaging. Pure functions;
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace imgbatch::imaging {

// Reduces `height` rows of `in_width` pixels (`bands` interleaved uint8
// samples, rows `in_stride` bytes apart) to `out_width` pixels per row, by
// `scale` input pixels per output pixel (>= 1; in_width / out_width unless
// the input's last column is only partly image, as after DCT scaling), with
// centres aligned as libvips and Pillow do (x_in = (x_out + 0.5) * s - 0.5)
// and edge pixels repeated.
void ReduceWidthLanczos3(const uint8_t* in, size_t in_stride, int in_width, int height, int bands,
                         uint8_t* out, int out_width, double scale);

// The same pass for rows that arrive a few at a time (a progressive JPEG's
// decoder output, narrowed before it is stored whole): the taps are computed
// once, here, instead of per call. Byte-identical to ReduceWidthLanczos3 on
// the same rows.
class WidthReducer {
 public:
  WidthReducer(int in_width, int bands, int out_width, double scale);
  ~WidthReducer();
  WidthReducer(const WidthReducer&) = delete;
  WidthReducer& operator=(const WidthReducer&) = delete;

  // `height` rows of in_width pixels to `height` rows of out_width pixels
  // (out rows packed, out_width * bands bytes apart).
  void Reduce(const uint8_t* in, size_t in_stride, int height, uint8_t* out) const;

 private:
  struct Taps;
  int in_width_;
  int bands_;
  int out_width_;
  std::unique_ptr<const Taps> taps_;
};

// The vertical counterpart: reduces `in_height` rows of `row_bytes` bytes
// (any interleaving: columns are independent) to `out_height` rows, by
// `scale` input rows per output row, centres aligned and edge rows repeated
// as above. Runs on the decoder's buffer directly: libvips' reducev compiled
// an Orc program per image (2.5% of all CPU) and needed its pipeline around.
void ReduceHeightLanczos3(const uint8_t* in, size_t in_stride, size_t row_bytes, int in_height,
                          uint8_t* out, size_t out_stride, int out_height, double scale);
void ReduceHeightLanczos3Scalar(const uint8_t* in, size_t in_stride, size_t row_bytes,
                                int in_height, uint8_t* out, size_t out_stride, int out_height,
                                double scale);

// The portable scalar pass alone: the reference the vector pass must match
// byte for byte (tests).
void ReduceWidthLanczos3Scalar(const uint8_t* in, size_t in_stride, int in_width, int height,
                               int bands, uint8_t* out, int out_width, double scale);

}  // namespace imgbatch::imaging
