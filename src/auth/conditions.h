// IAM policy conditions: the Condition block of a statement, decided against
// the request's context keys as IAM documents it ("IAM JSON policy elements:
// Condition operators" and "Conditions with multiple context keys or
// values"):
//   - operators AND together, keys of one operator AND together, the values
//     of one key OR together (a negated operator: NOR);
//   - a key the request does not have makes a condition false, except for
//     negated operators (true), ...IfExists (true) and Null (its test);
//   - ForAnyValue: / ForAllValues: qualify multivalued keys (ForAllValues of
//     an absent key is true).
// Operators: String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,
// Like,NotLike}, Numeric{Equals,NotEquals,LessThan,LessThanEquals,GreaterThan,
// GreaterThanEquals}, Date{...the same six}, Bool, IpAddress, NotIpAddress,
// Arn{Equals,NotEquals,Like,NotLike}, Null; each with ...IfExists except Null.
// Unknown operators and values the operator cannot read are refused when the
// policy is parsed, never ignored. Values are taken as given: policy
// variables (${aws:username}) are expanded before, by Policy::Decide
// (policy.h, ExpandPolicyVariables).
// Pure values; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imgbatch::auth {

// What a request knows of itself, for the global condition keys:
// aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:EpochTime, and
// aws:UserAgent / aws:Referer when sent. The views must outlive the context.
struct GlobalRequestFacts {
  std::string_view source_ip;
  bool secure = false;
  int64_t now_ms = 0;
  std::optional<std::string_view> user_agent;
  std::optional<std::string_view> referer;
};

// Who made a request, as IAM names it: the account's root user
// (arn:aws:iam::<account>:root) or one of its users (...:user/<name>). It
// answers the principal keys aws:PrincipalArn, aws:PrincipalAccount,
// aws:PrincipalType ("Account" or "User") and aws:username (users only), and
// is what a resource policy's Principal is matched against.
struct PrincipalIdentity {
  std::string arn;
  std::string account_id;
  std::string user_name;  // empty for the account's root user
  bool root() const { return user_name.empty(); }

  static PrincipalIdentity Root(std::string_view account_id);
  static PrincipalIdentity User(std::string_view account_id, std::string_view name);
};

// The condition keys of one request and their values (IAM's request
// context). Key names compare case-insensitively, as in IAM.
class RequestContext {
 public:
  // The caller, once its signature is verified (none: no principal keys).
  void SetPrincipal(PrincipalIdentity principal) { principal_ = std::move(principal); }
  const PrincipalIdentity* principal() const { return principal_ ? &*principal_ : nullptr; }
  // The global aws:* keys, worked out from the facts only when a condition
  // names one (most policies have none; SQS messages pass here).
  void SetGlobals(GlobalRequestFacts facts) { globals_ = facts; }
  void Set(std::string_view key, std::vector<std::string> values);
  void Set(std::string_view key, std::string value);
  // For keys that cost work to find (s3:ExistingObjectTag/<key> reads the
  // object): asked only when a condition names a key Set did not; nullopt
  // means the request has no such key. Called at most once per key (a new
  // resolver forgets what the last one found).
  using Resolver = std::function<std::optional<std::vector<std::string>>(std::string_view key)>;
  void SetResolver(Resolver resolver) {
    resolver_ = std::move(resolver);
    resolved_.clear();
  }
  std::optional<std::vector<std::string>> Find(std::string_view key) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;  // lower-cased keys
  std::optional<GlobalRequestFacts> globals_;
  std::optional<PrincipalIdentity> principal_;
  Resolver resolver_;
  mutable std::map<std::string, std::optional<std::vector<std::string>>, std::less<>> resolved_;
};

// One operator on one key: "ForAnyValue:StringLikeIfExists": {"s3:prefix": [..]}.
struct Condition {
  std::string op;   // as written
  std::string key;  // as written
  std::vector<std::string> values;
  // The values are patterns with backslash escapes (policy variables
  // expanded: WildcardMatch's backslash_escapes); only for wildcard operators.
  bool escaped_wildcards = false;
};

// Checks an operator and its values (kInvalidArgument with the reason).
Status ValidateCondition(const Condition& condition);
// Whether the operator matches with '*' and '?' (StringLike, Arn*, ...).
bool ComparesWithWildcards(const Condition& condition);
// Whether every condition holds for the request.
bool ConditionsHold(const std::vector<Condition>& conditions, const RequestContext& context);

}  // namespace imgbatch::auth
