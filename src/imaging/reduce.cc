#include "imaging/reduce.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define IMGBATCH_REDUCE_AVX2 1
#endif

namespace imgbatch::imaging {
namespace {

constexpr int kLobes = 3;
constexpr int kWeightBits = 14;  // weights sum to 1 << 14; 255 * 2^14 * |sum| fits int32
constexpr int32_t kOne = 1 << kWeightBits;

double Lanczos3(double x) {
  x = std::abs(x);
  if (x < 1e-9) return 1.0;
  if (x >= kLobes) return 0.0;
  // sin(3t) = sin(t) * (3 - 4 sin^2(t)): one sin() per tap instead of two
  // (the filters' sin() calls were ~0.6% of all CPU).
  static_assert(kLobes == 3);
  const double px = std::numbers::pi * x;
  const double s = std::sin(px / kLobes);
  return kLobes * s * (3 - 4 * s * s) * s / (px * px);
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

#ifdef IMGBATCH_REDUCE_AVX2
// The AVX2 pass (3 and 4 bands): four taps per step. One 16-byte load holds
// pixels k..k+3; a byte shuffle puts pixels k,k+1 in the low lane and k+2,k+3
// in the high lane as 16-bit pairs (r_k r_k+1 g_k g_k+1 ...), and one
// multiply-add against (w_k w_k+1) pairs sums two taps per band. Same
// fixed-point arithmetic as ReduceRow, so the output is byte-identical.
// Built for AVX2 whatever the compile flags; chosen at run time.
constexpr int kTapsPerStep = 4;

// Weights as the multiply-add wants them: per output pixel and step, 16
// int16: (w0 w1) four times, then (w2 w3) four times. Taps past `taps` are 0.
struct VectorFilter {
  int steps = 0;
  std::vector<int16_t> pairs;
};

bool FitsInt16(const Filter& f) {
  return std::all_of(f.weights.begin(), f.weights.end(), [](int32_t w) {
    return w >= std::numeric_limits<int16_t>::min() && w <= std::numeric_limits<int16_t>::max();
  });
}

VectorFilter MakeVectorFilter(const Filter& f, int out_width) {
  VectorFilter v;
  v.steps = (f.taps + kTapsPerStep - 1) / kTapsPerStep;
  const size_t per_pixel = static_cast<size_t>(v.steps) * 16;
  v.pairs.assign(per_pixel * static_cast<size_t>(out_width), 0);
  for (int x = 0; x < out_width; ++x) {
    const int32_t* w = &f.weights[static_cast<size_t>(x) * static_cast<size_t>(f.taps)];
    auto tap = [&](int k) { return static_cast<int16_t>(k < f.taps ? w[k] : 0); };
    int16_t* dst = &v.pairs[per_pixel * static_cast<size_t>(x)];
    for (int s = 0; s < v.steps; ++s, dst += 16) {
      const int k = s * kTapsPerStep;
      for (int i = 0; i < 4; ++i) {
        dst[2 * i] = tap(k);
        dst[2 * i + 1] = tap(k + 1);
        dst[8 + 2 * i] = tap(k + 2);
        dst[8 + 2 * i + 1] = tap(k + 3);
      }
    }
  }
  return v;
}

// pshufb masks (per 128-bit lane; -1 writes a zero byte) that widen pixels
// k,k+1 (low lane) and k+2,k+3 (high lane) into 16-bit (band_k, band_k+1).
template <int kBands>
__attribute__((target("avx2"))) __m256i PairShuffle() {
  if constexpr (kBands == 3) {
    return _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,  //
                            6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  } else {
    return _mm256_setr_epi8(0, -1, 4, -1, 1, -1, 5, -1, 2, -1, 6, -1, 3, -1, 7, -1,  //
                            8, -1, 12, -1, 9, -1, 13, -1, 10, -1, 14, -1, 11, -1, 15, -1);
  }
}

// The sums for one output pixel from `steps` groups of four pixels starting
// at `p` (reads (steps - 1) * 4 * kBands + 16 bytes): per band, the low lane
// holds taps 0,1 (mod 4) and the high lane taps 2,3.
template <int kBands>
__attribute__((target("avx2"))) inline __m256i AccumulateAvx2(const uint8_t* p, const int16_t* w,
                                                              int steps, __m256i shuffle) {
  __m256i acc = _mm256_setzero_si256();
  for (int s = 0; s < steps; ++s, p += kTapsPerStep * kBands, w += 16) {
    __m256i pixels =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    __m256i weights = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_shuffle_epi8(pixels, shuffle), weights));
  }
  return acc;
}

template <int kBands>
__attribute__((target("avx2"))) inline void StoreOneAvx2(__m256i acc, uint8_t* out) {
  __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  sum = _mm_srai_epi32(_mm_add_epi32(sum, _mm_set1_epi32(kOne >> 1)), kWeightBits);
  sum = _mm_packus_epi16(_mm_packs_epi32(sum, sum), sum);  // clamps to 0..255
  const uint32_t packed = static_cast<uint32_t>(_mm_cvtsi128_si32(sum));
  std::memcpy(out, &packed, kBands);
}

// Four pixels' sums finished together: the rounding, packing and storing
// was ~40% of the pass when done per pixel.
template <int kBands>
__attribute__((target("avx2"))) inline void StoreFourAvx2(__m256i a0, __m256i a1, __m256i a2,
                                                          __m256i a3, uint8_t* out) {
  const __m256i round = _mm256_set1_epi32(kOne >> 1);
  // (pixel 0 | pixel 1) and (pixel 2 | pixel 3), each lane RGBX as int32
  __m256i p01 = _mm256_add_epi32(_mm256_permute2x128_si256(a0, a1, 0x20),
                                 _mm256_permute2x128_si256(a0, a1, 0x31));
  __m256i p23 = _mm256_add_epi32(_mm256_permute2x128_si256(a2, a3, 0x20),
                                 _mm256_permute2x128_si256(a2, a3, 0x31));
  p01 = _mm256_srai_epi32(_mm256_add_epi32(p01, round), kWeightBits);
  p23 = _mm256_srai_epi32(_mm256_add_epi32(p23, round), kWeightBits);
  // packs works per lane: (p0 p2 | p1 p3) as int16; reorder the qwords to
  // p0 p1 p2 p3, then packus leaves the four pixels' bytes in each lane's
  // low half.
  __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(p01, p23), 0xD8);
  __m256i bytes = _mm256_packus_epi16(words, words);
  __m128i pixels = _mm256_castsi256_si128(_mm256_permute4x64_epi64(bytes, 0x08));
  if constexpr (kBands == 4) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), pixels);
  } else {
    pixels = _mm_shuffle_epi8(
        pixels, _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), pixels);
    const uint32_t last = static_cast<uint32_t>(_mm_extract_epi32(pixels, 2));
    std::memcpy(out + 8, &last, 4);
  }
}

