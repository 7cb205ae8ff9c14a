// IAM-style policies and the key registry: which access key may do what.
// Statements: Effect Allow/Deny, Action or NotAction (e.g. "s3:GetObject",
// "sqs:*"), Resource or NotResource ARNs with '*'/'?' wildcards, as AWS
// writes them:
//   arn:aws:s3:::bucket, arn:aws:s3:::bucket/key, arn:aws:sqs:us-east-1:000000000000:queue,
// and an optional Condition block (conditions.h) that must hold for the
// statement to apply. Two kinds of document:
//   - identity policies (a key's policy): no Principal;
//   - resource policies (a bucket's policy): each statement names whom it
//     applies to, Principal or NotPrincipal ("*", {"AWS": ARNs or account ids},
//     {"Service": ...}, {"CanonicalUser": ...}).
// Evaluation as IAM: explicit Deny wins, then any Allow, else implicit deny;
// a key's policy and the resource's policy are decided together
// (KeyRegistry::Allowed), as IAM does within one account.
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

// A resource policy's Principal: whom a statement is about.
struct Principals {
  bool anyone = false;                     // "*" or {"AWS": "*"}
  std::vector<std::string> aws;            // ARNs and 12-digit account ids, as written
  std::vector<std::string> services;       // "s3.amazonaws.com", ...
  std::vector<std::string> canonical_ids;  // S3 canonical user ids
};

struct Statement {
  bool allow = true;
  std::vector<std::string> actions;           // "s3:GetObject", "s3:*", "*"
  std::vector<std::string> resources;         // ARNs with wildcards, "*"
  std::vector<Condition> conditions = {};     // all must hold (none: always)
  bool not_actions = false;                   // NotAction: every action but these
  bool not_resources = false;                 // NotResource: every resource but these
  std::optional<Principals> principals = {};  // resource policies only
  bool not_principals = false;                // NotPrincipal: everyone but these
  std::string sid = {};
  // A Resource or condition value holds a policy variable ("${aws:username}")
  // and the policy's Version is 2012-10-17: ExpandPolicyVariables at decision.
  bool has_variables = false;
};

enum class PolicyKind { kIdentity, kResource };

// What one policy says of a request: no statement applies, or the strongest
// that does (a Deny over any Allow).
enum class Decision { kNotApplicable, kAllow, kDeny };

struct Policy {
  std::vector<Statement> statements;
  std::string id = {};  // the document's "Id"
  // As written; "" (none written) is IAM's 2008-10-17, without policy
  // variables. Policies made in code are 2012-10-17.
  std::string version = "2012-10-17";
  // Parses an IAM policy JSON document ({"Version":..,"Statement":[..]}).
  // Identity policies may not name a Principal; resource policies must, in
  // every statement. Errors are kInvalidArgument with AWS's wording where AWS
  // has one ("Missing required field Principal", "Invalid principal in policy").
  static Result<Policy> FromJson(std::string_view json, PolicyKind kind = PolicyKind::kIdentity);
  std::string ToJson() const;
  static Policy AllowAll();
  // Conditions are decided against `context`; a request without context has
  // none of the keys a condition may name. A resource policy's statements
  // apply to the context's principal (none: to nobody but "*").
  Decision Decide(std::string_view action, std::string_view resource,
                  const RequestContext& context = {}) const;
  bool Allows(std::string_view action, std::string_view resource,
              const RequestContext& context = {}) const {
    return Decide(action, resource, context) == Decision::kAllow;
  }
};

// The caller's own decision (its key's policy) and the resource's policy
// together, as IAM decides them within one account: a Deny in either refuses,
// else an Allow in either grants.
bool AllowedTogether(Decision own, const Policy* resource_policy, std::string_view action,
                     std::string_view resource, const RequestContext& context);

// '*' and '?'. With backslash_escapes, "\\c" matches the character c itself:
// the form ExpandPolicyVariables gives patterns whose variables were expanded.
bool WildcardMatch(std::string_view pattern, std::string_view text, bool backslash_escapes = false);

// IAM's policy variables in a Resource or condition value: "${key}" is the
// request's value of that condition key ("${aws:username}", "${s3:prefix}"),
// "${key, 'fallback'}" with a fallback when the request lacks it; "${*}",
// "${?}" and "${$}" are a literal '*', '?' and '$'. nullopt when a key without
// fallback is absent or has several values: IAM then matches nothing with that
// text. With as_pattern, the result is a pattern for WildcardMatch with
// backslash_escapes: the written '*' and '?' stay wildcards, while "${*}",
// "${?}" and every character a variable brought in match only themselves (a
// request's own s3:prefix of "a*" must not widen the policy that names it).
std::optional<std::string> ExpandPolicyVariables(std::string_view text,
                                                 const RequestContext& context,
                                                 bool as_pattern = false);
// Whether a policy's "AWS" principal names the account itself: its id or its
// root user's ARN (arn:aws:iam::<account>:root).
bool NamesAccount(std::string_view principal, std::string_view account_id);

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
  // Authorization for a verified caller: its key's policy and, when given,
  // the policy of the resource (a bucket's), decided together
  // (AllowedTogether). The resource policy's Principal is matched against
  // context.principal().
  bool Allowed(std::string_view access_key_id, std::string_view action, std::string_view resource,
               const RequestContext& context = {}, const Policy* resource_policy = nullptr) const;
  // The caller as IAM names it in `account_id`: a root key is the account's
  // root user, any other key the user of its name.
  std::optional<PrincipalIdentity> Principal(std::string_view access_key_id,
                                             std::string_view account_id) const;
  // Whether a (non-root) key has this name: the IAM user a policy may name.
  bool HasUser(std::string_view name) const;

 private:
  std::shared_ptr<const AccessKey> Shared(std::string_view access_key_id) const;

  mutable std::mutex mu_;
  // Shared so that Allowed can decide outside the lock (a condition's
  // resolver may read the store).
  std::map<std::string, std::shared_ptr<const AccessKey>, std::less<>> keys_;
};

}  // namespace imgbatch::auth
