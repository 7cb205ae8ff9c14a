// Fuzz target for the imaging entry point: arbitrary bytes through Process()
// with the default outputs and limits small enough that a fuzzer cannot spend
// its time decoding huge valid images. Any outcome but a crash is fine; a
// failure must carry an error class.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "imaging/imaging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool started = imgbatch::imaging::InitImaging().ok();
  if (!started) std::abort();
  imgbatch::imaging::Limits limits;
  limits.max_pixels = 4'000'000;
  limits.max_input_bytes = 1 << 20;
  limits.max_decoder_memory = 64 << 20;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto result = imgbatch::imaging::Process(bytes, imgbatch::imaging::DefaultOutputs(), limits);
  if (!result.ok() && result.status().detail().empty()) std::abort();
  auto probe = imgbatch::imaging::Probe(bytes, limits);
  if (!probe.ok() && probe.status().detail().empty()) std::abort();
  return 0;
}
