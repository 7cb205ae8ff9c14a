// Object tagging: GET/PUT/DELETE /<bucket>/<key>?tagging, and the
// x-amz-tagging header of PutObject, CopyObject and CreateMultipartUpload;
// bucket tagging: GET/PUT/DELETE /<bucket>?tagging. The store keeps the tags
// (an object's with its other attributes) and owns their rules
// (store::ValidateTags, ValidateBucketTags).
#include <string>
#include <string_view>

#include "common/strings.h"
#include "s3/errors.h"
#include "s3/ops.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

// Missing keys are mapped as GetObject maps them.
Status TagsStored(const OpContext& ctx, Status stored) {
  if (!stored.ok() && stored.code() == Code::kNotFound) return ctx.MissingKeyError(stored);
  return stored;
}

http::Response TaggingResponse(const store::Tags& tags) {
  pugi::xml_document doc;
  pugi::xml_node tag_set = AppendS3Root(doc, "Tagging").append_child("TagSet");
  for (const auto& [key, value] : tags) {
    pugi::xml_node tag = tag_set.append_child("Tag");
    AddText(tag, "Key", key);
    AddText(tag, "Value", value);
  }
  return XmlResponse(doc);
}

}  // namespace

store::Tags ParseTaggingHeader(std::string_view header) {
  store::Tags tags;
  for (auto& [key, value] : ParseQuery(header, /*plus_as_space=*/true)) {
    tags.emplace_back(std::move(key), std::move(value));
  }
  return tags;
}

Status CheckTaggingAllowed(const OpContext& ctx, const store::PutOptions& options) {
  if (!options.tags || options.tags->empty()) return Status::Ok();
  if (ctx.Allowed("s3:PutObjectTagging", ObjectArn(ctx.request.bucket, ctx.request.key))) {
    return Status::Ok();
  }
  return S3Status("AccessDenied");
}

Status CheckSourceTagsReadable(const OpContext& ctx, const std::string& src_bucket,
                               const std::string& src_key) {
  if (ctx.Allowed("s3:GetObjectTagging", ObjectArn(src_bucket, src_key))) return Status::Ok();
  // Only then is the source looked at; a missing one is the copy's own error.
  Result<store::ObjectMeta> source = ctx.s3.store.HeadObject(src_bucket, src_key);
  if (source.ok() && !source->tags.empty()) return S3Status("AccessDenied");
  return Status::Ok();
}

OpResult GetObjectTagging(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(store::ObjectMeta meta, ctx.HeadRequestedObject());
  return TaggingResponse(meta.tags);
}

// Authorized here rather than in Precheck: a policy may judge the tags the
// body sets (s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys). A body that
// does not parse is decided without them, so a caller who may not tag learns
// nothing of what its body should have been.
OpResult PutObjectTagging(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  Result<store::Tags> parsed = ParseTagging(body);
  auth::RequestContext with_tags = ctx.conditions;
  if (parsed.ok()) AddRequestTagKeys(*parsed, with_tags);
  const OpContext tagging{ctx.s3,     ctx.request,      ctx.exchange,
                          ctx.caller, ctx.store_caller, with_tags};
  const Permission permission = RequiredPermission(ctx.request);
  if (!tagging.Allowed(permission.action, permission.resource)) {
    return S3Status("AccessDenied");
  }
  IMGBATCH_ASSIGN_OR_RETURN(store::Tags tags, std::move(parsed));
  IMGBATCH_RETURN_IF_ERROR(TagsStored(
      ctx,
      ctx.s3.store.PutObjectTags(ctx.request.bucket, ctx.request.key, tags, ctx.store_caller)));
  return EmptyResponse(200);
}

OpResult DeleteObjectTagging(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(TagsStored(
      ctx, ctx.s3.store.DeleteObjectTags(ctx.request.bucket, ctx.request.key, ctx.store_caller)));
  return EmptyResponse(204);
}

// S3 answers NoSuchTagSet for a bucket without tags, where an object without
// tags has an empty TagSet.
OpResult GetBucketTagging(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(store::Tags tags, ctx.s3.store.GetBucketTags(ctx.request.bucket));
  if (tags.empty()) return S3Status("NoSuchTagSet");
  return TaggingResponse(tags);
}

// An empty TagSet removes the tags, as DeleteBucketTagging does.
OpResult PutBucketTagging(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  IMGBATCH_ASSIGN_OR_RETURN(store::Tags tags, ParseTagging(body));
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.PutBucketTags(ctx.request.bucket, tags));
  return EmptyResponse(204);
}

OpResult DeleteBucketTagging(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.PutBucketTags(ctx.request.bucket, {}));
  return EmptyResponse(204);
}

}  // namespace imgbatch::s3
