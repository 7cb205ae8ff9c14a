// ImageProcessor: what the worker needs from the image job, behind a small
// interface so the poll loop is tested with a fake. ImagingProcessor is the
// real one over the imaging module (libvips). Failures carry their class:
// IsPermanent() says whether retrying the same bytes can ever help.
// Thread-safety: implementations must allow concurrent Process() calls (the
// worker runs one image per thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imgbatch::worker {

struct ProcessedOutput {
  std::string key;  // output object key, e.g. "resized/dir/a.jpg"
  std::string bytes;
  std::string content_type;
};

class ImageProcessor {
 public:
  virtual ~ImageProcessor() = default;
  // The output keys an input key produces; known before processing so the
  // worker can check whether they are already current, and delete them on
  // ObjectRemoved.
  virtual std::vector<std::string> OutputKeys(std::string_view input_key) const = 0;
  // What produces each output, in OutputKeys()' order (e.g.
  // "thumbs:192x192:jpeg:q75:inside:420:strip"). Recorded on every output, so
  // outputs made under another configuration are not taken as current.
  virtual std::vector<std::string> OutputSpecs() const = 0;
  // Takes the input by value: the imaging job frees it as soon as it has read
  // it (a progressive JPEG is read whole before decoding), lowering the peak.
  virtual Result<std::vector<ProcessedOutput>> Process(std::string_view input_key,
                                                       std::string input_bytes) = 0;
  // True when a failure of Process() is permanent (not an image, corrupt,
  // too many pixels...) and the message belongs in the dead-letter queue.
  virtual bool IsPermanent(const Status& status) const = 0;
  // The largest input Process() takes; the worker refuses a larger object
  // before downloading it (0 = no limit).
  virtual uint64_t MaxInputBytes() const { return 0; }
};

struct ImagingProcessorOptions {
  // "resized:1024x768:jpeg:q100;thumbs:192x192:q75" (imaging::ParseOutputSpecs);
  // empty = the seed's outputs.
  std::string outputs;
  uint64_t max_input_bytes = 0;  // 0 = imaging's default
  uint64_t max_pixels = 0;       // 0 = imaging's default (100 MP)
  // TEST ONLY: sleep this long inside every Process() call, so integration
  // tests can make an image slow (heartbeats, SIGTERM mid-image) without
  // giant inputs. Set by `imgbatch worker` from IMGBATCH_TEST_ONLY_IMAGE_DELAY_MS;
  // never set in production.
  std::chrono::milliseconds test_only_delay{0};
};

// Calls imaging::InitImaging() once. Fails on a bad output list.
Result<std::unique_ptr<ImageProcessor>> MakeImagingProcessor(
    const ImagingProcessorOptions& options);

}  // namespace imgbatch::worker