template <int kBands>
__attribute__((target("avx2"))) void ReduceRowsAvx2(const uint8_t* in, size_t in_stride,
                                                    int in_width, int height, const Filter& f,
                                                    const VectorFilter& v, uint8_t* out,
                                                    int out_width) {
  const __m256i shuffle = PairShuffle<kBands>();
  const size_t per_pixel = static_cast<size_t>(v.steps) * 16;
  const int span = v.steps * kTapsPerStep;  // pixels the steps cover
  const ptrdiff_t row_bytes = static_cast<ptrdiff_t>(in_width) * kBands;
  auto first = [&](int x) { return f.first[static_cast<size_t>(x)]; };
  auto weights = [&](int x) { return &v.pairs[per_pixel * static_cast<size_t>(x)]; };
  // Whether all of pixel x's loads fall inside the row; `first` grows with x.
  auto interior = [&](int x) {
    return first(x) >= 0 &&
           static_cast<ptrdiff_t>(first(x) + span - kTapsPerStep) * kBands + 16 <= row_bytes;
  };
  // Edge pixels (and those whose last 16-byte load would run past the row)
  // read from a copy with the edge pixel repeated, as ReduceRow clamps.
  std::vector<uint8_t> edge(static_cast<size_t>(span * kBands + 16), 0);
  const size_t out_stride = static_cast<size_t>(out_width) * kBands;
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = in + static_cast<size_t>(y) * in_stride;
    uint8_t* dst = out + static_cast<size_t>(y) * out_stride;
    auto at = [&](int x) { return row + static_cast<ptrdiff_t>(first(x)) * kBands; };
    int x = 0;
    while (x < out_width) {
      if (x + 4 <= out_width && interior(x) && interior(x + 3)) {
        StoreFourAvx2<kBands>(AccumulateAvx2<kBands>(at(x), weights(x), v.steps, shuffle),
                              AccumulateAvx2<kBands>(at(x + 1), weights(x + 1), v.steps, shuffle),
                              AccumulateAvx2<kBands>(at(x + 2), weights(x + 2), v.steps, shuffle),
                              AccumulateAvx2<kBands>(at(x + 3), weights(x + 3), v.steps, shuffle),
                              dst + static_cast<size_t>(x) * kBands);
        x += 4;
        continue;
      }
      const uint8_t* p = at(x);
      if (!interior(x)) {
        for (int k = 0; k < span; ++k) {
          const uint8_t* src =
              row + static_cast<ptrdiff_t>(std::clamp(first(x) + k, 0, in_width - 1)) * kBands;
          std::memcpy(&edge[static_cast<size_t>(k * kBands)], src, kBands);
        }
        p = edge.data();
      }
      StoreOneAvx2<kBands>(AccumulateAvx2<kBands>(p, weights(x), v.steps, shuffle),
                           dst + static_cast<size_t>(x) * kBands);
      ++x;
    }
  }
}

