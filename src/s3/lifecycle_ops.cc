// Bucket lifecycle: GET/PUT/DELETE /<bucket>?lifecycle, and the headers S3
// adds when a lifecycle rule will act on what a request touched
// (x-amz-expiration, x-amz-abort-date / x-amz-abort-rule-id). The rules, their
// validation and the passes that apply them are the store's
// (store/lifecycle.h, ObjectStore::ApplyLifecycle).
#include <string>

#include "s3/ops.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

void AddTag(pugi::xml_node parent, const std::pair<std::string, std::string>& tag) {
  pugi::xml_node node = parent.append_child("Tag");
  AddText(node, "Key", tag.first);
  AddText(node, "Value", tag.second);
}

// One condition goes straight into <Filter>; several into <Filter><And>, as
// S3's schema has them (and as S3 returns them).
void AddFilter(pugi::xml_node rule_node, const store::LifecycleFilter& filter) {
  pugi::xml_node node = rule_node.append_child("Filter");
  const size_t conditions = (filter.prefix.empty() ? 0 : 1) + filter.tags.size() +
                            (filter.size_greater_than ? 1 : 0) + (filter.size_less_than ? 1 : 0);
  if (conditions > 1) node = node.append_child("And");
  if (!filter.prefix.empty() || conditions == 0) AddText(node, "Prefix", filter.prefix);
  for (const auto& tag : filter.tags) AddTag(node, tag);
  if (filter.size_greater_than) {
    AddText(node, "ObjectSizeGreaterThan", std::to_string(*filter.size_greater_than));
  }
  if (filter.size_less_than) {
    AddText(node, "ObjectSizeLessThan", std::to_string(*filter.size_less_than));
  }
}

void AddActions(pugi::xml_node node, const store::LifecycleRule& rule) {
  if (rule.expiration_days || rule.expiration_date_ms || rule.expired_object_delete_marker) {
    pugi::xml_node expiration = node.append_child("Expiration");
    if (rule.expiration_date_ms) AddText(expiration, "Date", XmlTime(*rule.expiration_date_ms));
    if (rule.expiration_days) AddText(expiration, "Days", std::to_string(*rule.expiration_days));
    if (rule.expired_object_delete_marker) {
      AddText(expiration, "ExpiredObjectDeleteMarker",
              *rule.expired_object_delete_marker ? "true" : "false");
    }
  }
  if (rule.noncurrent_days) {
    pugi::xml_node noncurrent = node.append_child("NoncurrentVersionExpiration");
    AddText(noncurrent, "NoncurrentDays", std::to_string(*rule.noncurrent_days));
    if (rule.newer_noncurrent_versions) {
      AddText(noncurrent, "NewerNoncurrentVersions",
              std::to_string(*rule.newer_noncurrent_versions));
    }
  }
  if (rule.abort_incomplete_days) {
    AddText(node.append_child("AbortIncompleteMultipartUpload"), "DaysAfterInitiation",
            std::to_string(*rule.abort_incomplete_days));
  }
}

http::Response LifecycleResponse(const store::LifecycleConfiguration& config) {
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "LifecycleConfiguration");
  for (const store::LifecycleRule& rule : config.rules) {
    pugi::xml_node node = root.append_child("Rule");
    AddText(node, "ID", rule.id);
    if (rule.legacy_prefix) {
      AddText(node, "Prefix", rule.filter.prefix);
    } else {
      AddFilter(node, rule.filter);
    }
    AddText(node, "Status", rule.enabled ? "Enabled" : "Disabled");
    AddActions(node, rule);
  }
  return XmlResponse(doc);
}

}  // namespace

OpResult GetBucketLifecycle(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(store::LifecycleConfiguration config,
                            ctx.s3.store.GetBucketLifecycle(ctx.request.bucket));
  return LifecycleResponse(config);
}

OpResult PutBucketLifecycle(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string body, ctx.ReadXmlBody());
  IMGBATCH_ASSIGN_OR_RETURN(store::LifecycleConfiguration config,
                            ParseLifecycleConfiguration(body));
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.PutBucketLifecycle(ctx.request.bucket, std::move(config)));
  http::Response response = EmptyResponse(200);
  // S3 has said since 2024 which objects its transitions skip by default; no
  // transitions here, but SDKs model the header.
  response.headers.Set("x-amz-transition-default-minimum-object-size", "all_storage_classes_128K");
  return response;
}

OpResult DeleteBucketLifecycle(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.DeleteBucketLifecycle(ctx.request.bucket));
  return EmptyResponse(204);
}

void AddExpirationHeader(const OpContext& ctx, const store::ObjectMeta& meta,
                         http::Headers& headers) {
  std::optional<store::ScheduledAction> expiry = ctx.s3.store.ScheduledExpiration(meta);
  if (!expiry) return;
  headers.Set("x-amz-expiration", "expiry-date=\"" + HttpDate(expiry->time_ms) + "\", rule-id=\"" +
                                      expiry->rule_id + "\"");
}

void AddAbortHeaders(const OpContext& ctx, const store::MultipartUpload& upload,
                     http::Headers& headers) {
  std::optional<store::ScheduledAction> abort =
      ctx.s3.store.ScheduledAbort(upload.bucket, upload.key, upload.initiated_ms);
  if (!abort) return;
  headers.Set("x-amz-abort-date", HttpDate(abort->time_ms));
  headers.Set("x-amz-abort-rule-id", abort->rule_id);
}

}  // namespace imgbatch::s3
