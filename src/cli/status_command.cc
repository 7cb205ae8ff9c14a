#include "cli/status_command.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/http_transport.h"

namespace imgbatch::cli {
namespace {

struct StatusFlags {
  std::string endpoint = "http://127.0.0.1:4566";
  std::string data_dir = "./imgbatch-data";
  bool json = false;
};

std::string FindToken(const StatusFlags& flags) {
  if (const char* env = std::getenv("IMGBATCH_API_TOKEN"); env && *env) return env;
  std::ifstream in(flags.data_dir + "/dashboard-token");
  std::string token;
  std::getline(in, token);
  return token;
}

void PrintTable(const nlohmann::json& s) {
  std::printf("%-20s %8s %10s %8s\n", "QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED");
  for (const auto& q : s.value("queues", nlohmann::json::array())) {
    std::printf("%-20s %8lld %10lld %8lld\n", q.value("name", "").c_str(), q.value("visible", 0LL),
                q.value("in_flight", 0LL), q.value("delayed", 0LL));
  }
  if (s.contains("workers")) {
    const auto& w = s["workers"];
    std::printf("\nworkers: %d desired, %d running (%d busy, %d idle, %d stopping), %d restarts\n",
                w.value("desired", 0), w.value("running", 0), w.value("busy", 0),
                w.value("idle", 0), w.value("stopping", 0), w.value("restarts", 0));
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

int RunStatus(const StatusFlags& flags) {
  client::CurlTransport transport;
  client::HttpRequest request;
  request.url = flags.endpoint + "/-/api/status";
  request.headers.emplace_back("Authorization", "Bearer " + FindToken(flags));
  request.timeout = std::chrono::seconds(10);
  auto response = transport.Send(request);
  if (!response.ok()) {
    std::fprintf(stderr, "imgbatch status: cannot reach %s: %s\n", flags.endpoint.c_str(),
                 response.status().message().c_str());
    return 1;
  }
  if (response->status != 200) {
    std::fprintf(stderr, "imgbatch status: %s answered %d: %s\n", flags.endpoint.c_str(),
                 static_cast<int>(response->status), response->body.c_str());
    return response->status == 401 ? 2 : 1;
  }
  if (flags.json) {
    std::printf("%s\n", response->body.c_str());
    return 0;
  }
  auto doc = nlohmann::json::parse(response->body, nullptr, false);
  if (doc.is_discarded()) {
    std::fprintf(stderr, "imgbatch status: the server's answer is not JSON\n");
    return 1;
  }
  PrintTable(doc);
  return 0;
}

}  // namespace

void AddStatusCommand(CLI::App& app) {
  auto flags = std::make_shared<StatusFlags>();
  if (const char* env = std::getenv("IMGBATCH_ENDPOINT"); env && *env) flags->endpoint = env;
  CLI::App* cmd =
      app.add_subcommand("status", "Queues, workers, throughput and alarms of a running server");
  cmd->add_option("--endpoint", flags->endpoint, "The server (IMGBATCH_ENDPOINT)")
      ->capture_default_str();
  cmd->add_option("--data-dir", flags->data_dir, "Where the API token is kept")
      ->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print the status document as JSON");
  cmd->callback([flags] {
    int code = RunStatus(*flags);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgbatch::cli