bool HasAvx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}

// True when the AVX2 pass handled it.
bool TryReduceAvx2(const uint8_t* in, size_t in_stride, int in_width, int height, int bands,
                   const Filter& f, uint8_t* out, int out_width) {
  if ((bands != 3 && bands != 4) || !HasAvx2() || !FitsInt16(f)) return false;
  VectorFilter v = MakeVectorFilter(f, out_width);
  if (bands == 3) {
    ReduceRowsAvx2<3>(in, in_stride, in_width, height, f, v, out, out_width);
  } else {
    ReduceRowsAvx2<4>(in, in_stride, in_width, height, f, v, out, out_width);
  }
  return true;
}

// The same with the vector taps built once (WidthReducer).
bool UsesAvx2(int bands, const Filter& f) {
  return (bands == 3 || bands == 4) && HasAvx2() && FitsInt16(f);
}

void ReduceAvx2(const uint8_t* in, size_t in_stride, int in_width, int height, int bands,
                const Filter& f, const VectorFilter& v, uint8_t* out, int out_width) {
  if (bands == 3) {
    ReduceRowsAvx2<3>(in, in_stride, in_width, height, f, v, out, out_width);
  } else {
    ReduceRowsAvx2<4>(in, in_stride, in_width, height, f, v, out, out_width);
  }
}

