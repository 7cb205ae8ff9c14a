// Root key resolution for `imgbatch up` and the operator commands, in the
// precedence DESIGN.md gives: IMGBATCH_ACCESS_KEY_ID/IMGBATCH_SECRET_ACCESS_KEY
// > the config file > a key generated on first start and kept in
// <data-dir>/root-key.json (mode 0600). Pure functions over their inputs.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"

namespace imgbatch::server {

struct RootKey {
  std::string access_key_id;
  std::string secret_access_key;
  std::string source;  // "environment", "config", "generated", "data directory"
};

struct RootKeyInputs {
  std::optional<std::string> env_access_key_id;
  std::optional<std::string> env_secret_access_key;
  std::optional<RootKey> from_config;
  std::string data_dir;  // where root-key.json lives
};

RootKeyInputs RootKeyInputsFromEnvironment(const std::string& data_dir);
// May create root-key.json (only when nothing else gives a key).
Result<RootKey> ResolveRootKey(const RootKeyInputs& inputs);
// Reads the key without creating one (operator commands).
Result<RootKey> FindRootKey(const RootKeyInputs& inputs);

// Key files (JSON {"access_key_id", "secret_access_key"}, mode 0600) hold the
// root key and the worker key in the data directory. kNotFound when absent,
// kCorruption when malformed.
Result<RootKey> ReadKeyFile(const std::string& path);
// Generates a key and writes it to path atomically.
Result<RootKey> CreateKeyFile(const std::string& path);

// An AWS-shaped key pair: "AKIA" + 16 upper-case base32-ish characters and a
// 40-character secret.
RootKey GenerateKey();

}  // namespace imgbatch::server
