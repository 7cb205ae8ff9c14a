#include "cli/api_client.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "auth/sigv4.h"
#include "client/http_transport.h"
#include "client/s3_client.h"
#include "common/strings.h"
#include "server/root_key.h"

namespace imgbatch::cli {
namespace {

std::string FindToken(const ServerFlags& flags) {
  if (const char* env = std::getenv("IMGBATCH_API_TOKEN"); env && *env) return env;
  std::ifstream in(flags.data_dir + "/dashboard-token");
  std::string token;
  std::getline(in, token);
  return token;
}

// Without a token: the root key, found as `up` finds it (IMGBATCH_ACCESS_KEY_ID /
// IMGBATCH_SECRET_ACCESS_KEY, else <data-dir>/root-key.json), never created.
std::optional<server::RootKey> FindRoot(const ServerFlags& flags) {
  auto root = server::FindRootKey(server::RootKeyInputsFromEnvironment(flags.data_dir));
  if (!root.ok()) return std::nullopt;
  return *root;
}

// "http://127.0.0.1:4566/" -> "127.0.0.1:4566": the Host header to sign.
std::string HostOf(const std::string& endpoint) {
  std::string_view rest = endpoint;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  }
  return std::string(rest.substr(0, rest.find('/')));
}

// Signs the request (SigV4, UNSIGNED-PAYLOAD) with the root key.
void SignWithRootKey(const ServerFlags& flags, const server::RootKey& root,
                     client::HttpRequest& request, const std::string& path_and_query) {
  std::string_view target = path_and_query;
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  request.headers.emplace_back("host", HostOf(flags.endpoint));
  auth::SignRequest(request.method, path, query, request.headers, auth::kUnsignedPayload,
                    {root.access_key_id, root.secret_access_key, ""}, flags.region, "s3",
                    std::chrono::system_clock::now());
}

// A reply body fit for one line of stderr: whitespace runs become one space,
// and a long body is cut.
std::string OneLine(std::string_view body) {
  constexpr size_t kMaxChars = 200;
  std::string line;
  for (char c : body) {
    bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
    if (line.size() >= kMaxChars) return line + "...";
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

}  // namespace

std::shared_ptr<ServerFlags> AddServerFlags(CLI::App& cmd) {
  auto flags = std::make_shared<ServerFlags>();
  if (const char* env = std::getenv("IMGBATCH_ENDPOINT"); env && *env) flags->endpoint = env;
  if (const char* env = std::getenv("IMGBATCH_DATA_DIR"); env && *env) flags->data_dir = env;
  cmd.add_option("--endpoint", flags->endpoint, "The server (IMGBATCH_ENDPOINT)")
      ->capture_default_str();
  if (const char* env = std::getenv("IMGBATCH_REGION"); env && *env) flags->region = env;
  cmd.add_option("--region", flags->region,
                 "Region the server answers for (IMGBATCH_REGION), for root-key signatures")
      ->capture_default_str();
  cmd.add_option("--data-dir", flags->data_dir,
                 "The server's data directory, where its API token is kept (IMGBATCH_DATA_DIR; "
                 "or give the token in IMGBATCH_API_TOKEN)")
      ->capture_default_str();
  return flags;
}

std::optional<ApiReply> CallApi(const ServerFlags& flags, const ApiCall& call, int& exit_code) {
  const std::string token = FindToken(flags);
  std::optional<server::RootKey> root;
  if (token.empty()) root = FindRoot(flags);
  if (token.empty() && !root) {
    std::fprintf(stderr,
                 "imgbatch %s: no credentials: neither %s/dashboard-token nor a root key (give "
                 "the server's --data-dir, IMGBATCH_API_TOKEN, or IMGBATCH_ACCESS_KEY_ID and "
                 "IMGBATCH_SECRET_ACCESS_KEY)\n",
                 call.command.c_str(), flags.data_dir.c_str());
    exit_code = kExitUnauthorized;
    return std::nullopt;
  }
  // A server with a self-signed --tls-cert: trusted as the AWS CLI trusts it.
  client::CurlOptions transport_options;
  if (const char* ca_bundle = std::getenv("AWS_CA_BUNDLE")) transport_options.ca_file = ca_bundle;
  client::CurlTransport transport(transport_options);
  client::HttpRequest request;
  request.method = call.method;
  request.url = flags.endpoint + call.path;
  if (!call.body.empty()) {
    request.headers.emplace_back("content-type", "application/json");
    request.body = call.body;
  }
  if (!token.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + token);
  } else {
    SignWithRootKey(flags, *root, request, call.path);
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
    const std::string what =
        !token.empty() ? "the API token (from " +
                             std::string(std::getenv("IMGBATCH_API_TOKEN")
                                             ? "IMGBATCH_API_TOKEN"
                                             : flags.data_dir + "/dashboard-token") +
                             "; is --data-dir the server's?)"
                       : "the root key " + root->access_key_id + " (from " + root->source + ")";
    std::fprintf(stderr, "imgbatch %s: %s refused %s\n", call.command.c_str(),
                 flags.endpoint.c_str(), what.c_str());
    exit_code = kExitUnauthorized;
    return std::nullopt;
  }
  if (reply.status < 200 || reply.status >= 300) {
    std::string message = OneLine(reply.body);
    if (reply.doc.is_object() && reply.doc.contains("message")) {
      message = reply.doc.value("error", "") + ": " + reply.doc.value("message", "");
    } else if (std::string code = client::ParseS3ErrorCode({reply.status, {}, reply.body});
               !code.empty()) {
      // An S3 error: the path reached the S3 API, not /-/api/.
      message = code + " (is --endpoint the server's root URL, without a path?)";
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