// The vertical pass: 16 bytes of a row at a time, two taps (rows) per
// multiply-add on (row_k, row_k+1) 16-bit pairs. Any band count: columns are
// independent. `rows` holds 2 * pairs row pointers (an odd tap count is
// padded with a zero weight); `pair_weights` the (w_k, w_k+1) int32 pairs.
__attribute__((target("avx2"))) void ReduceColumnsAvx2(const uint8_t* const* rows,
                                                       const int32_t* pair_weights, int pairs,
                                                       size_t row_bytes, uint8_t* out) {
  const __m256i round = _mm256_set1_epi32(kOne >> 1);
  size_t i = 0;
  for (; i + 16 <= row_bytes; i += 16) {
    __m256i lo = _mm256_setzero_si256();
    __m256i hi = _mm256_setzero_si256();
    for (int k = 0; k < pairs; ++k) {
      __m256i a =
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2 * k] + i)));
      __m256i b = _mm256_cvtepu8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2 * k + 1] + i)));
      __m256i w = _mm256_set1_epi32(pair_weights[k]);
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w));
    }
    lo = _mm256_srai_epi32(_mm256_add_epi32(lo, round), kWeightBits);
    hi = _mm256_srai_epi32(_mm256_add_epi32(hi, round), kWeightBits);
    // unpack/pack work per 128-bit lane, so packs(lo, hi) is back in column
    // order within each lane; packus then leaves bytes 0-7 in lane 0 and
    // 8-15 in lane 1.
    __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(lo, hi), _mm256_setzero_si256());
    bytes = _mm256_permute4x64_epi64(bytes, 0x08);  // qwords 0, 2 to the low lane
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_castsi256_si128(bytes));
  }
  for (; i < row_bytes; ++i) {
    int32_t acc = 0;
    for (int k = 0; k < pairs; ++k) {
      acc += static_cast<int16_t>(pair_weights[k] & 0xFFFF) * rows[2 * k][i] +
             static_cast<int16_t>(pair_weights[k] >> 16) * rows[2 * k + 1][i];
    }
    out[i] = Clamp(acc);
  }
}

#else
bool TryReduceAvx2(const uint8_t*, size_t, int, int, int, const Filter&, uint8_t*, int) {
  return false;
}
#endif

void ReduceScalar(const uint8_t* in, size_t in_stride, int in_width, int height, int bands,
                  const Filter& f, uint8_t* out, int out_width) {
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

}  // namespace

struct WidthReducer::Taps {
  Filter filter;
#ifdef IMGBATCH_REDUCE_AVX2
  std::optional<VectorFilter> vector;  // set when the AVX2 pass applies
#endif
};

WidthReducer::WidthReducer(int in_width, int bands, int out_width, double scale)
    : in_width_(in_width), bands_(bands), out_width_(out_width) {
  auto taps = std::make_unique<Taps>();
  taps->filter = MakeFilter(out_width, scale);
#ifdef IMGBATCH_REDUCE_AVX2
  if (UsesAvx2(bands, taps->filter)) taps->vector = MakeVectorFilter(taps->filter, out_width);
#endif
  taps_ = std::move(taps);
}

WidthReducer::~WidthReducer() = default;

void WidthReducer::Reduce(const uint8_t* in, size_t in_stride, int height, uint8_t* out) const {
#ifdef IMGBATCH_REDUCE_AVX2
  if (taps_->vector) {
    return ReduceAvx2(in, in_stride, in_width_, height, bands_, taps_->filter, *taps_->vector, out,
                      out_width_);
  }
#endif
  ReduceScalar(in, in_stride, in_width_, height, bands_, taps_->filter, out, out_width_);
}

void ReduceWidthLanczos3(const uint8_t* in, size_t in_stride, int in_width, int height, int bands,
                         uint8_t* out, int out_width, double scale) {
  Filter f = MakeFilter(out_width, scale);
  if (TryReduceAvx2(in, in_stride, in_width, height, bands, f, out, out_width)) return;
  ReduceScalar(in, in_stride, in_width, height, bands, f, out, out_width);
}

