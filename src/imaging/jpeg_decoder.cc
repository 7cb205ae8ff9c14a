#include "imaging/jpeg_decoder.h"

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <malloc.h>
#include <algorithm>
#include <csetjmp>
#include <cstddef>

#include <cstdio>
#include <memory>
// after jpeglib.h: the message codes (JWRN_JPEG_EOF, JERR_...)
#include <jerror.h>

#include "imaging/errors.h"
#include "imaging/metadata.h"
#include "imaging/reduce.h"

namespace imgbatch::imaging {
namespace {

// Rows decoded per jpeg_read_scanlines round when narrowing (a few hundred KB).
constexpr int kChunkRows = 16;

// Coefficient buffers at least this big make a multi-scan decode the
// process's peak (the 5120x2880 4:4:4 wallpaper: 84 MiB, a 24 MP 4:2:0 photo:
// 69 MiB), so the heap hands back what it kept from earlier images before
// they are allocated (see DecodeJpeg). Not for smaller ones: every release
// is paid for in page faults when the heap grows again (3.5 us each on this
// VM; releasing before every progressive file cost +65,000 faults, ~6% CPU,
// over the corpus; this threshold +10,000).
constexpr size_t kReleaseHeapBeforeCoefficients = size_t{64} << 20;

// A progressive JPEG can carry thousands of tiny scans, each costing a full
// pass (a known decoder DoS); real encoders use about 10.
constexpr int kMaxScans = 500;
constexpr unsigned kMaxMarkerBytes = 0xFFFF;

// libjpeg reports fatal errors through error_exit, which must not return:
// we longjmp back to the decode function (kept free of objects with
// destructors between setjmp and the libjpeg calls).
struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
  bool too_many_scans;
};

void OnError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are mostly recoverable damage; running out of data is not: the
// decoder would pad with grey and we would publish a half-grey photo.
void OnMessage(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    err->truncated = true;
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
  }
}

void OnProgress(j_common_ptr cinfo) {
  auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->is_decompressor && dinfo->progressive_mode && dinfo->input_scan_number > kMaxScans) {
    auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    err->too_many_scans = true;
    std::longjmp(err->jump, 1);
  }
}

// Owns a jpeg_decompress_struct; destroyed however the decode ends.
struct Decompressor {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  jpeg_progress_mgr progress{};
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
};

void Setup(Decompressor& d) {
  d.cinfo.err = jpeg_std_error(&d.err.pub);
  d.err.pub.error_exit = OnError;
  d.err.pub.emit_message = OnMessage;
  d.progress.progress_monitor = OnProgress;
}

void Start(Decompressor& d, std::string_view bytes, const Limits& limits) {
  jpeg_create_decompress(&d.cinfo);
  d.cinfo.progress = &d.progress;
  // Past this the decoder would need a backing store, which this build
  // lacks, so it fails cleanly instead of growing without bound.
  d.cinfo.mem->max_memory_to_use = static_cast<long>(limits.max_decoder_memory);
  jpeg_mem_src(&d.cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&d.cinfo, JPEG_APP0 + 1, kMaxMarkerBytes);  // EXIF
  jpeg_save_markers(&d.cinfo, JPEG_APP0 + 2, kMaxMarkerBytes);  // ICC
  jpeg_read_header(&d.cinfo, TRUE);
}

int OrientationOf(const jpeg_decompress_struct& cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != nullptr; m = m->next) {
    if (m->marker != JPEG_APP0 + 1) continue;
    int orientation =
        ExifOrientation(std::string_view(reinterpret_cast<const char*>(m->data), m->data_length));
    if (orientation != 1) return orientation;
  }
  return 1;
}

