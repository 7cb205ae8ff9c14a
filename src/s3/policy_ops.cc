// Bucket policies: GET/PUT/DELETE /<bucket>?policy and GET ?policyStatus.
// The checks of a document and the parsed copies every request is authorized
// with are bucket_policy.h's. And the bucket's public access block
// (GET/PUT/DELETE ?publicAccessBlock): BlockPublicPolicy refuses a public
// policy, BlockPublicAcls a write whose ACL grants the public access (that
// check is acl_ops.cc's).
// IgnorePublicAcls and RestrictPublicBuckets are kept and shown; they change
// nothing here, where no ACL is honoured and every caller is one of the
// account's keys (the only callers RestrictPublicBuckets lets through).
#include <string>

#include "common/strings.h"
#include "s3/errors.h"
#include "s3/ops.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

constexpr char kPublicAccessBlockConfig[] = "publicAccessBlock";

std::string RenderPublicAccessBlock(const PublicAccessBlock& block) {
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "PublicAccessBlockConfiguration");
  auto flag = [&](const char* name, bool value) { AddText(root, name, value ? "true" : "false"); };
  flag("BlockPublicAcls", block.block_public_acls);
  flag("IgnorePublicAcls", block.ignore_public_acls);
  flag("BlockPublicPolicy", block.block_public_policy);
  flag("RestrictPublicBuckets", block.restrict_public_buckets);
  return XmlToString(doc);
}

}  // namespace

Result<std::optional<PublicAccessBlock>> PublicAccessBlockOf(const S3Context& s3,
                                                             const std::string& bucket) {
  Result<std::string> stored = s3.store.GetBucketConfig(bucket, kPublicAccessBlockConfig);
  if (!stored.ok()) {
    if (store::IsAbsentBucketConfig(stored.status())) return std::optional<PublicAccessBlock>();
    return stored.status();
  }
  IMGBATCH_ASSIGN_OR_RETURN(PublicAccessBlock block, ParsePublicAccessBlock(*stored));
  return std::optional<PublicAccessBlock>(block);
}

OpResult GetBucketPolicy(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string document,
                            ctx.s3.bucket_policies->Document(ctx.request.bucket));
  http::Response response = EmptyResponse(200);
  response.headers.Set("Content-Type", "application/json");
  response.body = std::move(document);
  return response;
}

OpResult PutBucketPolicy(const OpContext& ctx) {
  // A missing bucket is NoSuchBucket before its document is judged, as on S3.
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.GetBucket(ctx.request.bucket).status());
  IMGBATCH_ASSIGN_OR_RETURN(std::string document, ctx.ReadXmlBody());
  PolicyScope scope{ctx.request.bucket, ctx.s3.account_id, ctx.s3.owner_id,
                    [&](std::string_view name) { return ctx.s3.authenticator->HasUser(name); }};
  IMGBATCH_ASSIGN_OR_RETURN(auth::Policy policy, ParseBucketPolicy(document, scope));
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<PublicAccessBlock> block,
                            PublicAccessBlockOf(ctx.s3, ctx.request.bucket));
  if (block && block->block_public_policy && IsPublicPolicy(policy)) {
    return S3Status("AccessDenied",
                    "public policies are blocked by the BlockPublicPolicy block public access "
                    "setting");
  }
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.bucket_policies->Put(ctx.request.bucket, document));
  return EmptyResponse(204);
}

OpResult DeleteBucketPolicy(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.bucket_policies->Delete(ctx.request.bucket));
  return EmptyResponse(204);
}

OpResult GetBucketPolicyStatus(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::shared_ptr<const auth::Policy> policy,
                            ctx.s3.bucket_policies->For(ctx.request.bucket));
  if (!policy) {
    IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.GetBucket(ctx.request.bucket).status());
    return S3Status("NoSuchBucketPolicy");
  }
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "PolicyStatus");
  AddText(root, "IsPublic", IsPublicPolicy(*policy) ? "true" : "false");
  return XmlResponse(doc);
}

OpResult GetPublicAccessBlock(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<PublicAccessBlock> block,
                            PublicAccessBlockOf(ctx.s3, ctx.request.bucket));
  if (!block) return S3Status("NoSuchPublicAccessBlockConfiguration");
  http::Response response = EmptyResponse(200);
  response.headers.Set("Content-Type", "application/xml");
  response.body = RenderPublicAccessBlock(*block);
  return response;
}

OpResult PutPublicAccessBlock(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  IMGBATCH_ASSIGN_OR_RETURN(PublicAccessBlock block, ParsePublicAccessBlock(body));
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.PutBucketConfig(
      ctx.request.bucket, kPublicAccessBlockConfig, RenderPublicAccessBlock(block)));
  return EmptyResponse(200);
}

OpResult DeletePublicAccessBlock(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(
      ctx.s3.store.DeleteBucketConfig(ctx.request.bucket, kPublicAccessBlockConfig));
  return EmptyResponse(204);
}

}  // namespace imgbatch::s3
