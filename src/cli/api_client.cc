#include "cli/api_client.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "client/http_transport.h"
#include "common/strings.h"

namespace imgbatch::cli {
namespace {

std::string FindToken(const ServerFlags& flags) {
  if (const char* env = std::getenv("IMGBATCH_API_TOKEN"); env && *env) return env;
  std::ifstream in(flags.data_dir + "/dashboard-token");
  std::string token;
  std::getline(in, token);
  return token;
}

}  // namespace

std::shared_ptr<ServerFlags> AddServerFlags(CLI::App& cmd) {
  auto flags = std::make_shared<ServerFlags>();
  if (const char* env = std::getenv("IMGBATCH_ENDPOINT"); env && *env) flags->endpoint = env;
  if (const char* env = std::getenv("IMGBATCH_DATA_DIR"); env && *env) flags->data_dir = env;
  cmd.add_option("--endpoint", flags->endpoint, "The server (IMGBATCH_ENDPOINT)")
      ->capture_default_str();
  cmd.add_option("--data-dir", flags->data_dir,
                 "The server's data directory, where its API token is kept (IMGBATCH_DATA_DIR; "
                 "or give the token in IMGBATCH_API_TOKEN)")
      ->capture_default_str();
  return flags;
}

std::optional<ApiReply> CallApi(const ServerFlags& flags, const ApiCall& call, int& exit_code) {
  const std::string token = FindToken(flags);
  if (token.empty()) {
    std::fprintf(stderr,
                 "imgbatch %s: no API token: %s/dashboard-token is missing (give the server's "
                 "--data-dir, or IMGBATCH_API_TOKEN)\n",
                 call.command.c_str(), flags.data_dir.c_str());
    exit_code = kExitUnauthorized;
    return std::nullopt;
  }
  client::CurlTransport transport;
  client::HttpRequest request;
  request.method = call.method;
  request.url = flags.endpoint + call.path;
  request.headers.emplace_back("Authorization", "Bearer " + token);
  if (!call.body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = call.body;
  }
  request.timeout = std::chrono::seconds(30);
  auto response = transport.Send(request);
  if (!response.ok()) {
    std::fprintf(stderr, "imgbatch %s: cannot reach the server at %s: %s\n", call.command.c_str(),
                 flags.endpoint.c_str(), response.status().message().c_str());
    exit_code = kExitServerError;
    return std::nullopt;
  }
  ApiReply reply;
  reply.status = response->status;
  reply.body = std::move(response->body);
  reply.doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (reply.status == 401) {
    std::fprintf(stderr,
                 "imgbatch %s: %s refused the API token (from %s; is --data-dir the server's?)\n",
                 call.command.c_str(), flags.endpoint.c_str(),
                 std::getenv("IMGBATCH_API_TOKEN") ? "IMGBATCH_API_TOKEN"
                                                   : (flags.data_dir + "/dashboard-token").c_str());
    exit_code = kExitUnauthorized;
    return std::nullopt;
  }
  if (reply.status < 200 || reply.status >= 300) {
    std::string message = reply.body;
    if (reply.doc.is_object() && reply.doc.contains("message")) {
      message = reply.doc.value("error", "") + ": " + reply.doc.value("message", "");
    }
    std::fprintf(stderr, "imgbatch %s: the server answered %ld: %s\n", call.command.c_str(),
                 reply.status, message.c_str());
    exit_code = kExitServerError;
    return std::nullopt;
  }
  return reply;
}

std::string PathSegment(const std::string& s) { return UriEncode(s, /*encode_slash=*/true); }

}  // namespace imgbatch::cli
