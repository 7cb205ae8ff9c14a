// The key part of the operator API (/-/api/keys), for `imgbatch keys`.
// HandleApi calls it after the one authorization check.
//   GET    /-/api/keys          every key (root, worker, config, runtime), no secrets
//   POST   /-/api/keys          {"name": "..", "policy": <IAM policy object or JSON text>}
//                               -> 201 {"access_key_id", "secret_access_key", ...}
//                               (the only time the secret is shown)
//   DELETE /-/api/keys/<id>     revoke a runtime key: 204, 404 NoSuchKey,
//                               409 KeyNotRevocable (root, worker, config keys)
// Thin: one KeyStore call per request. Thread-safe.
#pragma once

#include "http/exchange.h"
#include "keys/key_store.h"

namespace imgbatch::server {

// Handles ex when its path is /-/api/keys or under it and returns true;
// otherwise returns false without responding.
bool HandleKeysApi(keys::KeyStore& keys, http::Exchange& ex);

}  // namespace imgbatch::server
