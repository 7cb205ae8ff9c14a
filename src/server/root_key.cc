#include "server/root_key.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/hashing.h"
#include "server/data_dir.h"

namespace imgbatch::server {
namespace {

constexpr char kKeyFile[] = "root-key.json";

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string RandomFrom(std::string_view alphabet, size_t n) {
  std::string bytes = RandomBytes(n);
  std::string out;
  for (unsigned char b : bytes) out.push_back(alphabet[b % alphabet.size()]);
  return out;
}

}  // namespace

Result<RootKey> ReadKeyFile(const std::string& path) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("access_key_id") ||
      !doc.contains("secret_access_key") || !doc["access_key_id"].is_string() ||
      !doc["secret_access_key"].is_string()) {
    return Status(Code::kCorruption, path + " is not a valid key file");
  }
  return RootKey{doc["access_key_id"].get<std::string>(),
                 doc["secret_access_key"].get<std::string>(), "data directory"};
}

Result<RootKey> CreateKeyFile(const std::string& path) {
  RootKey key = GenerateKey();
  nlohmann::json doc = {{"access_key_id", key.access_key_id},
                        {"secret_access_key", key.secret_access_key}};
  IMGBATCH_RETURN_IF_ERROR(WriteFileAtomically(path, doc.dump(2) + "\n", 0600));
  return key;
}

RootKeyInputs RootKeyInputsFromEnvironment(const std::string& data_dir) {
  RootKeyInputs in;
  in.env_access_key_id = Env("IMGBATCH_ACCESS_KEY_ID");
  in.env_secret_access_key = Env("IMGBATCH_SECRET_ACCESS_KEY");
  in.data_dir = data_dir;
  return in;
}

RootKey GenerateKey() {
  RootKey key;
  key.access_key_id = "AKIA" + RandomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
  key.secret_access_key =
      RandomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40);
  key.source = "generated";
  return key;
}

Result<RootKey> FindRootKey(const RootKeyInputs& in) {
  if (in.env_access_key_id.has_value() != in.env_secret_access_key.has_value()) {
    return InvalidArgument(
        "set both IMGBATCH_ACCESS_KEY_ID and IMGBATCH_SECRET_ACCESS_KEY, or neither");
  }
  if (in.env_access_key_id) {
    return RootKey{*in.env_access_key_id, *in.env_secret_access_key, "environment"};
  }
  if (in.from_config) return *in.from_config;
  return ReadKeyFile(in.data_dir + "/" + kKeyFile);
}

Result<RootKey> ResolveRootKey(const RootKeyInputs& in) {
  auto found = FindRootKey(in);
  if (found.ok() || found.status().code() != Code::kNotFound) return found;
  return CreateKeyFile(in.data_dir + "/" + kKeyFile);
}

}  // namespace imgbatch::server
