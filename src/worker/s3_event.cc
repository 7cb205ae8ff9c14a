#include "worker/s3_event.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace imgbatch::worker {
namespace {

using nlohmann::json;

constexpr std::string_view kTestEvent = "s3:TestEvent";

const json* Find(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string String(const json& object, const char* name) {
  const json* value = Find(object, name);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

std::string StripQuotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

EventKind KindOf(std::string_view event_name) {
  // eventName has no "s3:" prefix on the wire; accept it anyway.
  if (event_name.starts_with("s3:")) event_name.remove_prefix(3);
  if (event_name.starts_with("ObjectCreated:")) return EventKind::kObjectCreated;
  if (event_name.starts_with("ObjectRemoved:")) return EventKind::kObjectRemoved;
  return EventKind::kOther;
}

Result<EventRecord> ParseRecord(const json& record, size_t index) {
  std::string where = "Records[" + std::to_string(index) + "]";
  const json* s3 = Find(record, "s3");
  const json* bucket = s3 != nullptr ? Find(*s3, "bucket") : nullptr;
  const json* object = s3 != nullptr ? Find(*s3, "object") : nullptr;
  if (bucket == nullptr || object == nullptr) {
    return InvalidArgument(where + ": missing s3.bucket or s3.object");
  }
  EventRecord parsed;
  parsed.event_name = String(record, "eventName");
  parsed.kind = KindOf(parsed.event_name);
  parsed.bucket = String(*bucket, "name");
  parsed.raw_key = String(*object, "key");
  if (parsed.bucket.empty() || parsed.raw_key.empty()) {
    return InvalidArgument(where + ": empty bucket name or object key");
  }
  parsed.key = DecodeEventKey(parsed.raw_key);
  parsed.etag = StripQuotes(String(*object, "eTag"));
  parsed.sequencer = String(*object, "sequencer");
  if (auto t = ParseIso8601(String(record, "eventTime"))) {
    parsed.event_time_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
  }
  if (const json* size = Find(*object, "size"); size != nullptr && size->is_number_unsigned()) {
    parsed.size = size->get<uint64_t>();
  }
  return parsed;
}

// nlohmann's parser is iterative, so deep nesting cannot exhaust the stack;
// no exceptions: a bad body is a value, not a throw.
Result<json> ParseJson(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("message body is not JSON");
  return doc;
}

}  // namespace

std::string DecodeEventKey(std::string_view raw_key) {
  auto decoded = PercentDecode(raw_key, /*plus_as_space=*/true);
  return decoded ? *decoded : std::string(raw_key);
}

Result<EventMessage> ParseEventMessage(std::string_view body) {
  IMGBATCH_ASSIGN_OR_RETURN(json doc, ParseJson(body));
  // S3 -> SNS -> SQS: the event is the SNS notification's Message string.
  if (String(doc, "Type") == "Notification") {
    std::string inner = String(doc, "Message");
    if (!inner.empty()) {
      IMGBATCH_ASSIGN_OR_RETURN(doc, ParseJson(inner));
    }
  }
  EventMessage message;
  if (String(doc, "Event") == kTestEvent) {
    message.test_event = true;
    return message;
  }
  const json* records = Find(doc, "Records");
  if (records == nullptr) return message;
  if (!records->is_array()) return InvalidArgument("Records is not an array");
  for (size_t i = 0; i < records->size(); ++i) {
    IMGBATCH_ASSIGN_OR_RETURN(auto record, ParseRecord((*records)[i], i));
    message.records.push_back(std::move(record));
  }
  return message;
}

}  // namespace imgbatch::worker
