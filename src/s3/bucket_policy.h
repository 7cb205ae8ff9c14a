// Bucket policies (S3's ?policy): a PutBucketPolicy document checked as S3
// checks it, and each bucket's policy kept parsed for the authorization of
// every request on the bucket (auth::KeyRegistry::Allowed decides it together
// with the caller's key policy).
//
// What S3 checks on Put, with its MalformedPolicy messages: the first byte is
// '{', valid JSON with a non-empty Statement, a Principal in every statement
// naming someone who exists (here: "*", this account, its root user, a user
// that has a key, a service, the owner's canonical id), known s3: actions,
// resources inside this bucket, and actions that apply to the resources named
// (an object action needs an arn:aws:s3:::bucket/... resource).
//
// Thread-safety: BucketPolicies is thread-safe; the functions are pure.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/policy.h"
#include "common/status.h"
#include "store/object_store.h"

namespace imgbatch::s3 {

inline constexpr size_t kMaxBucketPolicyBytes = 20 * 1024;  // S3's limit

// Who a bucket's policy may name.
struct PolicyScope {
  std::string bucket;
  std::string account_id;
  std::string owner_canonical_id;
  // Whether the account has a user of this name (an access key's name).
  std::function<bool(std::string_view name)> user_exists;
};

// A PutBucketPolicy body, checked. Errors render as MalformedPolicy with S3's
// message.
Result<auth::Policy> ParseBucketPolicy(std::string_view text, const PolicyScope& scope);

// GetBucketPolicyStatus: whether the policy grants anyone ("*") access
// without a condition that pins who or where from (S3's "public" test,
// simplified: a condition on a source or principal key keeps it private).
bool IsPublicPolicy(const auth::Policy& policy);

// The S3 actions a bucket policy may name, and the resources each applies to.
inline constexpr unsigned kBucketResource = 1, kObjectResource = 2, kAccountResource = 4;
// The kinds of resource the actions matching `pattern` ("s3:Get*") apply to;
// 0 when it matches no S3 action.
unsigned ActionResourceKinds(std::string_view pattern);

class BucketPolicies {
 public:
  BucketPolicies(store::ObjectStore& store, std::string account_id, std::string owner_canonical_id);

  // The bucket's policy; null when it has none or does not exist (the
  // operation then says NoSuchBucket). An error when it cannot be read: the
  // caller refuses the request rather than ignore a Deny.
  Result<std::shared_ptr<const auth::Policy>> For(const std::string& bucket);
  // The document as put (GetBucketPolicy); NoSuchBucketPolicy when none.
  Result<std::string> Document(const std::string& bucket);
  // Stores a checked document (ParseBucketPolicy) and replaces what For gives.
  Status Put(const std::string& bucket, const std::string& text);
  Status Delete(const std::string& bucket);
  // A bucket deleted or created: its policy, if any, is gone.
  void Forget(const std::string& bucket);

 private:
  // A stored document as For gives it (the owner's canonical id becomes
  // the account).
  Result<auth::Policy> Load(std::string_view text) const;

  store::ObjectStore& store_;
  const std::string account_id_;
  const std::string owner_canonical_id_;
  std::mutex mu_;
  // Buckets without a policy are remembered as null.
  std::unordered_map<std::string, std::shared_ptr<const auth::Policy>> cache_;
  uint64_t generation_ = 0;  // bumped by every change, so a racing read is not remembered
};

}  // namespace imgbatch::s3
