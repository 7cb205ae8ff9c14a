// Access control lists, as S3 treats them on a bucket whose Object Ownership
// is BucketOwnerEnforced (every new S3 bucket since April 2023, and every
// bucket here): ACLs are disabled. They are still read (GetBucketAcl and
// GetObjectAcl show the owner's FULL_CONTROL), and a request may still name
// one that grants the owner alone (`bucket-owner-full-control`, `private`, a
// grant to the owner's id), which changes nothing; one that grants anybody
// else is refused (AccessControlListNotSupported). This file says whom the
// ACL a request names would reach: from the x-amz-acl / x-amz-grant-* headers
// or from an AccessControlPolicy document. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "http/exchange.h"

namespace imgbatch::s3 {

// Whom an ACL grants access to besides the owner.
enum class AclReach {
  kOwner,   // the owner alone: what a bucket with ACLs disabled has anyway
  kOthers,  // another account, an e-mail address, a group such as LogDelivery
  kPublic,  // everyone (AllUsers) or every AWS account (AuthenticatedUsers)
};

// One grantee of an ACL, as the grant headers and the XML name them.
struct AclGrantee {
  enum class Kind { kId, kEmail, kUri };
  Kind kind = Kind::kId;
  std::string value;  // the canonical id, address or group URI
};

// The grantees of one x-amz-grant-* header value:
// `id="...", emailAddress="...", uri="..."`. Errors: InvalidArgument.
Result<std::vector<AclGrantee>> ParseGrantHeader(std::string_view value);

// Whom the grantees reach; `owner_ids` are the ids that name the owner (its
// canonical id and its account id).
AclReach GranteesReach(const std::vector<AclGrantee>& grantees,
                       const std::vector<std::string_view>& owner_ids);

// Whom a canned ACL ("private", "public-read", ...; any case) reaches.
// Errors: InvalidArgument for a name S3 does not have.
Result<AclReach> CannedAclReach(std::string_view name);

// Whom the ACL of a request's headers reaches; nullopt when it names none.
// Errors: InvalidArgument (an unknown canned ACL, a malformed grant),
// InvalidRequest (a canned ACL and grant headers together, as S3 refuses).
Result<std::optional<AclReach>> HeaderAclReach(const http::Headers& headers,
                                               const std::vector<std::string_view>& owner_ids);

}  // namespace imgbatch::s3
