// The image job: one input image in, several encoded outputs out (the seed's
// `resized` and `thumbs` by default). Decodes once at the smallest sufficient
// scale (JPEG: libjpeg-turbo DCT scaling by M/8), applies EXIF orientation,
// converts to sRGB through the embedded ICC profile, resizes with Lanczos3,
// strips all metadata and encodes with libvips. Knows nothing of S3 or queues.
//
// Thread-safety: call InitImaging() once per process before anything else;
// after that Process() is thread-safe and meant to be called with one image
// per thread (libvips' own threading is turned off by InitImaging).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imgbatch::imaging {

enum class ImageFormat { kJpeg, kWebp, kAvif, kPng };
enum class Fit {
  kInside,  // keep aspect, fit inside the box (the seed's thumbnail())
  kCover,   // keep aspect, fill the box, crop the centre
};
enum class ChromaSubsampling { k420, k444 };

// One output of the job. Defaults are the seed's `resized` output.
struct OutputSpec {
  std::string prefix = "resized";  // key prefix / output directory
  int width = 1024;                // the box
  int height = 768;
  Fit fit = Fit::kInside;
  ImageFormat format = ImageFormat::kJpeg;
  int quality = 100;  // 1..100
  ChromaSubsampling chroma = ChromaSubsampling::k420;
  bool strip_metadata = true;  // EXIF/GPS are private; pixels are sRGB anyway
};

// The seed's outputs: resized (1024x768, JPEG q100 4:2:0), thumbs (192x192, q75).
std::vector<OutputSpec> DefaultOutputs();

// Parses a compact list of outputs, e.g.
//   "resized:1024x768:jpeg:q100;thumbs:192x192:q75:cover"
// Each entry is PREFIX:WxH followed by any of: jpeg|webp|avif|png, qN,
// inside|cover, 420|444, strip|keep. Omitted fields take OutputSpec's defaults.
Result<std::vector<OutputSpec>> ParseOutputSpecs(std::string_view text);
std::string FormatOutputSpecs(const std::vector<OutputSpec>& outputs);

const char* FormatName(ImageFormat format);     // "jpeg"
const char* ContentType(ImageFormat format);    // "image/jpeg"
const char* FileExtension(ImageFormat format);  // ".jpg"
// The output key for an input key: the extension is replaced only when the
// input's extension does not already name the output format ("a.JPEG" stays).
std::string OutputName(std::string_view input_name, ImageFormat format);

struct Limits {
  uint64_t max_input_bytes = 256ull << 20;
  uint64_t max_pixels = 100'000'000;  // width * height, from the header
  int max_dimension = 65'500;         // either side, from the header
  // Working memory the JPEG decoder may allocate (progressive coefficient
  // buffers grow with the input size, not the output size).
  uint64_t max_decoder_memory = 512ull << 20;
};

// A process-wide budget for the working memory of the images in flight
// (memory_budget.h): Process() estimates an image's need from its header (a
// progressive JPEG's coefficient buffers, the pixels decoded at the load
// scale, the resize buffers) and waits while it does not fit beside the
// images other threads are processing. Never refuses: an image bigger than
// the whole budget runs when nothing else is in flight (the Limits decide
// what is refused). The default keeps two threads under 128 MiB of peak RSS
// on the corpus while only its two big progressive JPEGs run alone
// (docs/benchmarks.md, "Imaging memory budget"). 0: unlimited.
constexpr uint64_t kDefaultMemoryBudget = uint64_t{96} << 20;
void SetMemoryBudget(uint64_t bytes);
uint64_t MemoryBudgetBytes();

struct EncodedImage {
  std::string prefix;  // the OutputSpec's prefix
  std::string bytes;
  int width = 0;
  int height = 0;
  ImageFormat format = ImageFormat::kJpeg;
  std::string content_type;
};

// Error classes, carried as the Status detail (ErrorName) of every failure
// Process() returns. Permanent ones never succeed on retry.
enum class ImageError {
  kNotAnImage,   // permanent: no known image signature
  kCorrupt,      // permanent: truncated or damaged data
  kTooLarge,     // permanent: over a Limits bound (bytes, pixels, dimension)
  kUnsupported,  // permanent: a format or feature we do not handle
  kOutOfMemory,  // transient
  kIo,           // transient
  kInternal,     // transient: a bug or an unexpected library failure
};
const char* ErrorName(ImageError error);  // "NotAnImage", ...
// The class of a Status returned by this module (kInternal if unknown).
ImageError ErrorOf(const Status& status);
// True when retrying the same bytes cannot help.
bool IsPermanent(const Status& status);

// Starts libvips once per process (idempotent, thread-safe): blocks untrusted
// loaders, turns off libvips threading and its operation cache. argv0 may be
// null. Returns an error if libvips cannot start.
Status InitImaging(const char* argv0 = nullptr);

// Runs the job on one image. Outputs come back in the order of `outputs`.
Result<std::vector<EncodedImage>> Process(std::string_view input_bytes,
                                          const std::vector<OutputSpec>& outputs,
                                          const Limits& limits = {});
// The same, but owns the input and frees it as soon as the decoder is done
// with it: a progressive JPEG is read whole before its first pixel row, so
// its bytes need not sit beside the pixels (the peak memory drops by the
// input size). Results are identical to Process().
Result<std::vector<EncodedImage>> ProcessTakingInput(std::string input_bytes,
                                                     const std::vector<OutputSpec>& outputs,
                                                     const Limits& limits = {});

// Scheduling against the memory budget (memory_budget.h) without blocking:
// the working memory ProcessTakingInput() will reserve for an input, read
// from its header only (nothing is decoded). `head` is the start of the
// input, `input_size` the size of all of it; the head needs to hold the
// header (a JPEG's markers up to its first scan: usually a few KB, more with
// big EXIF or ICC segments). kOutOfRange when a head shorter than the input
// does not: read more, or all of it, and ask again. Other errors are the
// input's own (as Process() would report them).
Result<uint64_t> EstimateWorkingBytes(std::string_view head, uint64_t input_size,
                                      const std::vector<OutputSpec>& outputs,
                                      const Limits& limits = {});
// ProcessTakingInput() with memory the caller has already reserved, e.g. by
// MemoryBudget::TryReserve(EstimateWorkingBytes(...)), instead of reserving
// again; trimmed to what the image needs. Should it hold less (the file
// changed since it was estimated), it is given back and a full reservation
// taken instead, which may wait. An empty reservation: reserves as usual.
class MemoryReservation;  // memory_budget.h
Result<std::vector<EncodedImage>> ProcessTakingInput(std::string input_bytes,
                                                     const std::vector<OutputSpec>& outputs,
                                                     const Limits& limits,
                                                     MemoryReservation reservation);

// Probes the header only: dimensions as stored (before orientation) and the
// format. Applies `limits`. Useful for the worker's logs and for tests.
struct ImageInfo {
  int width = 0;
  int height = 0;
  int orientation = 1;  // EXIF 1..8
  std::string loader;   // "jpeg", "png", ...
};
Result<ImageInfo> Probe(std::string_view input_bytes, const Limits& limits = {});

}  // namespace imgbatch::imaging
