// How the operator commands (status, dlq, keys, reprocess) reach a running
// `imgbatch up`: the endpoint from --endpoint / IMGBATCH_ENDPOINT; the API
// token from IMGBATCH_API_TOKEN or <--data-dir>/dashboard-token (written by
// `up`), else a SigV4 signature with the root key found as `up` finds it
// (IMGBATCH_ACCESS_KEY_ID/IMGBATCH_SECRET_ACCESS_KEY, <data-dir>/root-key.json).
// Failures become one clear line on stderr and a meaningful exit code:
// 1 server unreachable or refused the request, 2 credentials refused (401).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace imgbatch::cli {

inline constexpr int kExitServerError = 1;
inline constexpr int kExitUnauthorized = 2;

struct ServerFlags {
  std::string endpoint = "http://127.0.0.1:4566";
  std::string data_dir = "./imgbatch-data";
  std::string region = "us-east-1";
};

// Adds --endpoint, --region and --data-dir (defaults from IMGBATCH_ENDPOINT,
// IMGBATCH_REGION, IMGBATCH_DATA_DIR) to cmd.
std::shared_ptr<ServerFlags> AddServerFlags(CLI::App& cmd);

struct ApiReply {
  long status = 0;
  std::string body;
  nlohmann::json doc;  // parsed body (discarded when not JSON)
};

// Sends one request to the operator API; path starts with "/-/api/". On a
// transport failure, a 401, or (unless allowed) any non-2xx answer, prints
// "imgbatch <command>: ..." and returns the exit code to use.
struct ApiCall {
  std::string command;  // "dlq list", for messages
  std::string method = "GET";
  std::string path;
  std::string body;
};
// Returns the reply, or sets exit_code and returns nullopt.
std::optional<ApiReply> CallApi(const ServerFlags& flags, const ApiCall& call, int& exit_code);

// Percent-encodes one path segment (queue names, message ids).
std::string PathSegment(const std::string& s);

}  // namespace imgbatch::cli
