#include "cli/status_command.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/api_client.h"

namespace imgbatch::cli {
namespace {

void PrintTable(const nlohmann::json& s) {
  std::printf("%-20s %8s %10s %8s\n", "QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED");
  for (const auto& q : s.value("queues", nlohmann::json::array())) {
    std::printf("%-20s %8lld %10lld %8lld\n", q.value("name", "").c_str(), q.value("visible", 0LL),
                q.value("in_flight", 0LL), q.value("delayed", 0LL));
  }
  if (s.contains("connections")) {
    const auto& c = s["connections"];
    std::printf("\nconnections: %lld open, %lld long polls waiting\n", c.value("open", 0LL),
                c.value("receives_waiting", 0LL));
  }
  if (s.contains("workers")) {
    const auto& w = s["workers"];
    std::printf(
        "workers: %d desired, %d running (%d busy, %d idle, %d stopping), %d restarts; "
        "%d stopped after finishing, %d stopped with images in flight\n",
        w.value("desired", 0), w.value("running", 0), w.value("busy", 0), w.value("idle", 0),
        w.value("stopping", 0), w.value("restarts", 0), w.value("stopped", 0),
        w.value("interrupted", 0));
  }
  if (s.contains("images")) {
    const auto& i = s["images"];
    std::printf(
        "images: %lld processed, %lld failed, %.1f/s over the last minute; processing p50 %.0f ms "
        "p99 %.0f ms; upload-to-output p50 %.0f ms p99 %.0f ms\n",
        i.value("processed", 0LL), i.value("failed", 0LL), i.value("per_second_1m", 0.0),
        i.value("latency_ms_p50", 0.0), i.value("latency_ms_p99", 0.0),
        i.value("end_to_end_ms_p50", 0.0), i.value("end_to_end_ms_p99", 0.0));
  }
  for (const auto& a : s.value("alarms", nlohmann::json::array())) {
    std::printf("alarm %s: %s (%s)\n", a.value("name", "").c_str(), a.value("state", "").c_str(),
                a.value("reason", "").c_str());
  }
  auto scaling = s.value("scaling", nlohmann::json::array());
  if (!scaling.empty())
    std::printf("last scaling: %s\n", scaling.back().value("reason", "").c_str());
}

int RunStatus(const ServerFlags& flags, bool json) {
  int exit_code = 0;
  auto reply = CallApi(flags, {"status", "GET", "/-/api/status", ""}, exit_code);
  if (!reply) return exit_code;
  if (json) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  if (!reply->doc.is_object()) {
    std::fprintf(stderr, "imgbatch status: the server's answer is not JSON\n");
    return kExitServerError;
  }
  PrintTable(reply->doc);
  return 0;
}

}  // namespace

void AddStatusCommand(CLI::App& app) {
  CLI::App* cmd =
      app.add_subcommand("status", "Queues, workers, throughput and alarms of a running server");
  auto flags = AddServerFlags(*cmd);
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print the status document as JSON");
  cmd->callback([flags, json] {
    int code = RunStatus(*flags, *json);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgbatch::cli
