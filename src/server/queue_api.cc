#include "server/queue_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/hashing.h"
#include "common/strings.h"
#include "server/operator_api.h"

namespace imgbatch::server {
namespace {

using nlohmann::json;

constexpr std::string_view kQueuesPrefix = "/-/api/queues/";
constexpr size_t kMaxRedriveBody = 4096;

// 404 for missing things, 409 for state conflicts, 400 for the rest of the
// caller's mistakes; the engine's AWS error code (detail) names the error.
void ReplyStatus(http::Exchange& ex, const Status& st) {
  int http_status = 500;
  switch (st.code()) {
    case Code::kNotFound:
      http_status = 404;
      break;
    case Code::kInvalidArgument:
    case Code::kUnsupported:
      http_status = 400;
      break;
    case Code::kConflict:
    case Code::kAlreadyExists:
      http_status = 409;
      break;
    default:
      break;
  }
  std::string code = st.detail().empty() ? (http_status == 500 ? "InternalError" : "BadRequest")
                                         : std::string(st.detail());
  ReplyApiError(ex, http_status, code, st.message());
}

json MessageJson(const queue::PeekedMessage& m) {
  json attributes = json::object();
  for (const auto& [name, a] : m.attributes) {
    attributes[name] = a.IsBinary() ? Base64Encode(a.value) : a.value;
  }
  return {{"message_id", m.message_id},
          {"body", m.body},
          {"sent_timestamp", m.sent_ms},
          {"receive_count", m.receive_count},
          {"attributes", attributes}};
}

void Peek(queue::QueueEngine& queues, const std::string& name, http::Exchange& ex) {
  int max = kDefaultPeekMessages;
  auto params = ParseQuery(ex.head().query);
  if (auto given = QueryGet(params, "max")) {
    auto n = ParseInt(*given);
    if (!n || *n < 1) {
      return ReplyApiError(ex, 400, "InvalidParameterValue",
                           "max must be a positive number, got '" + *given + "'");
    }
    max = static_cast<int>(std::min<int64_t>(*n, queue::kMaxPeekMessages));
  }
  auto messages = queues.Peek(name, max);
  if (!messages.ok()) return ReplyStatus(ex, messages.status());
  json list = json::array();
  for (const auto& m : *messages) list.push_back(MessageJson(m));
  json reply{{"queue", name}, {"messages", list}};
  // How many the queue holds in all, so a listing cut at `max` says so.
  if (auto counts = queues.Counts(name); counts.ok()) {
    reply["total"] = counts->visible + counts->not_visible + counts->delayed;
  }
  ReplyJson(ex, 200, reply.dump());
}

// 204 when deleted. A message already gone (redriven or deleted meanwhile)
// is 404 MessageNotFound, unless the caller passes ?missing=ok: then 200
// {"deleted": false, ...}, so the dashboard's page, for which that is the
// expected end state, gets no failed request (Chromium logs every 4xx as a
// console error). A missing queue stays 404 either way.
void DeleteMessage(queue::QueueEngine& queues, const std::string& name, const std::string& id,
                   http::Exchange& ex) {
  Status st = queues.DeleteById(name, id);
  if (!st.ok()) {
    auto missing = QueryGet(ParseQuery(ex.head().query), "missing");
    if (st.detail() == "MessageNotFound" && missing && *missing == "ok") {
      return ReplyJson(
          ex, 200,
          json{{"deleted", false}, {"reason", "MessageNotFound"}, {"message", st.message()}}
              .dump());
    }
    return ReplyStatus(ex, st);
  }
  http::Response r;
  r.status = 204;
  ex.Respond(std::move(r));
}

void StartRedrive(queue::QueueEngine& queues, const std::string& name, http::Exchange& ex) {
  if (!queues.GetQueue(name).ok()) {
    return ReplyApiError(ex, 404, "QueueDoesNotExist", "no queue named '" + name + "'");
  }
  auto body = http::ReadWholeBody(ex, kMaxRedriveBody);
  if (!body.ok()) return ReplyApiError(ex, 400, "InvalidRequest", body.status().message());
  std::string destination_arn;
  if (!Trim(*body).empty()) {
    json doc = json::parse(*body, nullptr, false);
    if (!doc.is_object()) {
      return ReplyApiError(ex, 400, "InvalidRequest",
                           "the body must be a JSON object like {\"destination\": \"queue\"}");
    }
    if (doc.contains("destination")) {
      if (!doc["destination"].is_string()) {
        return ReplyApiError(ex, 400, "InvalidParameterValue", "destination must be a string");
      }
      std::string destination = doc["destination"].get<std::string>();
      if (!queues.GetQueue(destination).ok()) {
        return ReplyApiError(ex, 404, "QueueDoesNotExist",
                             "no destination queue named '" + destination + "'");
      }
      destination_arn = queues.QueueArnFor(destination);
    }
  }
  auto handle = queues.StartMoveTask(queues.QueueArnFor(name), destination_arn, std::nullopt);
  if (!handle.ok()) return ReplyStatus(ex, handle.status());
  ReplyJson(ex, 200, json{{"task_handle", *handle}}.dump());
}

void ListRedrives(queue::QueueEngine& queues, const std::string& name, http::Exchange& ex) {
  auto tasks = queues.ListMoveTasks(queues.QueueArnFor(name), 10);
  if (!tasks.ok()) {
    if (tasks.status().code() == Code::kNotFound) {
      return ReplyApiError(ex, 404, "QueueDoesNotExist", "no queue named '" + name + "'");
    }
    return ReplyStatus(ex, tasks.status());
  }
  json list = json::array();
  for (const auto& t : *tasks) {
    list.push_back({{"task_handle", t.task_handle},
                    {"status", queue::MoveTaskStatusName(t.status)},
                    {"source_arn", t.source_arn},
                    {"destination_arn", t.destination_arn},
                    {"moved", t.moved},
                    {"to_move", t.to_move},
                    {"failure_reason", t.failure_reason},
                    {"started_timestamp", t.started_ms}});
  }
  ReplyJson(ex, 200, json{{"queue", name}, {"tasks", list}}.dump());
}

void MethodNotAllowed(http::Exchange& ex, std::string_view allowed) {
  ReplyApiError(ex, 405, "MethodNotAllowed",
                ex.head().method + " is not allowed here (allowed: " + std::string(allowed) + ")");
}

}  // namespace

bool HandleQueueApi(queue::QueueEngine& queues, http::Exchange& ex) {
  std::string_view path = ex.head().path;
  if (!path.starts_with(kQueuesPrefix)) return false;
  // <name>/messages, <name>/messages/<id>, <name>/redrive; segments are
  // percent-encoded on the wire.
  std::vector<std::string> segments;
  for (std::string_view raw : Split(path.substr(kQueuesPrefix.size()), '/')) {
    auto decoded = PercentDecode(raw);
    if (!decoded || decoded->empty()) {
      ReplyApiError(ex, 404, "NotFound", "no such API endpoint: " + std::string(path));
      return true;
    }
    segments.push_back(std::move(*decoded));
  }
  const std::string& method = ex.head().method;
  if (segments.size() == 2 && segments[1] == "messages") {
    if (method != "GET")
      MethodNotAllowed(ex, "GET");
    else
      Peek(queues, segments[0], ex);
  } else if (segments.size() == 3 && segments[1] == "messages") {
    if (method != "DELETE")
      MethodNotAllowed(ex, "DELETE");
    else
      DeleteMessage(queues, segments[0], segments[2], ex);
  } else if (segments.size() == 2 && segments[1] == "redrive") {
    if (method == "POST")
      StartRedrive(queues, segments[0], ex);
    else if (method == "GET")
      ListRedrives(queues, segments[0], ex);
    else
      MethodNotAllowed(ex, "GET, POST");
  } else {
    ReplyApiError(ex, 404, "NotFound", "no such API endpoint: " + std::string(path));
  }
  return true;
}

}  // namespace imgbatch::server
