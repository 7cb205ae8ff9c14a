// S3 event messages as AWS delivers them to SQS, field for field
// (shared/s3-event-format.md; AWS S3 User Guide "Event message structure"):
// one Records entry per message, eventName without the "s3:" prefix, keys
// form-URL-encoded ("a b" -> "a+b"), size/eTag only for ObjectCreated, a hex
// sequencer increasing per key. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/object_store.h"

namespace imgbatch::notify {

struct EventSource {
  std::string region = "us-east-1";
  std::string owner_principal = "A3NL1KOZZKIMGBATCH";  // bucket owner shown in records
};

// The SQS message body for one object event matched by one configuration.
std::string RenderRecord(const store::ObjectEvent& event, std::string_view configuration_id,
                         const EventSource& source);
// The s3:TestEvent body sent when a configuration is created or changed.
std::string RenderTestEvent(std::string_view bucket, int64_t time_ms, std::string_view request_id);
// Fixed-width upper-case hex, so string order is numeric order.
std::string Sequencer(uint64_t sequence);

}  // namespace imgbatch::notify