namespace {

// The rows one output row reads, edge rows repeated.
void RowsFor(const Filter& f, int y, const uint8_t* in, size_t in_stride, int in_height,
             const uint8_t** rows, int count) {
  const int first = f.first[static_cast<size_t>(y)];
  for (int k = 0; k < count; ++k) {
    rows[k] = in + static_cast<size_t>(std::clamp(first + k, 0, in_height - 1)) * in_stride;
  }
}

void ReduceHeightScalar(const uint8_t* in, size_t in_stride, size_t row_bytes, int in_height,
                        const Filter& f, uint8_t* out, size_t out_stride, int out_height) {
  std::vector<const uint8_t*> rows(static_cast<size_t>(f.taps));
  std::vector<int32_t> acc(row_bytes);
  for (int y = 0; y < out_height; ++y) {
    RowsFor(f, y, in, in_stride, in_height, rows.data(), f.taps);
    const int32_t* w = &f.weights[static_cast<size_t>(y) * static_cast<size_t>(f.taps)];
    std::fill(acc.begin(), acc.end(), 0);
    for (int k = 0; k < f.taps; ++k) {
      const uint8_t* row = rows[static_cast<size_t>(k)];
      for (size_t i = 0; i < row_bytes; ++i) acc[i] += w[k] * row[i];
    }
    uint8_t* dst = out + static_cast<size_t>(y) * out_stride;
    for (size_t i = 0; i < row_bytes; ++i) dst[i] = Clamp(acc[i]);
  }
}

#ifdef IMGBATCH_REDUCE_AVX2
void ReduceHeightAvx2(const uint8_t* in, size_t in_stride, size_t row_bytes, int in_height,
                      const Filter& f, uint8_t* out, size_t out_stride, int out_height) {
  const int pairs = (f.taps + 1) / 2;
  std::vector<const uint8_t*> rows(static_cast<size_t>(2 * pairs));
  std::vector<int32_t> pair_weights(static_cast<size_t>(pairs));
  for (int y = 0; y < out_height; ++y) {
    RowsFor(f, y, in, in_stride, in_height, rows.data(), f.taps);
    if (f.taps % 2 != 0) rows.back() = rows.front();  // read, weighted 0
    const int32_t* w = &f.weights[static_cast<size_t>(y) * static_cast<size_t>(f.taps)];
    for (int k = 0; k < pairs; ++k) {
      const int32_t second = 2 * k + 1 < f.taps ? w[2 * k + 1] : 0;
      pair_weights[static_cast<size_t>(k)] =
          static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(w[2 * k])) |
                               (static_cast<uint32_t>(static_cast<uint16_t>(second)) << 16));
    }
    ReduceColumnsAvx2(rows.data(), pair_weights.data(), pairs, row_bytes,
                      out + static_cast<size_t>(y) * out_stride);
  }
}
#endif

}  // namespace

void ReduceHeightLanczos3(const uint8_t* in, size_t in_stride, size_t row_bytes, int in_height,
                          uint8_t* out, size_t out_stride, int out_height, double scale) {
  Filter f = MakeFilter(out_height, scale);
#ifdef IMGBATCH_REDUCE_AVX2
  if (HasAvx2() && FitsInt16(f)) {
    return ReduceHeightAvx2(in, in_stride, row_bytes, in_height, f, out, out_stride, out_height);
  }
#endif
  ReduceHeightScalar(in, in_stride, row_bytes, in_height, f, out, out_stride, out_height);
}

void ReduceHeightLanczos3Scalar(const uint8_t* in, size_t in_stride, size_t row_bytes,
                                int in_height, uint8_t* out, size_t out_stride, int out_height,
                                double scale) {
  ReduceHeightScalar(in, in_stride, row_bytes, in_height, MakeFilter(out_height, scale), out,
                     out_stride, out_height);
}

void ReduceWidthLanczos3Scalar(const uint8_t* in, size_t in_stride, int in_width, int height,
                               int bands, uint8_t* out, int out_width, double scale) {
  ReduceScalar(in, in_stride, in_width, height, bands, MakeFilter(out_width, scale), out,
               out_width);
}

}  // namespace imgbatch::imaging
