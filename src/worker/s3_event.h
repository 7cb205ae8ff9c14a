// Parsing S3 event notification messages as they arrive on the queue (see
// ../shared/s3-event-format.md and AWS's "Event message structure" page).
// Every record is returned; keys are form-URL-decoded ('+' is a space, %2B a
// plus), tolerating MinIO's %2F and raw (undecoded) keys from other
// emulators. s3:TestEvent and documents without Records are recognised so the
// worker can delete them. An SNS envelope (S3 -> SNS -> SQS fan-out) is
// unwrapped. Pure functions; thread-safe; never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imgbatch::worker {

enum class EventKind { kObjectCreated, kObjectRemoved, kOther };

struct EventRecord {
  EventKind kind = EventKind::kOther;
  std::string event_name;  // "ObjectCreated:Put"
  std::string bucket;
  std::string key;      // decoded
  std::string raw_key;  // as in the message
  std::string etag;     // without quotes; empty for removals
  std::optional<uint64_t> size;
  std::string sequencer;
  int64_t event_time_ms = 0;  // eventTime; 0 when absent or unparsable
};

struct EventMessage {
  bool test_event = false;           // {"Event":"s3:TestEvent", ...}
  std::vector<EventRecord> records;  // empty: no Records (or TestEvent)
};

// kInvalidArgument when the body is not JSON or a record lacks its bucket or
// key; such a message can never be processed.
Result<EventMessage> ParseEventMessage(std::string_view body);

// Form-decodes an event key. A key that is not valid percent-encoding (a raw
// key containing '%') is returned unchanged.
std::string DecodeEventKey(std::string_view raw_key);

}  // namespace imgbatch::worker
