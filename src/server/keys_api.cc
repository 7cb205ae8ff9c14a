#include "server/keys_api.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "server/operator_api.h"
#include "server/root_key.h"

namespace imgbatch::server {
namespace {

using nlohmann::json;

constexpr std::string_view kKeysPath = "/-/api/keys";
constexpr size_t kMaxCreateBody = 64 * 1024;

json KeyJson(const keys::KeyInfo& k) {
  json j = {{"access_key_id", k.access_key_id}, {"name", k.name}, {"source", k.source}};
  j["policy"] = k.policy_json.empty() ? json(nullptr) : json::parse(k.policy_json, nullptr, false);
  if (k.created_ms) j["created_timestamp"] = k.created_ms;
  return j;
}

void ListKeys(keys::KeyStore& keys, http::Exchange& ex) {
  json list = json::array();
  for (const auto& k : keys.List()) list.push_back(KeyJson(k));
  ReplyJson(ex, 200, json{{"keys", list}}.dump());
}

void CreateKey(keys::KeyStore& keys, http::Exchange& ex) {
  auto body = http::ReadWholeBody(ex, kMaxCreateBody);
  if (!body.ok()) return ReplyApiError(ex, 400, "InvalidRequest", body.status().message());
  json doc = json::parse(*body, nullptr, false);
  if (!doc.is_object() || !doc.contains("name") || !doc["name"].is_string() ||
      !doc.contains("policy")) {
    return ReplyApiError(ex, 400, "InvalidRequest",
                         "the body must be {\"name\": \"..\", \"policy\": {IAM policy}}");
  }
  const json& given = doc["policy"];
  auto policy = auth::Policy::FromJson(given.is_string() ? given.get<std::string>() : given.dump());
  if (!policy.ok()) {
    return ReplyApiError(ex, 400, "MalformedPolicyDocument", policy.status().message());
  }
  RootKey generated = GenerateKey();
  auth::AccessKey key{generated.access_key_id, generated.secret_access_key,
                      doc["name"].get<std::string>(), std::move(*policy), false};
  auto created = keys.Create(key);
  if (!created.ok()) {
    const bool taken = created.status().code() == Code::kAlreadyExists;
    return ReplyApiError(ex, taken ? 409 : 400,
                         taken ? "KeyAlreadyExists" : "InvalidParameterValue",
                         created.status().message());
  }
  json reply = KeyJson(*created);
  reply["secret_access_key"] = key.secret_access_key;
  ReplyJson(ex, 201, reply.dump());
}

void RevokeKey(keys::KeyStore& keys, const std::string& id, http::Exchange& ex) {
  Status st = keys.Revoke(id);
  if (!st.ok()) {
    const int status = st.code() == Code::kNotFound ? 404 : 409;
    return ReplyApiError(ex, status, st.detail().empty() ? "Conflict" : st.detail(), st.message());
  }
  http::Response r;
  r.status = 204;
  ex.Respond(std::move(r));
}

}  // namespace

bool HandleKeysApi(keys::KeyStore& keys, http::Exchange& ex) {
  std::string_view path = ex.head().path;
  if (path != kKeysPath && !path.starts_with(std::string(kKeysPath) + "/")) return false;
  const std::string& method = ex.head().method;
  if (path == kKeysPath || path == std::string(kKeysPath) + "/") {
    if (method == "GET") return ListKeys(keys, ex), true;
    if (method == "POST") return CreateKey(keys, ex), true;
    ReplyApiError(ex, 405, "MethodNotAllowed",
                  method + " is not allowed here (allowed: GET, POST)");
    return true;
  }
  auto id = PercentDecode(path.substr(kKeysPath.size() + 1));
  if (!id || id->empty() || id->find('/') != std::string::npos) {
    ReplyApiError(ex, 404, "NotFound", "no such API endpoint: " + std::string(path));
  } else if (method != "DELETE") {
    ReplyApiError(ex, 405, "MethodNotAllowed", method + " is not allowed here (allowed: DELETE)");
  } else {
    RevokeKey(keys, *id, ex);
  }
  return true;
}

}  // namespace imgbatch::server
