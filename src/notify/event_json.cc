#include "notify/event_json.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/hashing.h"
#include "common/strings.h"
#include "notify/notification_config.h"

namespace imgbatch::notify {
namespace {

std::string IsoMillis(int64_t ms) {
  return FormatIso8601Millis(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

// x-amz-id-2 is an opaque base64 host id on AWS; derive a stable one.
std::string HostId(std::string_view request_id) {
  return Base64Encode(Sha256(std::string("imgbatch:") + std::string(request_id)));
}

}  // namespace

std::string Sequencer(uint64_t sequence) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(sequence));
  return buf;
}

namespace {

bool IsTagging(store::ObjectEventKind kind) {
  return kind == store::ObjectEventKind::kTaggingPut ||
         kind == store::ObjectEventKind::kTaggingDelete;
}

bool IsRemoval(store::ObjectEventKind kind) {
  return kind == store::ObjectEventKind::kDelete ||
         kind == store::ObjectEventKind::kLifecycleExpiration;
}

// Who made the change: "AWS:<key id>" for a client, S3 itself for a
// lifecycle action.
std::string PrincipalOf(const store::ObjectEvent& event) {
  if (event.kind == store::ObjectEventKind::kLifecycleExpiration) return event.caller.principal;
  return event.caller.principal.empty() ? "AWS:ANONYMOUS" : "AWS:" + event.caller.principal;
}

// What S3 says of the object: size and ETag of what was written, none for a
// delete. A tagging event names the object by key and ETag; it carries no
// sequencer, because the object's own did not change (a consumer ordering
// writes by sequencer would take it for a repeat of the last write).
nlohmann::json ObjectOf(const store::ObjectEvent& event) {
  const store::ObjectMeta& meta = event.meta;
  nlohmann::json object = {{"key", FormEncode(meta.key)}};
  if (IsTagging(event.kind)) {
    object["eTag"] = meta.etag;
    return object;
  }
  if (!IsRemoval(event.kind)) {
    object["size"] = meta.size;
    object["eTag"] = meta.etag;
  }
  object["sequencer"] = Sequencer(meta.sequence);
  return object;
}

}  // namespace

std::string RenderRecord(const store::ObjectEvent& event, std::string_view configuration_id,
                         const EventSource& source) {
  const store::ObjectMeta& meta = event.meta;
  nlohmann::json object = ObjectOf(event);

  const std::string principal = PrincipalOf(event);
  nlohmann::json record = {
      // S3 gives tagging and lifecycle events version 2.3 (compatible with 2.1).
      {"eventVersion",
       IsTagging(event.kind) || event.kind == store::ObjectEventKind::kLifecycleExpiration ? "2.3"
                                                                                           : "2.1"},
      {"eventSource", "aws:s3"},
      {"awsRegion", source.region},
      {"eventTime", IsoMillis(event.time_ms)},
      {"eventName", EventName(event.kind)},
      {"userIdentity", {{"principalId", principal}}},
      {"requestParameters",
       {{"sourceIPAddress",
         event.caller.source_ip.empty() ? "127.0.0.1" : event.caller.source_ip}}},
      {"responseElements",
       {{"x-amz-request-id", event.caller.request_id},
        {"x-amz-id-2", HostId(event.caller.request_id)}}},
      {"s3",
       {{"s3SchemaVersion", "1.0"},
        {"configurationId", configuration_id},
        {"bucket",
         {{"name", meta.bucket},
          {"ownerIdentity", {{"principalId", source.owner_principal}}},
          {"arn", "arn:aws:s3:::" + meta.bucket}}},
        {"object", object}}},
  };
  return nlohmann::json{{"Records", nlohmann::json::array({record})}}.dump();
}

std::string RenderTestEvent(std::string_view bucket, int64_t time_ms, std::string_view request_id) {
  return nlohmann::json{{"Service", "Amazon S3"},     {"Event", "s3:TestEvent"},
                        {"Time", IsoMillis(time_ms)}, {"Bucket", bucket},
                        {"RequestId", request_id},    {"HostId", HostId(request_id)}}
      .dump();
}

}  // namespace imgbatch::notify
