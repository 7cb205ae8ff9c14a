// Fuzzes the worker's S3 event parser: any SQS message body must give a
// clean Result (records, TestEvent, or an error), never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "worker/s3_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto message = imgbatch::worker::ParseEventMessage(body);
  if (message.ok()) {
    for (const auto& record : message->records) {
      // The parser promises both; the worker relies on it.
      if (record.bucket.empty() || record.raw_key.empty()) std::abort();
      if (imgbatch::worker::DecodeEventKey(record.raw_key) != record.key) std::abort();
    }
  }
  (void)imgbatch::worker::DecodeEventKey(body);
  return 0;
}