Status ErrorFromManager(const ErrorManager& err, const Limits& limits) {
  if (err.too_many_scans) {
    return ImageFailure(ImageError::kCorrupt, "progressive JPEG with too many scans");
  }
  if (err.truncated) return ImageFailure(ImageError::kCorrupt, "truncated JPEG");
  if (err.pub.msg_code == JERR_NO_BACKING_STORE || err.pub.msg_code == JERR_OUT_OF_MEMORY) {
    if (err.pub.msg_code == JERR_OUT_OF_MEMORY) {
      return ImageFailure(ImageError::kOutOfMemory, "JPEG decoder out of memory");
    }
    return ImageFailure(ImageError::kTooLarge, "JPEG needs more than " +
                                                   std::to_string(limits.max_decoder_memory >> 20) +
                                                   " MiB to decode");
  }
  if (err.pub.msg_code == JERR_IMAGE_TOO_BIG || err.pub.msg_code == JERR_WIDTH_OVERFLOW) {
    return ImageFailure(ImageError::kTooLarge, std::string("JPEG: ") + err.message);
  }
  return ImageFailure(ImageError::kCorrupt, std::string("JPEG: ") + err.message);
}

J_COLOR_SPACE OutputSpaceFor(J_COLOR_SPACE stored) {
  switch (stored) {
    case JCS_GRAYSCALE:
      return JCS_GRAYSCALE;
    case JCS_CMYK:
    case JCS_YCCK:
      return JCS_CMYK;
    default:
      return JCS_RGB;
  }
}

std::string IccProfileOf(jpeg_decompress_struct& cinfo) {
  JOCTET* data = nullptr;
  unsigned int size = 0;
  if (!jpeg_read_icc_profile(&cinfo, &data, &size) || data == nullptr) return {};
  std::string profile(reinterpret_cast<const char*>(data), size);
  free(data);  // allocated by libjpeg with malloc
  return profile;
}

// Adobe writes CMYK JPEGs inverted (and flags it with its APP14 marker).
void UninvertAdobeCmyk(uint8_t* pixels, size_t size) {
  for (size_t i = 0; i < size; ++i) pixels[i] = static_cast<uint8_t>(255 - pixels[i]);
}

// What jdcoefct.c allocates for a multi-scan file: every component's whole
// DCT block array (rounded up to its sampling factors), 128 bytes a block.
size_t CoefficientBytes(const jpeg_decompress_struct& cinfo) {
  size_t bytes = 0;
  for (int c = 0; c < cinfo.num_components; ++c) {
    const jpeg_component_info& comp = cinfo.comp_info[c];
    auto round_up = [](size_t n, size_t m) { return (n + m - 1) / m * m; };
    bytes += round_up(comp.width_in_blocks, static_cast<size_t>(comp.h_samp_factor)) *
             round_up(comp.height_in_blocks, static_cast<size_t>(comp.v_samp_factor)) *
             sizeof(JBLOCK);
  }
  return bytes;
}

// The input reached EOI during jpeg_start_decompress: detach it from the
// source manager first, so that a stray read would see the end of the data
// (and fail as truncated) instead of freed memory.
void ReleaseInput(Decompressor& d, const InputConsumed& consumed) {
  d.cinfo.src->next_input_byte = nullptr;
  d.cinfo.src->bytes_in_buffer = 0;
  consumed();
}

JpegHeader HeaderOf(jpeg_decompress_struct& cinfo) {
  const bool multi_scan = jpeg_has_multiple_scans(&cinfo);
  return JpegHeader{static_cast<int>(cinfo.image_width),
                    static_cast<int>(cinfo.image_height),
                    OrientationOf(cinfo),
                    cinfo.num_components,
                    multi_scan,
                    multi_scan ? CoefficientBytes(cinfo) : 0};
}

}  // namespace

Result<JpegHeader> ReadJpegHeader(std::string_view bytes) {
  Decompressor d;
  Setup(d);
  if (setjmp(d.err.jump)) return ErrorFromManager(d.err, Limits{});
  Start(d, bytes, Limits{});
  return HeaderOf(d.cinfo);
}

