#include "cli/keys_command.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/api_client.h"

namespace imgbatch::cli {
namespace {

using nlohmann::json;

struct KeysFlags {
  std::string name;
  std::string policy;              // JSON text or @FILE
  std::vector<std::string> allow;  // ACTION=RESOURCE
  std::string access_key_id;
  bool json = false;
};

// The policy document the flags describe, or an error message.
std::optional<json> PolicyFromFlags(const KeysFlags& flags, std::string& error) {
  if (!flags.policy.empty() && !flags.allow.empty()) {
    error = "give --policy or --allow, not both";
    return std::nullopt;
  }
  if (!flags.policy.empty()) {
    std::string text = flags.policy;
    if (text.starts_with("@")) {
      std::ifstream in(text.substr(1));
      if (!in) {
        error = "cannot read policy file " + text.substr(1);
        return std::nullopt;
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      text = buffer.str();
    }
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_object()) {
      error = "--policy is not a JSON object";
      return std::nullopt;
    }
    return doc;
  }
  if (flags.allow.empty()) {
    error = "a key needs a policy: --policy JSON|@FILE or --allow ACTION=RESOURCE";
    return std::nullopt;
  }
  json statements = json::array();
  for (const auto& rule : flags.allow) {
    size_t eq = rule.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == rule.size()) {
      error = "--allow takes ACTION=RESOURCE (e.g. s3:GetObject=arn:aws:s3:::input/*), got '" +
              rule + "'";
      return std::nullopt;
    }
    statements.push_back(
        {{"Effect", "Allow"}, {"Action", rule.substr(0, eq)}, {"Resource", rule.substr(eq + 1)}});
  }
  return json{{"Version", "2012-10-17"}, {"Statement", statements}};
}

int RunCreate(const ServerFlags& server, const KeysFlags& flags) {
  std::string error;
  auto policy = PolicyFromFlags(flags, error);
  if (!policy) {
    std::fprintf(stderr, "imgbatch keys create: %s\n", error.c_str());
    return kExitServerError;
  }
  int exit_code = 0;
  auto reply = CallApi(server,
                       {"keys create", "POST", "/-/api/keys",
                        json{{"name", flags.name}, {"policy", *policy}}.dump()},
                       exit_code);
  if (!reply) return exit_code;
  if (flags.json) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  std::printf(
      "created key '%s'; its secret is shown only now:\n"
      "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n",
      reply->doc.value("name", "").c_str(), reply->doc.value("access_key_id", "").c_str(),
      reply->doc.value("secret_access_key", "").c_str());
  return 0;
}

// "s3:GetObject on arn:aws:s3:::input/*; ..." for the table.
std::string PolicySummary(const json& policy) {
  if (policy.is_null()) return "everything (root)";
  std::string out;
  auto words = [](const json& v) {
    if (v.is_string()) return v.get<std::string>();
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x.get<std::string>();
    return s;
  };
  for (const auto& st : policy.value("Statement", json::array())) {
    if (!out.empty()) out += "; ";
    if (st.value("Effect", "Allow") == "Deny") out += "DENY ";
    out += words(st.value("Action", json(""))) + " on " + words(st.value("Resource", json("")));
  }
  return out;
}

int RunList(const ServerFlags& server, const KeysFlags& flags) {
  int exit_code = 0;
  auto reply = CallApi(server, {"keys list", "GET", "/-/api/keys", ""}, exit_code);
  if (!reply) return exit_code;
  if (flags.json) {
    std::printf("%s\n", reply->body.c_str());
    return 0;
  }
  std::printf("%-20s  %-16s  %-8s  %s\n", "ACCESS KEY ID", "NAME", "SOURCE", "POLICY");
  for (const auto& k : reply->doc.value("keys", json::array())) {
    std::printf("%-20s  %-16s  %-8s  %s\n", k.value("access_key_id", "").c_str(),
                k.value("name", "").c_str(), k.value("source", "").c_str(),
                PolicySummary(k.contains("policy") ? k["policy"] : json()).c_str());
  }
  return 0;
}

int RunRevoke(const ServerFlags& server, const KeysFlags& flags) {
  int exit_code = 0;
  auto reply = CallApi(
      server, {"keys revoke", "DELETE", "/-/api/keys/" + PathSegment(flags.access_key_id), ""},
      exit_code);
  if (!reply) return exit_code;
  std::printf("revoked %s\n", flags.access_key_id.c_str());
  return 0;
}

template <typename Run>
void OnRun(CLI::App* cmd, std::shared_ptr<ServerFlags> server, std::shared_ptr<KeysFlags> flags,
           Run run) {
  cmd->callback([server, flags, run] {
    int code = run(*server, *flags);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace

void AddKeysCommand(CLI::App& app) {
  CLI::App* keys = app.add_subcommand("keys", "Access keys of a running server, with policies");
  keys->require_subcommand(1);
  auto flags = std::make_shared<KeysFlags>();

  CLI::App* create = keys->add_subcommand("create", "Create a key (its secret is shown once)");
  auto create_server = AddServerFlags(*create);
  create->add_option("name", flags->name, "A name for the key (A-Z a-z 0-9 +=,.@_-)")->required();
  create->add_option("--policy", flags->policy, "IAM policy JSON, or @FILE");
  create->add_option("--allow", flags->allow,
                     "ACTION=RESOURCE to allow (repeatable), e.g. "
                     "s3:PutObject=arn:aws:s3:::input/*");
  create->add_flag("--json", flags->json, "Print the API's JSON answer");
  OnRun(create, create_server, flags, RunCreate);

  CLI::App* list = keys->add_subcommand("list", "Every key: root, worker, config and created");
  auto list_server = AddServerFlags(*list);
  list->add_flag("--json", flags->json, "Print the API's JSON document");
  OnRun(list, list_server, flags, RunList);

  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a created key, effective at once");
  auto revoke_server = AddServerFlags(*revoke);
  revoke->add_option("access-key-id", flags->access_key_id, "The key's access key id")->required();
  OnRun(revoke, revoke_server, flags, RunRevoke);
}

}  // namespace imgbatch::cli
