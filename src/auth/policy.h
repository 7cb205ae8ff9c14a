// IAM-style policies and the key registry: which access key may do what.
// Statements: Effect Allow/Deny, Action (e.g. "s3:GetObject", "sqs:*"),
// Resource ARNs with '*'/'?' wildcards, as AWS writes them:
//   arn:aws:s3:::bucket, arn:aws:s3:::bucket/key, arn:aws:sqs:us-east-1:000000000000:queue,
// and an optional Condition block (conditions.h) that must hold for the
// statement to apply. Evaluation as IAM: explicit Deny wins, then any Allow,
// else implicit deny.
// Thread-safety: KeyRegistry is thread-safe; Policy is an immutable value.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/conditions.h"
#include "common/status.h"

namespace imgbatch::auth {

struct Statement {
  bool allow = true;
  std::vector<std::string> actions;        // "s3:GetObject", "s3:*", "*"
  std::vector<std::string> resources;      // ARNs with wildcards, "*"
  std::vector<Condition> conditions = {};  // all must hold (none: always)
};

struct Policy {
  std::vector<Statement> statements;
  // Parses an IAM policy JSON document ({"Version":..,"Statement":[..]}).
  static Result<Policy> FromJson(std::string_view json);
  std::string ToJson() const;
  static Policy AllowAll();
  // Conditions are decided against `context`; a request without context has
  // none of the keys a condition may name.
  bool Allows(std::string_view action, std::string_view resource,
              const RequestContext& context = {}) const;
};

bool WildcardMatch(std::string_view pattern, std::string_view text);  // '*' and '?'

// Resource ARNs as AWS writes them, for the adapters' Allowed() calls:
//   arn:aws:s3:::bucket   arn:aws:s3:::bucket/key   arn:aws:sqs:region:account:queue
std::string BucketArn(std::string_view bucket);
std::string ObjectArn(std::string_view bucket, std::string_view key);
std::string QueueArn(std::string_view region, std::string_view account_id, std::string_view queue);

struct AccessKey {
  std::string access_key_id;
  std::string secret_access_key;
  std::string name;  // "root", "worker", ...
  Policy policy;
  bool root = false;  // root keys bypass policy evaluation
};

class KeyRegistry {
 public:
  void Put(AccessKey key);
  bool Remove(std::string_view access_key_id);
  std::optional<AccessKey> Find(std::string_view access_key_id) const;
  // The secret alone, for auth::Verify's SecretLookup:
  //   [&](std::string_view id) { return registry.SecretFor(id); }
  std::optional<std::string> SecretFor(std::string_view access_key_id) const;
  std::vector<AccessKey> List() const;
  // Authorization for a verified caller.
  bool Allowed(std::string_view access_key_id, std::string_view action, std::string_view resource,
               const RequestContext& context = {}) const;

 private:
  mutable std::mutex mu_;
  // Shared so that Allowed can decide outside the lock (a condition's
  // resolver may read the store).
  std::map<std::string, std::shared_ptr<const AccessKey>, std::less<>> keys_;
};

}  // namespace imgbatch::auth
