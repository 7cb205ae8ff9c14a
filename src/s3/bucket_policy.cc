#include "s3/bucket_policy.h"

#include <algorithm>
#include <array>

#include "common/strings.h"
#include "s3/errors.h"
#include "s3/request.h"

namespace imgbatch::s3 {
namespace {

constexpr std::string_view kBucketPolicyConfig = "policy";

struct S3Action {
  std::string_view name;
  unsigned kinds;
};

// S3's IAM actions ("Actions, resources, and condition keys for Amazon S3"),
// those a bucket or object ARN can name and the account-level ones a bucket
// policy cannot use.
constexpr unsigned kB = kBucketResource, kO = kObjectResource, kA = kAccountResource;
constexpr std::array kS3Actions = {
    // Objects.
    S3Action{"AbortMultipartUpload", kO},
    S3Action{"BypassGovernanceRetention", kO},
    S3Action{"DeleteObject", kO},
    S3Action{"DeleteObjectTagging", kO},
    S3Action{"DeleteObjectVersion", kO},
    S3Action{"DeleteObjectVersionTagging", kO},
    S3Action{"GetObject", kO},
    S3Action{"GetObjectAcl", kO},
    S3Action{"GetObjectAttributes", kO},
    S3Action{"GetObjectLegalHold", kO},
    S3Action{"GetObjectRetention", kO},
    S3Action{"GetObjectTagging", kO},
    S3Action{"GetObjectTorrent", kO},
    S3Action{"GetObjectVersion", kO},
    S3Action{"GetObjectVersionAcl", kO},
    S3Action{"GetObjectVersionAttributes", kO},
    S3Action{"GetObjectVersionForReplication", kO},
    S3Action{"GetObjectVersionTagging", kO},
    S3Action{"GetObjectVersionTorrent", kO},
    S3Action{"InitiateReplication", kO},
    S3Action{"ListMultipartUploadParts", kO},
    S3Action{"ObjectOwnerOverrideToBucketOwner", kO},
    S3Action{"PutObject", kO},
    S3Action{"PutObjectAcl", kO},
    S3Action{"PutObjectLegalHold", kO},
    S3Action{"PutObjectRetention", kO},
    S3Action{"PutObjectTagging", kO},
    S3Action{"PutObjectVersionAcl", kO},
    S3Action{"PutObjectVersionTagging", kO},
    S3Action{"ReplicateDelete", kO},
    S3Action{"ReplicateObject", kO},
    S3Action{"ReplicateTags", kO},
    S3Action{"RestoreObject", kO},
    // Buckets.
    S3Action{"CreateBucket", kB},
    S3Action{"DeleteBucket", kB},
    S3Action{"DeleteBucketOwnershipControls", kB},
    S3Action{"DeleteBucketPolicy", kB},
    S3Action{"DeleteBucketWebsite", kB},
    S3Action{"GetAccelerateConfiguration", kB},
    S3Action{"GetAnalyticsConfiguration", kB},
    S3Action{"GetBucketAcl", kB},
    S3Action{"GetBucketCORS", kB},
    S3Action{"GetBucketLocation", kB},
    S3Action{"GetBucketLogging", kB},
    S3Action{"GetBucketNotification", kB},
    S3Action{"GetBucketObjectLockConfiguration", kB},
    S3Action{"GetBucketOwnershipControls", kB},
    S3Action{"GetBucketPolicy", kB},
    S3Action{"GetBucketPolicyStatus", kB},
    S3Action{"GetBucketPublicAccessBlock", kB},
    S3Action{"GetBucketRequestPayment", kB},
    S3Action{"GetBucketTagging", kB},
    S3Action{"GetBucketVersioning", kB},
    S3Action{"GetBucketWebsite", kB},
    S3Action{"GetEncryptionConfiguration", kB},
    S3Action{"GetIntelligentTieringConfiguration", kB},
    S3Action{"GetInventoryConfiguration", kB},
    S3Action{"GetLifecycleConfiguration", kB},
    S3Action{"GetMetricsConfiguration", kB},
    S3Action{"GetReplicationConfiguration", kB},
    S3Action{"ListBucket", kB},
    S3Action{"ListBucketMultipartUploads", kB},
    S3Action{"ListBucketVersions", kB},
    S3Action{"PutAccelerateConfiguration", kB},
    S3Action{"PutAnalyticsConfiguration", kB},
    S3Action{"PutBucketAcl", kB},
    S3Action{"PutBucketCORS", kB},
    S3Action{"PutBucketLogging", kB},
    S3Action{"PutBucketNotification", kB},
    S3Action{"PutBucketObjectLockConfiguration", kB},
    S3Action{"PutBucketOwnershipControls", kB},
    S3Action{"PutBucketPolicy", kB},
    S3Action{"PutBucketPublicAccessBlock", kB},
    S3Action{"PutBucketRequestPayment", kB},
    S3Action{"PutBucketTagging", kB},
    S3Action{"PutBucketVersioning", kB},
    S3Action{"PutBucketWebsite", kB},
    S3Action{"PutEncryptionConfiguration", kB},
    S3Action{"PutIntelligentTieringConfiguration", kB},
    S3Action{"PutInventoryConfiguration", kB},
    S3Action{"PutLifecycleConfiguration", kB},
    S3Action{"PutMetricsConfiguration", kB},
    S3Action{"PutReplicationConfiguration", kB},
    // The account.
    S3Action{"GetAccountPublicAccessBlock", kA},
    S3Action{"ListAllMyBuckets", kA},
    S3Action{"PutAccountPublicAccessBlock", kA},
};

Status Malformed(std::string message) { return S3Status("MalformedPolicy", std::move(message)); }

// The kinds of resource an ARN of the policy names; 0 when it is not inside
// the bucket.
unsigned ResourceKindsOf(std::string_view arn, std::string_view bucket) {
  std::optional<std::string_view> path = S3ArnPath(arn);
  if (!path || !path->starts_with(bucket)) return 0;
  path->remove_prefix(bucket.size());
  if (path->empty()) return kBucketResource;
  return path->front() == '/' ? kObjectResource : 0;
}

bool NamesSomeoneHere(const std::string& name, const PolicyScope& scope) {
  if (auth::NamesAccount(name, scope.account_id)) return true;
  const std::string users = "arn:aws:iam::" + scope.account_id + ":user/";
  return name.starts_with(users) && scope.user_exists(std::string_view(name).substr(users.size()));
}

Status CheckStatement(const auth::Statement& st, const PolicyScope& scope) {
  // Principals that exist here: another account, a role or an unknown user
  // cannot, as on S3 (which refuses principals it cannot find).
  const auth::Principals& principals = *st.principals;
  for (const std::string& name : principals.aws) {
    if (!NamesSomeoneHere(name, scope)) return Malformed("Invalid principal in policy");
  }
  for (const std::string& id : principals.canonical_ids) {
    if (id != scope.owner_canonical_id) return Malformed("Invalid principal in policy");
  }
  unsigned resource_kinds = 0;
  for (const std::string& resource : st.resources) {
    const unsigned kinds = ResourceKindsOf(resource, scope.bucket);
    if (kinds == 0) return Malformed("Policy has invalid resource");
    resource_kinds |= kinds;
  }
  for (const std::string& action : st.actions) {
    const unsigned kinds = ActionResourceKinds(action);
    if (kinds == 0) return Malformed("Policy has invalid action");
    // NotAction and NotResource name what a statement does not cover.
    if (!st.not_actions && !st.not_resources && (kinds & resource_kinds) == 0) {
      return Malformed("Action does not apply to any resource(s) in statement");
    }
  }
  return Status::Ok();
}

// Keys whose condition pins who may act or where from: a statement to "*"
// with one is not public (S3's list is longer: VPCs, organisations, ...).
bool PinsTheCaller(const auth::Condition& condition) {
  static constexpr std::array<std::string_view, 8> kPinning = {
      "aws:sourceip",     "aws:sourcearn",        "aws:sourceaccount", "aws:sourceowner",
      "aws:principalarn", "aws:principalaccount", "aws:username",      "aws:userid"};
  const std::string key = ToLower(condition.key);
  const bool negated = condition.op.find("Not") != std::string::npos;
  return !negated && std::find(kPinning.begin(), kPinning.end(), key) != kPinning.end();
}

}  // namespace

unsigned ActionResourceKinds(std::string_view pattern) {
  const std::string lower = ToLower(pattern);
  if (lower == "*") return kBucketResource | kObjectResource | kAccountResource;
  if (!lower.starts_with("s3:")) return 0;
  unsigned kinds = 0;
  for (const S3Action& action : kS3Actions) {
    if (auth::WildcardMatch(lower, ToLower("s3:" + std::string(action.name))))
      kinds |= action.kinds;
  }
  return kinds;
}

Result<auth::Policy> ParseBucketPolicy(std::string_view text, const PolicyScope& scope) {
  if (text.size() > kMaxBucketPolicyBytes) {
    return Malformed("Policies must not exceed " + std::to_string(kMaxBucketPolicyBytes) +
                     " bytes");
  }
  if (text.empty() || text.front() != '{') {
    return Malformed("Policies must be valid JSON and the first byte must be '{'");
  }
  Result<auth::Policy> policy = auth::Policy::FromJson(text, auth::PolicyKind::kResource);
  if (!policy.ok()) return Malformed(policy.status().message());
  for (const auth::Statement& st : policy->statements) {
    IMGBATCH_RETURN_IF_ERROR(CheckStatement(st, scope));
  }
  return policy;
}

bool IsPublicPolicy(const auth::Policy& policy) {
  return std::any_of(policy.statements.begin(), policy.statements.end(), [](const auto& st) {
    const bool to_anyone = st.principals && (st.principals->anyone || st.not_principals);
    return st.allow && to_anyone &&
           std::none_of(st.conditions.begin(), st.conditions.end(), PinsTheCaller);
  });
}

BucketPolicies::BucketPolicies(store::ObjectStore& store, std::string account_id,
                               std::string owner_canonical_id)
    : store_(store),
      account_id_(std::move(account_id)),
      owner_canonical_id_(std::move(owner_canonical_id)) {}

Result<auth::Policy> BucketPolicies::Load(std::string_view text) const {
  IMGBATCH_ASSIGN_OR_RETURN(auth::Policy policy,
                            auth::Policy::FromJson(text, auth::PolicyKind::kResource));
  for (auth::Statement& st : policy.statements) {
    if (!st.principals) continue;
    for (const std::string& id : st.principals->canonical_ids) {
      if (id == owner_canonical_id_) st.principals->aws.push_back(account_id_);
    }
  }
  return policy;
}

Result<std::shared_ptr<const auth::Policy>> BucketPolicies::For(const std::string& bucket) {
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(bucket); it != cache_.end()) return it->second;
    generation = generation_;
  }
  Result<std::string> text = store_.GetBucketConfig(bucket, std::string(kBucketPolicyConfig));
  std::shared_ptr<const auth::Policy> policy;
  if (text.ok()) {
    Result<auth::Policy> loaded = Load(*text);
    if (!loaded.ok()) {
      return Status(Code::kCorruption,
                    "the stored policy of bucket " + bucket + ": " + loaded.status().message());
    }
    policy = std::make_shared<const auth::Policy>(std::move(*loaded));
  } else if (!store::IsAbsentBucketConfig(text.status())) {
    if (text.status().code() == Code::kNotFound) return policy;  // no such bucket
    return text.status();
  }
  std::lock_guard lock(mu_);
  if (generation == generation_) cache_[bucket] = policy;
  return policy;
}

Result<std::string> BucketPolicies::Document(const std::string& bucket) {
  Result<std::string> text = store_.GetBucketConfig(bucket, std::string(kBucketPolicyConfig));
  if (!text.ok() && store::IsAbsentBucketConfig(text.status())) {
    return S3Status("NoSuchBucketPolicy");
  }
  return text;
}

Status BucketPolicies::Put(const std::string& bucket, const std::string& text) {
  Status stored = store_.PutBucketConfig(bucket, std::string(kBucketPolicyConfig), text);
  Forget(bucket);
  return stored;
}

Status BucketPolicies::Delete(const std::string& bucket) {
  Status deleted = store_.DeleteBucketConfig(bucket, std::string(kBucketPolicyConfig));
  Forget(bucket);
  return deleted;
}

void BucketPolicies::Forget(const std::string& bucket) {
  std::lock_guard lock(mu_);
  cache_.erase(bucket);
  ++generation_;
}

}  // namespace imgbatch::s3
