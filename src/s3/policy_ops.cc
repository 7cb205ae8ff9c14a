// Bucket policies: GET/PUT/DELETE /<bucket>?policy and GET ?policyStatus.
// The checks of a document and the parsed copies every request is authorized
// with are bucket_policy.h's.
#include <string>

#include "s3/errors.h"
#include "s3/ops.h"

namespace imgbatch::s3 {

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
  IMGBATCH_RETURN_IF_ERROR(ParseBucketPolicy(document, scope).status());
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

}  // namespace imgbatch::s3
