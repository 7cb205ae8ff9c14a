// KeyStore: the access keys created at run time (`imgbatch keys create`),
// kept in the one SQLite database and mirrored into the auth::KeyRegistry
// that the S3 and SQS adapters check every request against -- so a created
// key works from its next request, and a revoked one is refused from its
// next request, without a restart. Keys declared elsewhere (the root key,
// the workers' key, keys in imgbatch.toml) are registered by `up` and only
// recorded here so that List shows every key; they cannot be revoked here.
//
// Secrets are stored as given: SigV4 needs the secret itself to check a
// signature (the database lives in the 0700 data directory, as the root
// key file does). List never returns them.
//
// Thread-safety: all methods are thread-safe. The Database and registry
// must outlive the store.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/policy.h"
#include "common/clock.h"
#include "common/status.h"
#include "db/database.h"

namespace imgbatch::keys {

inline constexpr size_t kMaxKeyNameLength = 64;

struct KeyInfo {
  std::string access_key_id;
  std::string name;
  std::string source;       // "root", "worker", "config" or "runtime"
  std::string policy_json;  // "" for root keys (they may do everything)
  int64_t created_ms = 0;   // runtime keys only
};

class KeyStore {
 public:
  // Applies the "keys" migrations and registers the stored keys (a stored id
  // that is already registered -- declared elsewhere -- is skipped).
  static Result<std::unique_ptr<KeyStore>> Open(db::Database& db, auth::KeyRegistry& registry,
                                                Clock& clock);
  static std::vector<db::Migration> Migrations();

  // Records a key registered by `up` (root, worker, config) for List.
  void Declare(const auth::AccessKey& key, std::string source);

  // Stores then registers a new key. kInvalidArgument for a bad name or an
  // empty policy; kAlreadyExists when the access key id is taken.
  Result<KeyInfo> Create(const auth::AccessKey& key);
  // Runtime keys only: removes the row, then the registration. kNotFound for
  // an unknown id; kConflict (detail "KeyNotRevocable") for a
  // declared key.
  Status Revoke(std::string_view access_key_id);
  // Declared keys first (in declaration order), then runtime keys by creation.
  std::vector<KeyInfo> List() const;

 private:
  KeyStore(db::Database& db, auth::KeyRegistry& registry, Clock& clock)
      : db_(db), registry_(registry), clock_(clock) {}
  Status Load();

  db::Database& db_;
  auth::KeyRegistry& registry_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::vector<KeyInfo> declared_;
  std::map<std::string, KeyInfo, std::less<>> runtime_;
};

// 1..kMaxKeyNameLength characters of A-Z a-z 0-9 and "+=,.@_-" (IAM's user
// name characters).
Status ValidateKeyName(std::string_view name);

}  // namespace imgbatch::keys
