#include <thread>
#include <utility>

#include "imaging/imaging.h"
#include "worker/image_processor.h"

namespace imgbatch::worker {
namespace {

class ImagingProcessor final : public ImageProcessor {
 public:
  ImagingProcessor(std::vector<imaging::OutputSpec> outputs, imaging::Limits limits,
                   std::chrono::milliseconds test_only_delay)
      : outputs_(std::move(outputs)), limits_(limits), test_only_delay_(test_only_delay) {}

  std::vector<std::string> OutputKeys(std::string_view input_key) const override {
    std::vector<std::string> keys;
    for (const auto& output : outputs_) keys.push_back(OutputKey(output, input_key));
    return keys;
  }

  std::vector<std::string> OutputSpecs() const override {
    std::vector<std::string> specs;
    for (const auto& output : outputs_) specs.push_back(imaging::FormatOutputSpecs({output}));
    return specs;
  }

  Result<std::vector<ProcessedOutput>> Process(std::string_view input_key,
                                               std::string input_bytes) override {
    if (test_only_delay_.count() > 0) std::this_thread::sleep_for(test_only_delay_);
    IMGBATCH_ASSIGN_OR_RETURN(
        auto images, imaging::ProcessTakingInput(std::move(input_bytes), outputs_, limits_));
    std::vector<ProcessedOutput> result;
    for (size_t i = 0; i < images.size() && i < outputs_.size(); ++i) {
      result.push_back(
          {OutputKey(outputs_[i], input_key), std::move(images[i].bytes), images[i].content_type});
    }
    return result;
  }

  bool IsPermanent(const Status& status) const override { return imaging::IsPermanent(status); }

  uint64_t MaxInputBytes() const override { return limits_.max_input_bytes; }

 private:
  static std::string OutputKey(const imaging::OutputSpec& output, std::string_view input_key) {
    return output.prefix + "/" + imaging::OutputName(input_key, output.format);
  }

  std::vector<imaging::OutputSpec> outputs_;
  imaging::Limits limits_;
  std::chrono::milliseconds test_only_delay_;
};

}  // namespace

Result<std::unique_ptr<ImageProcessor>> MakeImagingProcessor(
    const ImagingProcessorOptions& options) {
  IMGBATCH_RETURN_IF_ERROR(imaging::InitImaging());
  std::vector<imaging::OutputSpec> outputs = imaging::DefaultOutputs();
  if (!options.outputs.empty()) {
    IMGBATCH_ASSIGN_OR_RETURN(outputs, imaging::ParseOutputSpecs(options.outputs));
  }
  imaging::Limits limits;
  if (options.max_input_bytes > 0) limits.max_input_bytes = options.max_input_bytes;
  if (options.max_pixels > 0) limits.max_pixels = options.max_pixels;
  return std::unique_ptr<ImageProcessor>(
      std::make_unique<ImagingProcessor>(std::move(outputs), limits, options.test_only_delay));
}

}  // namespace imgbatch::worker
