#include "cli/dlq_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/api_client.h"
#include "common/strings.h"

namespace imgbatch::cli {
namespace {

using nlohmann::json;

constexpr auto kRedriveWait = std::chrono::seconds(60);
constexpr auto kRedrivePoll = std::chrono::milliseconds(200);

struct DlqFlags {
  std::string queue = "batch-dlq";
  std::string to;  // redrive destination; "" = the DLQ's one source queue
  int max = 100;
  bool json = false;
  bool no_wait = false;
  std::string message_id;
};

// The object key a message is about: the worker's SourceKey attribute, else
// the S3 event's first record (URL-decoded as S3 encodes it).
std::string KeyOf(const json& m) {
  const json& attributes = m.value("attributes", json::object());
  if (attributes.contains("SourceKey")) return attributes["SourceKey"].get<std::string>();
  json event = json::parse(m.value("body", ""), nullptr, false);
  if (event.is_object() && event.contains("Records") && event["Records"].is_array() &&
      !event["Records"].empty()) {
    const json& record = event["Records"][0];
    if (record.contains("s3") && record["s3"].contains("object") &&
        record["s3"]["object"].contains("key") && record["s3"]["object"]["key"].is_string()) {
      std::string raw = record["s3"]["object"]["key"];
      return PercentDecode(raw, /*plus_as_space=*/true).value_or(raw);
    }
  }
  return "-";
}

std::string ReasonOf(const json& m) {
  const json& attributes = m.value("attributes", json::object());
  if (!attributes.contains("ErrorCode")) {
    return "received " + std::to_string(m.value("receive_count", 0)) +
           " times without success (maxReceiveCount)";
  }
  std::string reason = attributes["ErrorCode"].get<std::string>();
  if (attributes.contains("ErrorMessage")) {
    reason += ": " + attributes["ErrorMessage"].get<std::string>();
  }
  return reason;
}

std::string FormatTime(int64_t ms) {
  return FormatIso8601Millis(SysTime(std::chrono::milliseconds(ms))).substr(0, 19) + "Z";
}

int RunList(const ServerFlags& server, const DlqFlags& flags) {
  int exit_code = 0;
  auto reply = CallApi(
      server,
      {"dlq list", "GET",
       "/-/api/queues/" + PathSegment(flags.queue) + "/messages?max=" + std::to_string(flags.max),
       ""},
      exit_code);
  if (!reply) return exit_code;
  if (flags.json) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  const json messages = reply->doc.value("messages", json::array());
  if (messages.empty()) {
    std::printf("%s is empty\n", flags.queue.c_str());
    return 0;
  }
  std::printf("%-36s  %-20s  %8s  %-30s  %s\n", "MESSAGE ID", "SENT", "RECEIVES", "KEY", "REASON");
  for (const auto& m : messages) {
    std::printf("%-36s  %-20s  %8d  %-30s  %s\n", m.value("message_id", "").c_str(),
                FormatTime(m.value("sent_timestamp", int64_t{0})).c_str(),
                m.value("receive_count", 0), KeyOf(m).c_str(), ReasonOf(m).c_str());
  }
  const size_t total = std::max(messages.size(), reply->doc.value("total", size_t{0}));
  if (total > messages.size()) {
    std::printf("%zu of the %zu messages in %s (--max lists up to 1000)\n", messages.size(), total,
                flags.queue.c_str());
  } else {
    std::printf("%zu message%s in %s\n", messages.size(), messages.size() == 1 ? "" : "s",
                flags.queue.c_str());
  }
  return 0;
}

// The queue whose RedrivePolicy targets this DLQ, when there is exactly one:
// messages the worker dead-letters itself carry no redrive origin, so
// "back to the source" needs the name (as `imgbatch status` reports it).
std::string SoleSourceOf(const ServerFlags& server, const std::string& dlq, int& exit_code) {
  auto status = CallApi(server, {"dlq redrive", "GET", "/-/api/status", ""}, exit_code);
  if (!status) return "";
  std::vector<std::string> sources;
  for (const auto& q : status->doc.value("queues", json::array())) {
    if (q.value("dead_letter_queue", "") == dlq) sources.push_back(q.value("name", ""));
  }
  return sources.size() == 1 ? sources[0] : "";
}

int RunRedrive(const ServerFlags& server, const DlqFlags& flags) {
  int exit_code = 0;
  std::string destination = flags.to;
  if (destination.empty()) {
    destination = SoleSourceOf(server, flags.queue, exit_code);
    if (exit_code != 0) return exit_code;
  }
  json body = json::object();
  if (!destination.empty()) body["destination"] = destination;
  const std::string path = "/-/api/queues/" + PathSegment(flags.queue) + "/redrive";
  auto started = CallApi(server, {"dlq redrive", "POST", path, body.dump()}, exit_code);
  if (!started) return exit_code;
  const std::string handle = started->doc.value("task_handle", "");
  const std::string where = destination.empty() ? "their source queues" : destination;
  if (flags.no_wait) {
    std::printf("redrive of %s to %s started (task %s)\n", flags.queue.c_str(), where.c_str(),
                handle.c_str());
    return 0;
  }
  const auto deadline = std::chrono::steady_clock::now() + kRedriveWait;
  while (std::chrono::steady_clock::now() < deadline) {
    auto tasks = CallApi(server, {"dlq redrive", "GET", path, ""}, exit_code);
    if (!tasks) return exit_code;
    for (const auto& t : tasks->doc.value("tasks", json::array())) {
      if (t.value("task_handle", "") != handle) continue;
      const std::string state = t.value("status", "");
      if (state == "RUNNING") break;
      if (state == "COMPLETED") {
        std::printf("moved %lld message%s from %s to %s\n", t.value("moved", 0LL),
                    t.value("moved", 0LL) == 1 ? "" : "s", flags.queue.c_str(), where.c_str());
        return 0;
      }
      std::fprintf(stderr, "imgbatch dlq redrive: the move task ended %s after %lld messages: %s\n",
                   state.c_str(), t.value("moved", 0LL), t.value("failure_reason", "").c_str());
      return kExitServerError;
    }
    std::this_thread::sleep_for(kRedrivePoll);
  }
  std::fprintf(stderr, "imgbatch dlq redrive: task %s still running after %llds\n", handle.c_str(),
               static_cast<long long>(kRedriveWait.count()));
  return kExitServerError;
}

int RunDelete(const ServerFlags& server, const DlqFlags& flags) {
  int exit_code = 0;
  auto reply = CallApi(
      server,
      {"dlq delete", "DELETE",
       "/-/api/queues/" + PathSegment(flags.queue) + "/messages/" + PathSegment(flags.message_id),
       ""},
      exit_code);
  if (!reply) return exit_code;
  std::printf("deleted %s from %s\n", flags.message_id.c_str(), flags.queue.c_str());
  return 0;
}

template <typename Run>
void OnRun(CLI::App* cmd, std::shared_ptr<ServerFlags> server, std::shared_ptr<DlqFlags> flags,
           Run run) {
  cmd->callback([server, flags, run] {
    int code = run(*server, *flags);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace

void AddDlqCommand(CLI::App& app) {
  CLI::App* dlq = app.add_subcommand("dlq", "The dead-letter queue of a running server");
  dlq->require_subcommand(1);
  auto flags = std::make_shared<DlqFlags>();

  CLI::App* list = dlq->add_subcommand(
      "list", "Peek at the dead letters (without receiving them) and why each one failed");
  auto list_server = AddServerFlags(*list);
  list->add_option("--queue", flags->queue, "Dead-letter queue")->capture_default_str();
  list->add_option("--max", flags->max, "At most this many messages")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  list->add_flag("--json", flags->json, "Print the API's JSON document");
  OnRun(list, list_server, flags, RunList);

  CLI::App* redrive = dlq->add_subcommand(
      "redrive", "Move the dead letters back to be processed again (StartMessageMoveTask)");
  auto redrive_server = AddServerFlags(*redrive);
  redrive->add_option("--queue", flags->queue, "Dead-letter queue")->capture_default_str();
  redrive->add_option("--to", flags->to,
                      "Destination queue (default: the queue that uses --queue as its "
                      "dead-letter queue, else each message's source queue)");
  redrive->add_flag("--no-wait", flags->no_wait, "Return once the move task started");
  OnRun(redrive, redrive_server, flags, RunRedrive);

  CLI::App* del = dlq->add_subcommand("delete", "Delete one dead letter by its message id");
  auto delete_server = AddServerFlags(*del);
  del->add_option("--queue", flags->queue, "Dead-letter queue")->capture_default_str();
  del->add_option("message-id", flags->message_id, "The message id (from `dlq list`)")->required();
  OnRun(del, delete_server, flags, RunDelete);
}

}  // namespace imgbatch::cli
