#include "s3/acl.h"

#include <algorithm>
#include <array>

#include "common/strings.h"
#include "s3/errors.h"

namespace imgbatch::s3 {
namespace {

struct CannedAcl {
  std::string_view name;
  AclReach reach;
};
// S3's canned ACLs. bucket-owner-read gives the object's writer full control
// and the bucket owner read: here both are the one owner.
constexpr std::array<CannedAcl, 8> kCannedAcls = {{
    {"private", AclReach::kOwner},
    {"bucket-owner-full-control", AclReach::kOwner},
    {"bucket-owner-read", AclReach::kOwner},
    {"public-read", AclReach::kPublic},
    {"public-read-write", AclReach::kPublic},
    {"authenticated-read", AclReach::kPublic},
    {"aws-exec-read", AclReach::kOthers},
    {"log-delivery-write", AclReach::kOthers},
}};

constexpr std::array<std::string_view, 5> kGrantHeaders = {
    "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
    "x-amz-grant-full-control"};

bool IsPublicGroup(std::string_view uri) {
  return uri.ends_with("/groups/global/AllUsers") ||
         uri.ends_with("/groups/global/AuthenticatedUsers");
}

Status BadGrant(std::string_view value) {
  return S3Status("InvalidArgument", "Invalid grant header: " + std::string(value));
}

// One `type="value"` (quotes optional) of a grant header.
Result<AclGrantee> ParseGrantee(std::string_view item) {
  const size_t eq = item.find('=');
  if (eq == std::string_view::npos) return BadGrant(item);
  const std::string type = ToLower(Trim(item.substr(0, eq)));
  std::string_view value = Trim(item.substr(eq + 1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  if (value.empty() || value.find('"') != std::string_view::npos) return BadGrant(item);
  AclGrantee grantee;
  if (type == "id") {
    grantee.kind = AclGrantee::Kind::kId;
  } else if (type == "emailaddress") {
    grantee.kind = AclGrantee::Kind::kEmail;
  } else if (type == "uri") {
    grantee.kind = AclGrantee::Kind::kUri;
  } else {
    return BadGrant(item);
  }
  grantee.value = std::string(value);
  return grantee;
}

}  // namespace

Result<std::vector<AclGrantee>> ParseGrantHeader(std::string_view value) {
  std::vector<AclGrantee> grantees;
  for (std::string_view item : Split(value, ',')) {
    if (Trim(item).empty()) return BadGrant(value);
    IMGBATCH_ASSIGN_OR_RETURN(AclGrantee grantee, ParseGrantee(item));
    grantees.push_back(std::move(grantee));
  }
  return grantees;
}

AclReach GranteesReach(const std::vector<AclGrantee>& grantees,
                       const std::vector<std::string_view>& owner_ids) {
  AclReach reach = AclReach::kOwner;
  for (const AclGrantee& grantee : grantees) {
    switch (grantee.kind) {
      case AclGrantee::Kind::kId:
        if (std::find(owner_ids.begin(), owner_ids.end(), grantee.value) == owner_ids.end()) {
          reach = std::max(reach, AclReach::kOthers);
        }
        break;
      case AclGrantee::Kind::kEmail:
        reach = std::max(reach, AclReach::kOthers);
        break;
      case AclGrantee::Kind::kUri:
        reach =
            std::max(reach, IsPublicGroup(grantee.value) ? AclReach::kPublic : AclReach::kOthers);
        break;
    }
  }
  return reach;
}

Result<AclReach> CannedAclReach(std::string_view name) {
  const std::string lower = ToLower(Trim(name));
  for (const CannedAcl& acl : kCannedAcls) {
    if (acl.name == lower) return acl.reach;
  }
  return S3Status("InvalidArgument", "Invalid canned ACL: " + std::string(name));
}

Result<std::optional<AclReach>> HeaderAclReach(const http::Headers& headers,
                                               const std::vector<std::string_view>& owner_ids) {
  std::vector<AclGrantee> grantees;
  bool granted = false;
  for (std::string_view name : kGrantHeaders) {
    std::optional<std::string_view> value = headers.Get(name);
    if (!value) continue;
    granted = true;
    IMGBATCH_ASSIGN_OR_RETURN(std::vector<AclGrantee> named, ParseGrantHeader(*value));
    grantees.insert(grantees.end(), named.begin(), named.end());
  }
  std::optional<std::string_view> canned = headers.Get("x-amz-acl");
  if (canned && granted) {
    return S3Status("InvalidRequest",
                    "Specifying both Canned ACLs and Header Grants is not allowed");
  }
  if (granted) return std::optional<AclReach>(GranteesReach(grantees, owner_ids));
  if (!canned) return std::optional<AclReach>();
  IMGBATCH_ASSIGN_OR_RETURN(AclReach reach, CannedAclReach(*canned));
  return std::optional<AclReach>(reach);
}

}  // namespace imgbatch::s3
