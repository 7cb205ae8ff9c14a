#include "imaging/reduce.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace imgbatch::imaging {
namespace {

constexpr int kLobes = 3;
constexpr int kWeightBits = 14;  // weights sum to 1 << 14; 255 * 2^14 * |sum| fits int32
constexpr int32_t kOne = 1 << kWeightBits;

double Lanczos3(double x) {
  x = std::abs(x);
  if (x < 1e-9) return 1.0;
  if (x >= kLobes) return 0.0;
  double px = std::numbers::pi * x;
  return kLobes * std::sin(px) * std::sin(px / kLobes) / (px * px);
}

// For each output pixel: the first input pixel and `taps` fixed-point
// weights (edge pixels repeated by clamping the index into `first`).
struct Filter {
  int taps = 0;
  std::vector<int> first;        // per output pixel, may be < 0 or run past the edge
  std::vector<int32_t> weights;  // out_width * taps
};

Filter MakeFilter(int out_width, double scale) {
  const double support = kLobes * scale;
  Filter f;
  f.taps = static_cast<int>(std::ceil(2 * support)) + 1;
  f.first.resize(static_cast<size_t>(out_width));
  f.weights.resize(static_cast<size_t>(out_width) * static_cast<size_t>(f.taps));
  std::vector<double> w(static_cast<size_t>(f.taps));
  for (int x = 0; x < out_width; ++x) {
    double centre = (x + 0.5) * scale - 0.5;
    int first = static_cast<int>(std::floor(centre - support)) + 1;
    double sum = 0;
    for (int k = 0; k < f.taps; ++k) {
      w[static_cast<size_t>(k)] = Lanczos3((first + k - centre) / scale);
      sum += w[static_cast<size_t>(k)];
    }
    // Quantise so the weights sum to exactly kOne: flat areas stay flat.
    int32_t* dst = &f.weights[static_cast<size_t>(x) * static_cast<size_t>(f.taps)];
    int32_t total = 0;
    int biggest = 0;
    for (int k = 0; k < f.taps; ++k) {
      dst[k] = static_cast<int32_t>(std::lround(w[static_cast<size_t>(k)] / sum * kOne));
      total += dst[k];
      if (dst[k] > dst[biggest]) biggest = k;
    }
    dst[biggest] += kOne - total;
    f.first[static_cast<size_t>(x)] = first;
  }
  return f;
}

inline uint8_t Clamp(int32_t acc) {
  int32_t v = (acc + (kOne >> 1)) >> kWeightBits;
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

template <int kBands>
void ReduceRow(const uint8_t* in, int in_width, const Filter& f, uint8_t* out, int out_width) {
  for (int x = 0; x < out_width; ++x) {
    const int32_t* w = &f.weights[static_cast<size_t>(x) * static_cast<size_t>(f.taps)];
    const int first = f.first[static_cast<size_t>(x)];
    int32_t acc[kBands] = {};
    if (first >= 0 && first + f.taps <= in_width) {  // the common, interior case
      const uint8_t* p = in + static_cast<ptrdiff_t>(first) * kBands;
      for (int k = 0; k < f.taps; ++k, p += kBands) {
        for (int b = 0; b < kBands; ++b) acc[b] += w[k] * p[b];
      }
    } else {
      for (int k = 0; k < f.taps; ++k) {
        const uint8_t* p =
            in + static_cast<ptrdiff_t>(std::clamp(first + k, 0, in_width - 1)) * kBands;
        for (int b = 0; b < kBands; ++b) acc[b] += w[k] * p[b];
      }
    }
    for (int b = 0; b < kBands; ++b) out[x * kBands + b] = Clamp(acc[b]);
  }
}

template <int kBands>
void ReduceRows(const uint8_t* in, size_t in_stride, int in_width, int height, const Filter& f,
                uint8_t* out, int out_width) {
  const size_t out_stride = static_cast<size_t>(out_width) * kBands;
  for (int y = 0; y < height; ++y) {
    ReduceRow<kBands>(in + static_cast<size_t>(y) * in_stride, in_width, f,
                      out + static_cast<size_t>(y) * out_stride, out_width);
  }
}

}  // namespace

void ReduceWidthLanczos3(const uint8_t* in, size_t in_stride, int in_width, int height, int bands,
                         uint8_t* out, int out_width, double scale) {
  Filter f = MakeFilter(out_width, scale);
  switch (bands) {
    case 1:
      return ReduceRows<1>(in, in_stride, in_width, height, f, out, out_width);
    case 2:
      return ReduceRows<2>(in, in_stride, in_width, height, f, out, out_width);
    case 3:
      return ReduceRows<3>(in, in_stride, in_width, height, f, out, out_width);
    default:
      return ReduceRows<4>(in, in_stride, in_width, height, f, out, out_width);
  }
}

}  // namespace imgbatch::imaging
