#include "server/reprocess_api.h"

#include <nlohmann/json.hpp>

#include "server/operator_api.h"

namespace imgbatch::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxReprocessBody = 4096;

}  // namespace

bool HandleReprocessApi(notify::Notifier& notifier, const std::string& principal,
                        http::Exchange& ex) {
  if (ex.head().path != "/-/api/reprocess") return false;
  if (ex.head().method != "POST") {
    ReplyApiError(ex, 405, "MethodNotAllowed",
                  ex.head().method + " is not allowed here (allowed: POST)");
    return true;
  }
  auto body = http::ReadWholeBody(ex, kMaxReprocessBody);
  if (!body.ok()) {
    ReplyApiError(ex, 400, "InvalidRequest", body.status().message());
    return true;
  }
  json doc = json::parse(*body, nullptr, false);
  if (!doc.is_object() || !doc.contains("bucket") || !doc["bucket"].is_string() ||
      (doc.contains("prefix") && !doc["prefix"].is_string())) {
    ReplyApiError(ex, 400, "InvalidRequest",
                  "the body must be {\"bucket\": \"..\", \"prefix\": \"..\"}");
    return true;
  }
  const std::string bucket = doc["bucket"];
  const std::string prefix = doc.value("prefix", "");
  store::Caller caller{principal, ex.head().remote_address, std::to_string(ex.head().request_id)};
  auto counts = notifier.Reprocess(bucket, prefix, caller);
  if (!counts.ok()) {
    if (counts.status().code() == Code::kNotFound) {
      ReplyApiError(ex, 404, "NoSuchBucket", "no bucket named '" + bucket + "'");
    } else {
      ReplyApiError(ex, 500, "InternalError", counts.status().message());
    }
    return true;
  }
  ReplyJson(ex, 200,
            json{{"bucket", bucket},
                 {"prefix", prefix},
                 {"objects", counts->objects},
                 {"messages", counts->messages}}
                .dump());
  return true;
}

}  // namespace imgbatch::server