Result<DecodedJpeg> DecodeJpeg(std::string_view bytes, const Limits& limits,
                               const ScalePlanner& plan, const InputConsumed& consumed) {
  // Everything with a destructor is declared before setjmp (see ErrorManager).
  Decompressor d;
  DecodedJpeg out;
  Result<DecodePlan> planned = Status(Code::kInternal, "unplanned");
  std::unique_ptr<WidthReducer> narrow;
  std::unique_ptr<uint8_t[]> chunk;  // full-width rows awaiting `narrow`
  Setup(d);
  if (setjmp(d.err.jump)) return ErrorFromManager(d.err, limits);
  Start(d, bytes, limits);

  out.header = HeaderOf(d.cinfo);
  planned = plan(out.header);
  if (!planned.ok()) return planned.status();

  out.scale_num = planned->scale_num;
  d.cinfo.scale_num = static_cast<unsigned>(planned->scale_num);
  d.cinfo.scale_denom = 8;
  d.cinfo.out_color_space = OutputSpaceFor(d.cinfo.jpeg_color_space);
  d.cinfo.dct_method = JDCT_ISLOW;
  d.cinfo.do_fancy_upsampling = TRUE;
  out.icc_profile = IccProfileOf(d.cinfo);
  // A multi-scan file's coefficient buffers are allocated and filled inside
  // jpeg_start_decompress, with the whole input still held: this decoder's
  // peak. Free memory the heap kept from earlier images (up to the trim
  // threshold, tens of MB) would sit on top of it; big buffers come from
  // fresh mappings, not from that memory. So give it back first, when the
  // buffers are big enough to set the process peak. (malloc_trim reaches
  // all of it because InitImaging keeps one arena.)
  if (out.header.coefficient_bytes >= kReleaseHeapBeforeCoefficients ||
      (planned->release_heap && out.header.multi_scan)) {
    malloc_trim(0);
  }
  jpeg_start_decompress(&d.cinfo);
  if (consumed && jpeg_input_complete(&d.cinfo)) ReleaseInput(d, consumed);

  const int decoded_width = static_cast<int>(d.cinfo.output_width);
  out.width = decoded_width;
  out.height = static_cast<int>(d.cinfo.output_height);
  out.bands = d.cinfo.output_components;
  out.cmyk = d.cinfo.out_color_space == JCS_CMYK;
  const size_t decoded_row_bytes =
      static_cast<size_t>(decoded_width) * static_cast<size_t>(out.bands);
  if (jpeg_has_multiple_scans(&d.cinfo) && planned->narrow_width > 0 &&
      planned->narrow_width < decoded_width && planned->narrow_scale > 1.0) {
    narrow = std::make_unique<WidthReducer>(decoded_width, out.bands, planned->narrow_width,
                                            planned->narrow_scale);
    chunk.reset(new uint8_t[decoded_row_bytes * kChunkRows]);
    out.width = planned->narrow_width;
    out.narrowed = true;
  }
  const size_t row_bytes = static_cast<size_t>(out.width) * static_cast<size_t>(out.bands);
  out.size = row_bytes * static_cast<size_t>(out.height);
  out.pixels.reset(new uint8_t[out.size]);
  const bool adobe_inverted = out.cmyk && d.cinfo.saw_Adobe_marker;
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    const JDIMENSION first = d.cinfo.output_scanline;
    // Narrowing: a chunk of full-width rows, then reduced into place;
    // otherwise straight into place.
    uint8_t* dst = narrow ? chunk.get() : out.pixels.get() + row_bytes * first;
    JSAMPROW rows[kChunkRows];
    const JDIMENSION count = std::min<JDIMENSION>(kChunkRows, d.cinfo.output_height - first);
    for (JDIMENSION i = 0; i < count; ++i) rows[i] = dst + decoded_row_bytes * i;
    JDIMENSION read = 0;
    while (read < count) read += jpeg_read_scanlines(&d.cinfo, rows + read, count - read);
    if (adobe_inverted) UninvertAdobeCmyk(dst, decoded_row_bytes * count);
    if (narrow) {
      narrow->Reduce(dst, decoded_row_bytes, static_cast<int>(count),
                     out.pixels.get() + row_bytes * first);
    }
  }
  jpeg_finish_decompress(&d.cinfo);
  return out;
}

}  // namespace imgbatch::imaging
