// ACLs are disabled on every bucket, as on an S3 bucket whose Object Ownership
// is BucketOwnerEnforced (acl.h): PUT ?acl and the ACL headers of writes may
// name the owner's own grants, which change nothing, and nothing else. GET
// ?acl is unconfigured_ops.cc's.
#include <string>
#include <vector>

#include "common/strings.h"
#include "s3/acl.h"
#include "s3/errors.h"
#include "s3/ops.h"

namespace imgbatch::s3 {
namespace {

std::vector<std::string_view> OwnerIds(const S3Context& s3) { return {s3.owner_id, s3.account_id}; }

bool CarriesAclHeaders(Op op) {
  return op == Op::kCreateBucket || op == Op::kPutObject || op == Op::kCopyObject ||
         op == Op::kCreateMultipartUpload;
}

// Ownership other than BucketOwnerEnforced would enable ACLs.
Status CheckObjectOwnership(const S3Request& request) {
  std::optional<std::string_view> ownership = request.Header("x-amz-object-ownership");
  if (!ownership || *ownership == "BucketOwnerEnforced") return Status::Ok();
  if (*ownership == "ObjectWriter" || *ownership == "BucketOwnerPreferred") {
    return S3Status("NotImplemented",
                    "ACLs are not supported: x-amz-object-ownership must be BucketOwnerEnforced");
  }
  return S3Status("InvalidArgument",
                  "Invalid x-amz-object-ownership header: " + std::string(*ownership));
}

// The answer for an ACL that reaches beyond the owner, on an existing bucket.
Status RefuseAcl(const S3Context& s3, const std::string& bucket, AclReach reach) {
  if (reach == AclReach::kOwner) return Status::Ok();
  if (reach == AclReach::kPublic) {
    IMGBATCH_ASSIGN_OR_RETURN(std::optional<PublicAccessBlock> block,
                              PublicAccessBlockOf(s3, bucket));
    if (block && block->block_public_acls) {
      return S3Status("AccessDenied",
                      "public ACLs are blocked by the BlockPublicAcls block public access setting");
    }
  }
  return S3Status("AccessControlListNotSupported");
}

// PUT ?acl names its ACL by headers or by an AccessControlPolicy body, not both.
Result<AclReach> RequestedAclReach(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<AclReach> by_headers,
                            HeaderAclReach(ctx.request.head->headers, OwnerIds(ctx.s3)));
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  if (by_headers) {
    if (!Trim(body).empty()) return S3Status("UnexpectedContent");
    return *by_headers;
  }
  if (Trim(body).empty()) {
    return S3Status("MalformedACLError",
                    "An ACL is needed: an x-amz-acl or x-amz-grant-* header, or an "
                    "AccessControlPolicy body");
  }
  IMGBATCH_ASSIGN_OR_RETURN(std::vector<AclGrantee> grantees, ParseAccessControlPolicy(body));
  return GranteesReach(grantees, OwnerIds(ctx.s3));
}

}  // namespace

OpResult PutBucketAcl(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.GetBucket(ctx.request.bucket).status());
  IMGBATCH_ASSIGN_OR_RETURN(AclReach reach, RequestedAclReach(ctx));
  IMGBATCH_RETURN_IF_ERROR(RefuseAcl(ctx.s3, ctx.request.bucket, reach));
  return EmptyResponse(200);
}

OpResult PutObjectAcl(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(CheckVersionId(ctx.request));
  IMGBATCH_RETURN_IF_ERROR(ctx.HeadRequestedObject().status());
  IMGBATCH_ASSIGN_OR_RETURN(AclReach reach, RequestedAclReach(ctx));
  IMGBATCH_RETURN_IF_ERROR(RefuseAcl(ctx.s3, ctx.request.bucket, reach));
  return EmptyResponse(200);
}

Status CheckCannedAcl(const S3Context& s3, const std::string& bucket, std::string_view canned) {
  IMGBATCH_ASSIGN_OR_RETURN(AclReach reach, CannedAclReach(canned));
  return RefuseAcl(s3, bucket, reach);
}

Status CheckAclHeaders(const S3Context& s3, const S3Request& request) {
  if (!CarriesAclHeaders(request.op)) return Status::Ok();
  if (request.op == Op::kCreateBucket) IMGBATCH_RETURN_IF_ERROR(CheckObjectOwnership(request));
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<AclReach> reach,
                            HeaderAclReach(request.head->headers, OwnerIds(s3)));
  if (!reach || *reach == AclReach::kOwner) return Status::Ok();
  if (request.op == Op::kCreateBucket) return S3Status("InvalidBucketAclWithObjectOwnership");
  // A missing bucket is the operation's to report.
  Status exists = s3.store.GetBucket(request.bucket).status();
  if (exists.code() == Code::kNotFound) return Status::Ok();
  IMGBATCH_RETURN_IF_ERROR(exists);
  return RefuseAcl(s3, request.bucket, *reach);
}

}  // namespace imgbatch::s3
