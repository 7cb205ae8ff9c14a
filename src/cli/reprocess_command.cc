#include "cli/reprocess_command.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/api_client.h"

namespace imgbatch::cli {
namespace {

struct ReprocessFlags {
  std::string url;  // s3://bucket/prefix
  bool json = false;
};

int RunReprocess(const ServerFlags& server, const ReprocessFlags& flags) {
  constexpr std::string_view kScheme = "s3://";
  std::string_view rest = flags.url;
  if (!rest.starts_with(kScheme) || rest.size() == kScheme.size()) {
    std::fprintf(stderr, "imgbatch reprocess: expected s3://BUCKET[/PREFIX], got '%s'\n",
                 flags.url.c_str());
    return kExitServerError;
  }
  rest.remove_prefix(kScheme.size());
  size_t slash = rest.find('/');
  std::string bucket(rest.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
  int exit_code = 0;
  auto reply = CallApi(server,
                       {"reprocess", "POST", "/-/api/reprocess",
                        nlohmann::json{{"bucket", bucket}, {"prefix", prefix}}.dump()},
                       exit_code);
  if (!reply) return exit_code;
  if (flags.json) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  std::printf("s3://%s/%s: %lld objects, %lld event messages sent\n", bucket.c_str(),
              prefix.c_str(), reply->doc.value("objects", 0LL), reply->doc.value("messages", 0LL));
  return 0;
}

}  // namespace

void AddReprocessCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "reprocess", "Enqueue ObjectCreated events for objects already under s3://BUCKET/PREFIX");
  auto server = AddServerFlags(*cmd);
  auto flags = std::make_shared<ReprocessFlags>();
  cmd->add_option("url", flags->url, "s3://BUCKET/PREFIX (the prefix may be empty)")->required();
  cmd->add_flag("--json", flags->json, "Print the API's JSON answer");
  cmd->callback([server, flags] {
    int code = RunReprocess(*server, *flags);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgbatch::cli
