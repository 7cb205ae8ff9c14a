#include "keys/key_store.h"

#include <spdlog/spdlog.h>
#include <algorithm>

namespace imgbatch::keys {

std::vector<db::Migration> KeyStore::Migrations() {
  return {
      {1, R"sql(
CREATE TABLE access_keys (
  access_key_id     TEXT PRIMARY KEY,
  secret_access_key TEXT NOT NULL,
  name              TEXT NOT NULL,
  policy            TEXT NOT NULL,   -- IAM policy JSON
  created_ms        INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
  };
}

Status ValidateKeyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxKeyNameLength) {
    return InvalidArgument("a key name is 1 to " + std::to_string(kMaxKeyNameLength) +
                           " characters");
  }
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              std::string_view("+=,.@_-").find(c) != std::string_view::npos;
    if (!ok) {
      return InvalidArgument("a key name may use A-Z a-z 0-9 and +=,.@_- only, got '" +
                             std::string(name) + "'");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(db::Database& db, auth::KeyRegistry& registry,
                                                 Clock& clock) {
  IMGBATCH_RETURN_IF_ERROR(db.Migrate("keys", Migrations()));
  std::unique_ptr<KeyStore> store(new KeyStore(db, registry, clock));
  IMGBATCH_RETURN_IF_ERROR(store->Load());
  return store;
}

Status KeyStore::Load() {
  std::vector<auth::AccessKey> stored;
  std::vector<KeyInfo> infos;
  IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement st,
                              conn.Prepare("SELECT access_key_id, secret_access_key, name, policy, "
                                           "created_ms FROM access_keys"));
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      KeyInfo info{st.ColumnText(0), st.ColumnText(2), "runtime", st.ColumnText(3),
                   st.ColumnInt(4)};
      auth::AccessKey key{info.access_key_id, st.ColumnText(1), info.name, {}, false};
      auto policy = auth::Policy::FromJson(info.policy_json);
      if (!policy.ok()) {
        spdlog::warn("key {} ({}): stored policy unreadable, key left out: {}", info.access_key_id,
                     info.name, policy.status().message());
        continue;
      }
      key.policy = std::move(*policy);
      stored.push_back(std::move(key));
      infos.push_back(std::move(info));
    }
    return Status::Ok();
  }));
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < stored.size(); ++i) {
    if (registry_.Find(stored[i].access_key_id)) {
      spdlog::warn("key {} ({}) is also declared elsewhere; the declared one is used",
                   stored[i].access_key_id, stored[i].name);
      continue;
    }
    registry_.Put(stored[i]);
    runtime_[infos[i].access_key_id] = infos[i];
  }
  return Status::Ok();
}

void KeyStore::Declare(const auth::AccessKey& key, std::string source) {
  std::lock_guard lock(mu_);
  declared_.push_back(KeyInfo{key.access_key_id, key.name, std::move(source),
                              key.root ? "" : key.policy.ToJson(), 0});
}

Result<KeyInfo> KeyStore::Create(const auth::AccessKey& key) {
  IMGBATCH_RETURN_IF_ERROR(ValidateKeyName(key.name));
  if (key.policy.statements.empty()) {
    return InvalidArgument("a key needs a policy with at least one statement");
  }
  if (key.access_key_id.empty() || key.secret_access_key.empty()) {
    return InvalidArgument("a key needs an access key id and a secret");
  }
  KeyInfo info{key.access_key_id, key.name, "runtime", key.policy.ToJson(), clock_.NowMillis()};
  // One creation at a time: the registry check and the insert go together.
  std::lock_guard lock(mu_);
  if (registry_.Find(key.access_key_id)) {
    return AlreadyExists("access key id " + key.access_key_id + " is taken");
  }
  IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(
        db::Statement st,
        txn.Prepare("INSERT INTO access_keys(access_key_id, secret_access_key, name, policy, "
                    "created_ms) VALUES (?1, ?2, ?3, ?4, ?5)"));
    return st.Bind(1, info.access_key_id)
        .Bind(2, key.secret_access_key)
        .Bind(3, info.name)
        .Bind(4, info.policy_json)
        .Bind(5, info.created_ms)
        .Run();
  }));
  auth::AccessKey registered = key;
  registered.root = false;
  registry_.Put(std::move(registered));
  runtime_[info.access_key_id] = info;
  return info;
}

Status KeyStore::Revoke(std::string_view access_key_id) {
  std::lock_guard lock(mu_);
  if (runtime_.find(access_key_id) == runtime_.end()) {
    for (const auto& d : declared_) {
      if (d.access_key_id == access_key_id) {
        return Status(Code::kConflict, "key " + d.access_key_id + " (" + d.name +
                                           ") comes from the " + d.source +
                                           (d.source == "config" ? " file" : " key") +
                                           "; change it there, not at run time")
            .WithDetail("KeyNotRevocable");
      }
    }
    return NotFound("no key with access key id " + std::string(access_key_id))
        .WithDetail("NoSuchKey");
  }
  IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement st,
                              txn.Prepare("DELETE FROM access_keys WHERE access_key_id = ?1"));
    return st.Bind(1, access_key_id).Run();
  }));
  registry_.Remove(access_key_id);
  runtime_.erase(runtime_.find(access_key_id));
  return Status::Ok();
}

std::vector<KeyInfo> KeyStore::List() const {
  std::lock_guard lock(mu_);
  std::vector<KeyInfo> out = declared_;
  std::vector<KeyInfo> runtime;
  for (const auto& [id, info] : runtime_) runtime.push_back(info);
  std::stable_sort(runtime.begin(), runtime.end(),
                   [](const KeyInfo& a, const KeyInfo& b) { return a.created_ms < b.created_ms; });
  out.insert(out.end(), runtime.begin(), runtime.end());
  return out;
}

}  // namespace imgbatch::keys
