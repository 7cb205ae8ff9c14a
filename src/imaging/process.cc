// The image job. Two decoders feed one pipeline:
//  - JPEG (most inputs): libjpeg-turbo decodes at the smallest M/8 scale that
//    still covers the largest output, straight into memory that libvips wraps.
//  - everything else: libvips' thumbnail (shrink-on-load where the format has
//    it), after an allow-list check of the loader and a header-only probe.
// Then, per output from largest to smallest, each output is resized from the
// smallest already-computed image that covers it (thumbs from resized), so
// every pixel is decoded once. Orientation and ICC conversion are applied
// after the first resize, on the smaller image, where they cost least.
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vips/vips8>

#include <spdlog/spdlog.h>

#include "common/strings.h"
#include "imaging/errors.h"
#include "imaging/imaging.h"
#include "imaging/jpeg_decoder.h"
#include "imaging/memory_budget.h"
#include "imaging/metadata.h"
#include "imaging/reduce.h"
#include "imaging/vips_modules.h"

namespace imgbatch::imaging {
namespace {

using vips::VError;
using vips::VImage;

constexpr int kMaxJpegScale = 8;  // M/8 with M <= 8: never decode above full size
// DCT scaling is a crude filter: decoding straight to the box size cost up to
// 0.045 SSIM against a Lanczos3 reference (mx_Samsung_Galaxy_Note3: 0.954 vs
// sharp's 0.998). Leaving Lanczos3 a reduction of at least 2x (as libvips'
// thumbnail does) put every corpus image within 0.0003 of sharp; 1.6x came
// within 0.003, 1.3x missed by 0.008. Measured with bench/imaging/quality.py.
constexpr int kMinFinalReduce = 2;
// ... unless a SIMD-backed scale leaves at least this much (ChooseJpegScale).
constexpr double kMinSimdFinalReduce = 1.6;
constexpr double kWhite = 255.0;

// Loaders we accept, by libvips operation name (from content sniffing).
// Everything else — SVG, PDF, and the untrusted loaders — is refused.
struct LoaderName {
  const char* operation;
  const char* name;
};
constexpr LoaderName kAllowedLoaders[] = {
    {"VipsForeignLoadJpegBuffer", "jpeg"},
    {"VipsForeignLoadPngBuffer", "png"},
    {"VipsForeignLoadWebpBuffer", "webp"},
    {"VipsForeignLoadTiffBuffer", "tiff"},
    {"VipsForeignLoadHeifBuffer", "heif"},
    // libvips 8.14 (Debian 12) loads GIF with libnsgif; older ones with giflib.
    {"VipsForeignLoadNsgifBuffer", "gif"},
    {"VipsForeignLoadGifBuffer", "gif"},
};

struct Size {
  int width = 0;
  int height = 0;
  bool Covers(Size other) const { return width >= other.width && height >= other.height; }
  int64_t Area() const { return int64_t{width} * height; }
};

Size Transposed(Size s) { return {s.height, s.width}; }

// A size in (possibly fractional) input pixels.
struct Extent {
  double width = 0;
  double height = 0;
};
bool SwapsAxes(int orientation) { return orientation >= 5 && orientation <= 8; }

// What one output needs from the (oriented) source: the resized size and,
// for cover, the centred crop inside it.
struct OutputPlan {
  size_t index = 0;
  Size resized;
  Size final_size;
};

OutputPlan PlanOutput(size_t index, const OutputSpec& spec, Size source) {
  double sx = static_cast<double>(spec.width) / source.width;
  double sy = static_cast<double>(spec.height) / source.height;
  double scale = spec.fit == Fit::kInside ? std::min(sx, sy) : std::max(sx, sy);
  OutputPlan plan{index, source, source};
  if (scale < 1.0) {  // never upscale
    plan.resized.width = std::max(1, static_cast<int>(std::lround(source.width * scale)));
    plan.resized.height = std::max(1, static_cast<int>(std::lround(source.height * scale)));
  }
  plan.final_size = plan.resized;
  if (spec.fit == Fit::kCover) {
    plan.final_size.width = std::min(plan.resized.width, spec.width);
    plan.final_size.height = std::min(plan.resized.height, spec.height);
  } else {
    plan.resized.width = std::min(plan.resized.width, std::max(spec.width, 1));
    plan.resized.height = std::min(plan.resized.height, std::max(spec.height, 1));
    plan.final_size = plan.resized;
  }
  return plan;
}

// The order RunOutputs works in: each output is derived from the smallest
// earlier one that covers it, or else resized from the decoded image.
std::vector<OutputPlan> LargestFirst(std::vector<OutputPlan> plans) {
  std::stable_sort(plans.begin(), plans.end(), [](const OutputPlan& a, const OutputPlan& b) {
    return a.resized.Area() > b.resized.Area();
  });
  return plans;
}

// The one resize from the decoded image when the largest output covers all
// the others (the default outputs: thumbs from resized); nullopt when some
// output needs its own resize from the decoded image.
std::optional<OutputPlan> OnlyResizeFromSource(const std::vector<OutputPlan>& plans) {
  if (plans.empty()) return std::nullopt;
  OutputPlan largest = LargestFirst(plans).front();
  for (const auto& p : plans) {
    if (!largest.resized.Covers(p.resized)) return std::nullopt;
  }
  return largest;
}

Size LargestNeed(const std::vector<OutputPlan>& plans) {
  Size need{1, 1};
  for (const auto& p : plans) {
    need.width = std::max(need.width, p.resized.width);
    need.height = std::max(need.height, p.resized.height);
  }
  return need;
}

Status CheckLimits(int width, int height, const Limits& limits) {
  if (width <= 0 || height <= 0) return ImageFailure(ImageError::kCorrupt, "image has no pixels");
  if (width > limits.max_dimension || height > limits.max_dimension) {
    return ImageFailure(ImageError::kTooLarge, std::to_string(width) + "x" +
                                                   std::to_string(height) +
                                                   " exceeds the maximum dimension " +
                                                   std::to_string(limits.max_dimension));
  }
  uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (pixels > limits.max_pixels) {
    return ImageFailure(ImageError::kTooLarge, std::to_string(width) + "x" +
                                                   std::to_string(height) +
                                                   " exceeds the limit of " +
                                                   std::to_string(limits.max_pixels) + " pixels");
  }
  return Status::Ok();
}

Status CheckInputSize(uint64_t size, const Limits& limits) {
  if (size == 0) return ImageFailure(ImageError::kNotAnImage, "empty input");
  if (size > limits.max_input_bytes) {
    return ImageFailure(ImageError::kTooLarge, "input of " + std::to_string(size) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_input_bytes));
  }
  return Status::Ok();
}

// libvips reports everything as VError with the text of its error buffer;
// sort it into our classes. The buffer is process-wide and keeps growing
// until cleared, so it is cleared here: otherwise each failure's message
// would carry every earlier one's too (and, after one out-of-memory, every
// later failure would read as one). Its lines become one. With images on
// several threads this stays best effort: a failure at the same moment as
// another's clear can lose its text (then "libvips failed", classed by the
// fallback) or carry the other's; libvips has no per-thread buffer.
Status FromVipsError(const VError& e, ImageError fallback) {
  vips_error_clear();
  std::string message;
  for (std::string_view line : Split(e.what(), '\n')) {
    if (line.empty()) continue;
    if (!message.empty()) message += "; ";
    message += line;
  }
  if (message.find("out of memory") != std::string::npos ||
      message.find("Out of memory") != std::string::npos) {
    return ImageFailure(ImageError::kOutOfMemory, message);
  }
  return ImageFailure(fallback, message.empty() ? "libvips failed" : message);
}

// ---- orientation, colour, resizing on VImages -----------------------------

VImage Orient(VImage image, int orientation) {
  switch (orientation) {
    case 2:
      return image.fliphor();
    case 3:
      return image.rot(VIPS_ANGLE_D180);
    case 4:
      return image.flipver();
    case 5:
      return image.rot(VIPS_ANGLE_D90).fliphor();
    case 6:
      return image.rot(VIPS_ANGLE_D90);
    case 7:
      return image.rot(VIPS_ANGLE_D270).fliphor();
    case 8:
      return image.rot(VIPS_ANGLE_D270);
    default:
      return image;
  }
}

// Sets the interpretation in the image's own header. Setting it with copy()
// instead makes a lazy image, which copy_memory() later duplicates (a 2.4 MB
// memcpy for every resized output).
VImage WithInterpretation(VImage image, VipsInterpretation interpretation) {
  image.get_image()->Type = interpretation;
  return image;
}

// A libvips image that frees `pixels` (from malloc) when it closes.
VImage AdoptPixels(uint8_t* pixels, int width, int height, int bands,
                   VipsInterpretation interpretation) {
  const size_t bytes = static_cast<size_t>(width) * static_cast<size_t>(height) * bands;
  return WithInterpretation(
      VImage::new_from_memory_steal(pixels, bytes, width, height, bands, VIPS_FORMAT_UCHAR),
      interpretation);
}

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using MallocBuffer = std::unique_ptr<uint8_t, FreeDeleter>;

// Uninitialised on purpose: every byte is written by a reduce pass, and
// zeroing megabytes cost measurable time (libvips' buffers are zeroed).
MallocBuffer AllocatePixels(size_t bytes) {
  MallocBuffer buffer(static_cast<uint8_t*>(std::malloc(bytes)));
  if (!buffer) throw VError("out of memory for the resize");
  return buffer;
}

// Our horizontal pass (reduce.h) on a materialised 8-bit image without alpha.
VImage ReduceWidth(VImage image, int width, double scale) {
  VImage in = image.copy_memory();  // a no-op for images already in memory
  const int bands = in.bands();
  MallocBuffer out = AllocatePixels(static_cast<size_t>(width) * in.height() * bands);
  ReduceWidthLanczos3(static_cast<const uint8_t*>(in.data()),
                      VIPS_IMAGE_SIZEOF_LINE(in.get_image()), in.width(), in.height(), bands,
                      out.get(), width, scale);
  return AdoptPixels(out.release(), width, in.height(), bands, in.interpretation());
}

// Our vertical pass (reduce.h) on a materialised 8-bit image without alpha.
VImage ReduceHeight(VImage image, int height, double vshrink) {
  VImage in = image.copy_memory();  // a no-op for images already in memory
  const size_t row_bytes = static_cast<size_t>(in.width()) * in.bands();
  MallocBuffer out = AllocatePixels(row_bytes * height);
  ReduceHeightLanczos3(static_cast<const uint8_t*>(in.data()),
                       VIPS_IMAGE_SIZEOF_LINE(in.get_image()), row_bytes, in.height(), out.get(),
                       row_bytes, height, vshrink);
  return AdoptPixels(out.release(), in.width(), height, in.bands(), in.interpretation());
}

// Drops rows/columns past `size` (the partial last pixel of a DCT-scaled
// decode ends up there).
VImage CropTo(VImage image, Size size) {
  if (image.width() == size.width && image.height() == size.height) return image;
  return image.extract_area(0, 0, std::min(size.width, image.width()),
                            std::min(size.height, image.height()));
}

// Resizes to exactly `size` with Lanczos3, alpha premultiplied so that
// transparent pixels do not bleed colour. `content` is how many input pixels
// hold the picture: a JPEG decoded at M/8 is ceil(W * M / 8) wide, but only
// W * M / 8 of that is picture, and scaling by the rounded-up size stretches
// the image by up to a pixel (measured: SSIM 0.976 instead of 0.992 on a
// 3837-row photo). Not libvips' resize(): in 8.14 it box-shrinks first and
// was 7x slower than one Lanczos3 reduce for the thumbnail step (measured);
// and not its reduceh() where reduce.h applies.
VImage ResizeTo(VImage image, Size size, std::optional<Extent> content = std::nullopt) {
  Extent picture = content.value_or(
      Extent{static_cast<double>(image.width()), static_cast<double>(image.height())});
  if (image.width() == size.width && image.height() == size.height) return image;
  double hshrink = picture.width / size.width;
  double vshrink = picture.height / size.height;
  auto lanczos3 = [] { return VImage::option()->set("kernel", VIPS_KERNEL_LANCZOS3); };
  if (hshrink < 1.0 || vshrink < 1.0) {
    // Only when a decoder rounded one pixel short of the target.
    return CropTo(image.resize(1.0 / hshrink, VImage::option()->set("vscale", 1.0 / vshrink)),
                  size);
  }
  if (image.has_alpha()) {
    VipsBandFormat format = image.format();
    return CropTo(
        image.premultiply().reduce(hshrink, vshrink, lanczos3()).unpremultiply().cast(format),
        size);
  }
  if (image.format() == VIPS_FORMAT_UCHAR && image.bands() <= 4) {
    // Both passes ours, buffer to buffer (no libvips pipeline, no Orc program
    // compiled per image), vertical first so that the horizontal pass runs on
    // the fewer output rows. Rows a progressive JPEG narrowed while decoding
    // need the vertical pass alone.
    VImage shorter = vshrink > 1.0 ? ReduceHeight(image, size.height, vshrink) : image;
    return hshrink > 1.0 ? ReduceWidth(shorter, size.width, hshrink) : CropTo(shorter, size);
  }
  return CropTo(image.reduce(hshrink, vshrink, lanczos3()), size);
}

VImage CropCentre(VImage image, Size size) {
  if (image.width() == size.width && image.height() == size.height) return image;
  int left = (image.width() - size.width) / 2;
  int top = (image.height() - size.height) / 2;
  return image.extract_area(left, top, size.width, size.height);
}

// 16-bit and float inputs become 8-bit sRGB / grey, as every encoder wants.
VImage ToEightBit(VImage image) {
  VipsInterpretation interpretation = image.interpretation();
  if (interpretation == VIPS_INTERPRETATION_GREY16)
    return image.colourspace(VIPS_INTERPRETATION_B_W);
  if (interpretation == VIPS_INTERPRETATION_RGB16)
    return image.colourspace(VIPS_INTERPRETATION_sRGB);
  if (image.format() != VIPS_FORMAT_UCHAR) return image.cast(VIPS_FORMAT_UCHAR);
  return image;
}

// Converts to sRGB through the embedded profile (CMYK: libvips' built-in CMYK
// profile when none is embedded). Grey stays grey; sRGB-tagged stays as is.
VImage AttachProfile(VImage image, const std::string& profile) {
  if (profile.empty()) return image;
  // set() mutates the header, so work on a private copy of the (lazy) image.
  VImage copy = image.copy();
  vips_image_set_blob_copy(copy.get_image(), VIPS_META_ICC_NAME, profile.data(), profile.size());
  return copy;
}

// Converts to sRGB through the embedded profile (CMYK: libvips' built-in CMYK
// profile when none is embedded). Grey stays grey; sRGB-tagged stays as is.
VImage ToSrgb(VImage image, const std::string& profile) {
  if (image.interpretation() == VIPS_INTERPRETATION_CMYK) {
    auto options = VImage::option()->set("embedded", !profile.empty());
    if (profile.empty()) options->set("input_profile", "cmyk");
    return AttachProfile(image, profile)
        .icc_transform("srgb", options->set("intent", VIPS_INTENT_RELATIVE));
  }
  if (image.bands() < 3 || profile.empty() || IsSrgbProfile(profile)) return image;
  return AttachProfile(image, profile)
      .icc_transform("srgb",
                     VImage::option()->set("embedded", true)->set("intent", VIPS_INTENT_RELATIVE));
}

VImage FlattenOntoWhite(VImage image) {
  if (!image.has_alpha()) return image;
  std::vector<double> white(static_cast<size_t>(image.bands() - 1), kWhite);
  return image.flatten(VImage::option()->set("background", white));
}

std::string TakeBlob(VipsBlob* blob) {
  size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  std::string bytes(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

Result<std::string> Encode(VImage image, const OutputSpec& spec) {
  switch (spec.format) {
    case ImageFormat::kJpeg: {
      // libvips turns subsampling off at Q >= 90 unless forced on; the seed's
      // Pillow output is 4:2:0 at Q100.
      auto mode = spec.chroma == ChromaSubsampling::k420 ? VIPS_FOREIGN_SUBSAMPLE_ON
                                                         : VIPS_FOREIGN_SUBSAMPLE_OFF;
      return TakeBlob(image.jpegsave_buffer(VImage::option()
                                                ->set("Q", spec.quality)
                                                ->set("strip", spec.strip_metadata)
                                                ->set("subsample_mode", mode)));
    }
    case ImageFormat::kWebp:
      return TakeBlob(image.webpsave_buffer(
          VImage::option()->set("Q", spec.quality)->set("strip", spec.strip_metadata)));
    case ImageFormat::kAvif:
      return TakeBlob(
          image.heifsave_buffer(VImage::option()
                                    ->set("Q", spec.quality)
                                    ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
                                    ->set("strip", spec.strip_metadata)));
    case ImageFormat::kPng:
      return TakeBlob(image.pngsave_buffer(VImage::option()->set("strip", spec.strip_metadata)));
  }
  return ImageFailure(ImageError::kUnsupported, "unknown output format");
}

// ---- the shared output stage ------------------------------------------------

// An image already oriented and in sRGB/grey, kept in memory to derive
// smaller outputs from.
struct Intermediate {
  VImage image;
  Size size;
};

// Produces the image for one output: from the smallest intermediate that
// covers it, or else from `first_stage` (which turns the decoded base into an
// oriented sRGB image of the requested size).
template <typename FirstStage>
VImage ImageFor(const OutputPlan& plan, std::vector<Intermediate>& intermediates,
                const FirstStage& first_stage) {
  const Intermediate* best = nullptr;
  for (const auto& candidate : intermediates) {
    if (candidate.size.Covers(plan.resized) &&
        (!best || candidate.size.Area() < best->size.Area())) {
      best = &candidate;
    }
  }
  VImage resized = best ? ResizeTo(best->image, plan.resized) : first_stage(plan.resized);
  resized = resized.copy_memory();
  intermediates.push_back({resized, plan.resized});
  return resized;
}

Result<std::vector<EncodedImage>> RunOutputs(const std::vector<OutputSpec>& outputs, Size source,
                                             const auto& first_stage) {
  std::vector<OutputPlan> plans;
  for (size_t i = 0; i < outputs.size(); ++i) plans.push_back(PlanOutput(i, outputs[i], source));
  std::vector<OutputPlan> by_size = LargestFirst(plans);

  std::vector<EncodedImage> encoded(outputs.size());
  std::vector<Intermediate> intermediates;
  for (const OutputPlan& plan : by_size) {
    const OutputSpec& spec = outputs[plan.index];
    VImage image = CropCentre(ImageFor(plan, intermediates, first_stage), plan.final_size);
    if (spec.format == ImageFormat::kJpeg) image = FlattenOntoWhite(image);
    image = ToEightBit(image);
    IMGBATCH_ASSIGN_OR_RETURN(std::string bytes, Encode(image, spec));
    encoded[plan.index] = EncodedImage{spec.prefix,    std::move(bytes), image.width(),
                                       image.height(), spec.format,      ContentType(spec.format)};
  }
  return encoded;
}

// ---- JPEG path -----------------------------------------------------------------

// The smallest M (scale M/8) whose exact scaled picture, W * M / 8, is at
// least kMinFinalReduce times `need` in both axes, or 8 (full size); then a
// smaller SIMD-backed M where it still leaves kMinSimdFinalReduce.
int ChooseJpegScale(Size stored, Size need) {
  auto leaves = [&](int m, double reduce) {  // exact: m / 8 is a binary fraction
    const double scale = static_cast<double>(m) / kMaxJpegScale;
    return stored.width * scale >= need.width * reduce &&
           stored.height * scale >= need.height * reduce;
  };
  int chosen = kMaxJpegScale;
  for (int m = 1; m < kMaxJpegScale; ++m) {
    if (leaves(m, kMinFinalReduce)) {
      chosen = m;
      break;
    }
  }
  // libjpeg-turbo has SIMD IDCTs for 1/8, 2/8, 4/8 and 8/8 only (4:2:0 chroma
  // then uses the next one up); 3/8 and 5/8..7/8 run plain C on both. Taking
  // 4/8 for a 5/8..7/8 choice (2/8 for 3/8) when Lanczos3 is still left a
  // 1.6x reduction cut CPU by ~10% on the 14 corpus photos concerned and
  // moved their SSIM by <= 0.0006 (still within 0.0001 of sharp's or above).
  const int simd = chosen == 3 ? 2 : 4;
  if ((chosen == 3 || (chosen > 4 && chosen < kMaxJpegScale)) &&
      leaves(simd, kMinSimdFinalReduce)) {
    return simd;
  }
  return chosen;
}

// ---- working-memory estimates for the memory budget (memory_budget.h) ----------

// What every image holds besides its pixels: libjpeg's and the encoders'
// buffers, libvips' image headers, the encoded outputs.
constexpr uint64_t kImageOverheadBytes = uint64_t{4} << 20;

// The outputs' pixels and the vertical pass's intermediate (decoded width x
// output height), which live beside the decoded image while resizing.
uint64_t ResizeBytes(const std::vector<OutputPlan>& plans, uint64_t decoded_width, uint64_t bands) {
  uint64_t bytes = 0;
  for (const auto& p : plans) bytes += static_cast<uint64_t>(p.resized.Area()) * bands;
  const Size need = LargestNeed(plans);
  return bytes + decoded_width * static_cast<uint64_t>(std::max(need.width, need.height)) * bands;
}

// What a JPEG keeps resident at its peak: a multi-scan file's coefficient
// buffers (the big part: 84 MiB for a 5120x2880 4:4:4 one), the rows decoded
// at the planned scale (narrowed or not) and the resize buffers. libjpeg's
// row buffers and allocator slack are small beside them.
uint64_t JpegWorkingBytes(const JpegHeader& header, const DecodePlan& plan,
                          const std::vector<OutputPlan>& plans, uint64_t resident_input) {
  const uint64_t bands = header.components == 1 ? 1 : header.components == 4 ? 4 : 3;
  uint64_t width = static_cast<uint64_t>(ScaledJpegSize(header.width, plan.scale_num));
  if (header.multi_scan && plan.narrow_width > 0)  // DecodeJpeg narrows multi-scan files only
    width = std::min(width, static_cast<uint64_t>(plan.narrow_width));
  const uint64_t height = static_cast<uint64_t>(ScaledJpegSize(header.height, plan.scale_num));
  return kImageOverheadBytes + resident_input + header.coefficient_bytes + width * height * bands +
         ResizeBytes(plans, width, bands);
}

// What a JPEG's decode needs, planned from its header alone: the outputs'
// sizes, the DCT scale (and narrowing), and the working memory to reserve.
struct JpegJob {
  std::vector<OutputPlan> plans;
  DecodePlan decode;
  uint64_t working_bytes = 0;
};

// `input_taken`: the caller handed its input over (ProcessTakingInput), so a
// multi-scan file's bytes are freed once the coefficient buffers hold them.
Result<JpegJob> PlanJpeg(const JpegHeader& header, const std::vector<OutputSpec>& outputs,
                         const Limits& limits, uint64_t input_size, bool input_taken) {
  IMGBATCH_RETURN_IF_ERROR(CheckLimits(header.width, header.height, limits));
  const bool swaps = SwapsAxes(header.orientation);
  Size stored{header.width, header.height};
  Size oriented = swaps ? Transposed(stored) : stored;
  JpegJob job;
  for (size_t i = 0; i < outputs.size(); ++i)
    job.plans.push_back(PlanOutput(i, outputs[i], oriented));
  Size need = LargestNeed(job.plans);
  job.decode.scale_num = ChooseJpegScale(stored, swaps ? Transposed(need) : need);
  // A progressive file's rows can be narrowed to their final width while
  // its coefficient buffers are alive (-6 MiB at the peak for a 5120x2880
  // 4:4:4 one) when that width is the same for every output.
  if (auto only = OnlyResizeFromSource(job.plans)) {
    Size target = swaps ? Transposed(only->resized) : only->resized;
    job.decode.narrow_width = target.width;
    job.decode.narrow_scale = stored.width * job.decode.scale_num / 8.0 / target.width;
  }
  // The input stays until the end, except a taken multi-scan one (freed once
  // the coefficient buffers hold it all, see DecodeJpeg).
  const uint64_t resident_input = input_taken && header.multi_scan ? 0 : input_size;
  job.working_bytes = JpegWorkingBytes(header, job.decode, job.plans, resident_input);
  return job;
}

// `held` when it covers `bytes` (the caller reserved from an estimate),
// trimmed to them; otherwise a new reservation, which may wait. A `held`
// that falls short (the input changed since it was estimated) is given back
// first: topping it up could wait forever for memory it holds itself.
MemoryReservation ReservationFor(uint64_t bytes, MemoryReservation held) {
  if (held.held() && held.bytes() >= bytes) {
    held.ShrinkTo(bytes);
    return held;
  }
  held.Release();
  return ProcessMemoryBudget().Reserve(bytes);
}

// A multi-scan file's coefficient buffers at least this big are mostly
// mmapped (M_MMAP_THRESHOLD, InitImaging: the luma array of a 4:2:0 file
// is 2/3 of them), so they cannot reuse the free memory the heap keeps from
// earlier images.
constexpr uint64_t kMappedCoefficientBytes = uint64_t{24} << 20;

// The budget counts the memory images use, not the free memory the heap
// keeps after them (up to M_TRIM_THRESHOLD at its top, and what
// fragmentation strands): measured on two threads, 50-60 MiB of it was
// resident when a 45 MiB progressive file's buffers were mapped beside
// another image, and the process peaked at 128-135 MiB in about 1 run of 3
// instead of 120-124. So when a big multi-scan file starts beside other
// images (its own reservation already in in_use) and the heap's free memory
// would take the total past the budget, it is handed back first. Not
// otherwise: every release is paid for in page faults when the heap grows
// again (+55,000 over the corpus on two threads, ~0.1 s of CPU), and alone
// an image's peak plus that memory stays within the target (118-121 MiB
// measured on one thread). mallinfo2 walks the heap's bins: microseconds.
bool HeapSlackWouldExceedBudget(const JpegHeader& header) {
  if (!header.multi_scan || header.coefficient_bytes < kMappedCoefficientBytes) return false;
  const MemoryBudget& budget = ProcessMemoryBudget();
  if (budget.capacity() == 0 || budget.in_flight() < 2) return false;
  return budget.in_use() + mallinfo2().fordblks > budget.capacity();
}

VipsInterpretation InterpretationOf(const DecodedJpeg& decoded) {
  if (decoded.cmyk) return VIPS_INTERPRETATION_CMYK;
  return decoded.bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
}

// `owned`, when not null, holds `bytes` and is emptied as soon as the decoder
// no longer needs it. `held`: memory the caller already reserved (may be
// empty).
Result<std::vector<EncodedImage>> ProcessJpeg(std::string_view bytes,
                                              const std::vector<OutputSpec>& outputs,
                                              const Limits& limits, std::string* owned,
                                              MemoryReservation held) {
  MemoryReservation reservation;  // held until the outputs are encoded
  std::vector<OutputPlan> plans;
  ScalePlanner planner = [&](const JpegHeader& header) -> Result<DecodePlan> {
    IMGBATCH_ASSIGN_OR_RETURN(JpegJob job,
                              PlanJpeg(header, outputs, limits, bytes.size(), owned != nullptr));
    plans = std::move(job.plans);
    // May wait for other threads' images (before any big allocation).
    reservation = ReservationFor(job.working_bytes, std::move(held));
    job.decode.release_heap = HeapSlackWouldExceedBudget(header);
    return job.decode;
  };
  InputConsumed release;
  // Freed, not trimmed: the heap reuses its pages for the decoded rows that
  // follow (a malloc_trim here cost 27,000 page faults over the corpus and
  // lowered no peak once DecodeJpeg releases the heap before big
  // coefficient buffers).
  if (owned != nullptr) release = [owned] { std::string().swap(*owned); };
  IMGBATCH_ASSIGN_OR_RETURN(DecodedJpeg decoded, DecodeJpeg(bytes, limits, planner, release));
  // The coefficient buffers are gone: keep only what the resize still needs.
  reservation.ShrinkTo(kImageOverheadBytes + (owned != nullptr ? owned->size() : bytes.size()) +
                       decoded.size +
                       ResizeBytes(plans, static_cast<uint64_t>(decoded.width),
                                   static_cast<uint64_t>(decoded.bands)));

  const int orientation = decoded.header.orientation;
  Size stored{decoded.header.width, decoded.header.height};
  Size oriented = SwapsAxes(orientation) ? Transposed(stored) : stored;
  try {
    VImage base = WithInterpretation(
        VImage::new_from_memory(decoded.pixels.get(), decoded.size, decoded.width, decoded.height,
                                decoded.bands, VIPS_FORMAT_UCHAR),
        InterpretationOf(decoded));
    auto first_stage = [&](Size target) {
      Size stored_target = SwapsAxes(orientation) ? Transposed(target) : target;
      // Narrowed rows already have the target width, all of it picture.
      Extent picture{decoded.narrowed ? static_cast<double>(decoded.width)
                                      : stored.width * decoded.scale_num / 8.0,
                     stored.height * decoded.scale_num / 8.0};
      return Orient(ToSrgb(ResizeTo(base, stored_target, picture), decoded.icc_profile),
                    orientation);
    };
    return RunOutputs(outputs, oriented, first_stage);
  } catch (const VError& e) {
    return FromVipsError(e, ImageError::kInternal);
  }
}

// ---- generic path (PNG, WebP, TIFF, GIF, HEIF) -----------------------------------

Result<std::string> AllowedLoader(std::string_view bytes) {
  const char* operation = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  if (operation == nullptr) {
    // Not one of libvips' built-in formats: HEIC/AVIF need the heif module,
    // opened on first need (vips_modules.h), and libvips' own sniffing then
    // decides.
    vips_error_clear();
    if (EnsureHeifModule().ok())
      operation = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  }
  if (operation == nullptr) {
    vips_error_clear();
    return ImageFailure(ImageError::kNotAnImage, "not a recognised image format");
  }
  for (const auto& loader : kAllowedLoaders) {
    if (std::string_view(operation) == loader.operation) return std::string(loader.name);
  }
  return ImageFailure(ImageError::kUnsupported,
                      std::string("unsupported format (") + operation + ")");
}

int OrientationOf(const VImage& image) {
  if (image.get_typeof(VIPS_META_ORIENTATION) == 0) return 1;
  int orientation = image.get_int(VIPS_META_ORIENTATION);
  return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

// The header, lazily: no pixels are decoded by new_from_buffer.
Result<ImageInfo> ProbeGeneric(std::string_view bytes, const Limits& limits) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string loader, AllowedLoader(bytes));
  try {
    VImage header = VImage::new_from_buffer(
        bytes.data(), bytes.size(), "", VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
    IMGBATCH_RETURN_IF_ERROR(CheckLimits(header.width(), header.height(), limits));
    return ImageInfo{header.width(), header.height(), OrientationOf(header), loader};
  } catch (const VError& e) {
    return FromVipsError(e, ImageError::kCorrupt);
  }
}

// libvips' thumbnail shrinks on load only for some formats; assume the whole
// image decoded as 8-bit RGBA (rare inputs here: over-reserving only makes
// them wait for other images, it refuses nothing).
uint64_t GenericWorkingBytes(const ImageInfo& info, uint64_t input_size) {
  return kImageOverheadBytes + input_size + static_cast<uint64_t>(info.width) * info.height * 4;
}

Result<std::vector<EncodedImage>> ProcessGeneric(std::string_view bytes,
                                                 const std::vector<OutputSpec>& outputs,
                                                 const Limits& limits, MemoryReservation held) {
  IMGBATCH_ASSIGN_OR_RETURN(ImageInfo info, ProbeGeneric(bytes, limits));
  MemoryReservation reservation =
      ReservationFor(GenericWorkingBytes(info, bytes.size()), std::move(held));
  Size stored{info.width, info.height};
  Size oriented = SwapsAxes(info.orientation) ? Transposed(stored) : stored;
  VipsBlob* blob = vips_blob_new(nullptr, bytes.data(), bytes.size());
  try {
    auto first_stage = [&](Size target) {
      // thumbnail: shrink-on-load, orientation, premultiplied Lanczos3; we
      // size it to the box exactly and convert colour ourselves after.
      VImage image =
          VImage::thumbnail_buffer(blob, target.width,
                                   VImage::option()
                                       ->set("height", target.height)
                                       ->set("size", VIPS_SIZE_FORCE)
                                       // a truncated file is an error, not a half-grey output
                                       ->set("option_string", "fail_on=truncated"));
      std::string profile;
      if (image.get_typeof(VIPS_META_ICC_NAME) != 0) {
        size_t length = 0;
        const void* data = image.get_blob(VIPS_META_ICC_NAME, &length);
        profile.assign(static_cast<const char*>(data), length);
      }
      return ToSrgb(ToEightBit(image), profile);
    };
    auto result = RunOutputs(outputs, oriented, first_stage);
    vips_area_unref(VIPS_AREA(blob));
    return result;
  } catch (const VError& e) {
    vips_area_unref(VIPS_AREA(blob));
    return FromVipsError(e, ImageError::kCorrupt);
  }
}

}  // namespace

// libvips and GLib warn through g_log, whose default handler prints raw
// lines to stderr ("(process:N): VIPS-WARNING **: ..."): routed to spdlog
// they take the process's log format, so --log-format json stays JSON.
static void LogGlibMessage(const gchar* domain, GLogLevelFlags level, const gchar* message,
                           gpointer) {
  const char* from = domain != nullptr ? domain : "glib";
  const char* text = message != nullptr ? message : "";
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
    spdlog::error("{}: {}", from, text);
  } else if (level & G_LOG_LEVEL_WARNING) {
    spdlog::warn("{}: {}", from, text);
  } else if (level & G_LOG_LEVEL_MESSAGE) {
    spdlog::info("{}: {}", from, text);
  } else {  // info and debug: GLib shows them only when asked (G_MESSAGES_DEBUG)
    spdlog::debug("{}: {}", from, text);
  }
}

Status InitImaging(const char* argv0) {
  static std::once_flag once;
  static bool started = false;
  std::call_once(once, [argv0] {
    // One glibc arena for every thread, set before libvips starts its own
    // threads. Many arenas fragment under libvips' allocation pattern (peaks
    // of 2-3x the working set); and malloc_trim cannot shrink the top of a
    // thread arena (glibc 2.36 mtrim: "av == &main_arena ? systrim"), so the
    // worker thread's arena kept 30-40 MB from earlier images under the next
    // progressive JPEG's coefficient buffers whatever we trimmed: the corpus
    // peak on one thread was 128-137 MiB depending on file order (121 MiB
    // with one arena and DecodeJpeg's release). Two threads measured no
    // slower with one arena (task-clock, page faults lower).
    mallopt(M_ARENA_MAX, 1);
    g_log_set_default_handler(LogGlibMessage, nullptr);
    started = StartVipsWithoutModules(argv0 ? argv0 : "imgbatch");
    if (!started) return;
    vips_block_untrusted_set(TRUE);
    vips_concurrency_set(1);  // one image per thread instead
    vips_cache_set_max(0);    // every image is new: a cache only holds memory
    // glibc raises its mmap threshold after each big free, so the next
    // progressive JPEG's coefficient buffers (tens of MB) land in the heap
    // and stay resident: 199 MB peak over the corpus on one thread. Fixed
    // thresholds keep them in mmap, returned on free: 140 MB, no extra CPU.
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
  });
  if (!started) return ImageFailure(ImageError::kInternal, "libvips failed to start");
  return Status::Ok();
}

Result<ImageInfo> Probe(std::string_view bytes, const Limits& limits) {
  IMGBATCH_RETURN_IF_ERROR(CheckInputSize(bytes.size(), limits));
  if (LooksLikeJpeg(bytes)) {
    IMGBATCH_ASSIGN_OR_RETURN(JpegHeader header, ReadJpegHeader(bytes));
    IMGBATCH_RETURN_IF_ERROR(CheckLimits(header.width, header.height, limits));
    return ImageInfo{header.width, header.height, header.orientation, "jpeg"};
  }
  return ProbeGeneric(bytes, limits);
}

namespace {

Result<std::vector<EncodedImage>> ProcessMaybeOwned(std::string_view bytes,
                                                    const std::vector<OutputSpec>& outputs,
                                                    const Limits& limits, std::string* owned,
                                                    MemoryReservation held) {
  IMGBATCH_RETURN_IF_ERROR(InitImaging());
  IMGBATCH_RETURN_IF_ERROR(CheckInputSize(bytes.size(), limits));
  if (outputs.empty()) return InvalidArgument("no outputs requested");
  for (const auto& output : outputs) {
    if (output.format == ImageFormat::kAvif) IMGBATCH_RETURN_IF_ERROR(EnsureHeifModule());
  }
  if (LooksLikeJpeg(bytes)) return ProcessJpeg(bytes, outputs, limits, owned, std::move(held));
  return ProcessGeneric(bytes, outputs, limits, std::move(held));
}

}  // namespace

Result<std::vector<EncodedImage>> Process(std::string_view bytes,
                                          const std::vector<OutputSpec>& outputs,
                                          const Limits& limits) {
  return ProcessMaybeOwned(bytes, outputs, limits, nullptr, MemoryReservation());
}

Result<std::vector<EncodedImage>> ProcessTakingInput(std::string input_bytes,
                                                     const std::vector<OutputSpec>& outputs,
                                                     const Limits& limits) {
  return ProcessMaybeOwned(input_bytes, outputs, limits, &input_bytes, MemoryReservation());
}

Result<std::vector<EncodedImage>> ProcessTakingInput(std::string input_bytes,
                                                     const std::vector<OutputSpec>& outputs,
                                                     const Limits& limits,
                                                     MemoryReservation reservation) {
  return ProcessMaybeOwned(input_bytes, outputs, limits, &input_bytes, std::move(reservation));
}

Result<uint64_t> EstimateWorkingBytes(std::string_view head, uint64_t input_size,
                                      const std::vector<OutputSpec>& outputs,
                                      const Limits& limits) {
  IMGBATCH_RETURN_IF_ERROR(InitImaging());
  IMGBATCH_RETURN_IF_ERROR(CheckInputSize(input_size, limits));
  const bool partial = head.size() < input_size;
  auto header_incomplete = [] {
    return Status(Code::kOutOfRange, "the header continues past the bytes given");
  };
  if (LooksLikeJpeg(head)) {
    Result<JpegHeader> header = ReadJpegHeader(head);
    if (!header.ok()) return partial ? header_incomplete() : header.status();
    IMGBATCH_ASSIGN_OR_RETURN(JpegJob job, PlanJpeg(*header, outputs, limits, input_size,
                                                    /*input_taken=*/true));
    return job.working_bytes;
  }
  Result<ImageInfo> info = ProbeGeneric(head, limits);
  // Most formats keep their header at the start, but a TIFF's directory may
  // be anywhere: a failed probe of part of the input is no answer yet.
  if (partial && !info.ok()) return header_incomplete();
  if (!info.ok()) return info.status();
  return GenericWorkingBytes(*info, input_size);
}

}  // namespace imgbatch::imaging
