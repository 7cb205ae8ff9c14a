// Internal to the s3 module: the per-request context handed to each operation
// and the operation functions, one family per file (bucket_ops.cc,
// notification_ops.cc, object_ops.cc, multipart_ops.cc, list_ops.cc). Each
// returns the response or a Status that errors.cc renders.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "auth/sigv4.h"
#include "http/exchange.h"
#include "s3/body.h"
#include "s3/request.h"
#include "s3/request_xml.h"
#include "s3/s3_service.h"
#include "s3/wire_xml.h"

namespace imgbatch::s3 {

struct OpContext {
  const S3Context& s3;
  const S3Request& request;
  http::Exchange& exchange;
  const auth::VerifiedRequest& caller;  // empty for OPTIONS preflight
  store::Caller store_caller;
  // The request's condition keys (request.h, AddConditionKeys), for every
  // Allowed check of the request.
  const auth::RequestContext& conditions;

  // The request body, verified as its payload mode requires.
  Result<std::unique_ptr<RequestBody>> OpenBody() const;
  // A whole XML body up to the XML limit.
  Result<std::string> ReadXmlBody() const;
  bool Allowed(std::string_view action, std::string_view resource) const;
  // For a missing key: NoSuchKey if the caller may list the bucket, else
  // AccessDenied, so keys cannot be probed (AWS behaviour).
  Status MissingKeyError(const Status& not_found) const;
  // The request's object's metadata; a missing key as MissingKeyError says.
  Result<store::ObjectMeta> HeadRequestedObject() const;
};

using OpResult = Result<http::Response>;

// bucket_ops.cc
OpResult ListBuckets(const OpContext& ctx);
OpResult CreateBucket(const OpContext& ctx);
OpResult DeleteBucket(const OpContext& ctx);
OpResult HeadBucket(const OpContext& ctx);
OpResult GetBucketLocation(const OpContext& ctx);
OpResult GetBucketVersioning(const OpContext& ctx);
OpResult PutBucketCors(const OpContext& ctx);
OpResult GetBucketCors(const OpContext& ctx);
OpResult DeleteBucketCors(const OpContext& ctx);
OpResult Preflight(const OpContext& ctx);
// CORS headers for an actual (non-preflight) request with an Origin.
void AddCorsHeaders(const OpContext& ctx, http::Response& response);

// notification_ops.cc (NotImplemented when S3Context has no notifier)
OpResult PutBucketNotification(const OpContext& ctx);
OpResult GetBucketNotification(const OpContext& ctx);

// unconfigured_ops.cc
OpResult GetBucketUnconfigured(const OpContext& ctx);
OpResult GetObjectAcl(const OpContext& ctx);

// lifecycle_ops.cc
OpResult GetBucketLifecycle(const OpContext& ctx);
OpResult PutBucketLifecycle(const OpContext& ctx);
OpResult DeleteBucketLifecycle(const OpContext& ctx);
// x-amz-expiration when a lifecycle rule will expire the object.
void AddExpirationHeader(const OpContext& ctx, const store::ObjectMeta& meta,
                         http::Headers& headers);
// x-amz-abort-date and x-amz-abort-rule-id when a rule will abort the upload.
void AddAbortHeaders(const OpContext& ctx, const store::MultipartUpload& upload,
                     http::Headers& headers);

// policy_ops.cc (bucket_policy.h): bucket policies and the public access block
OpResult GetBucketPolicy(const OpContext& ctx);
OpResult PutBucketPolicy(const OpContext& ctx);
OpResult DeleteBucketPolicy(const OpContext& ctx);
OpResult GetBucketPolicyStatus(const OpContext& ctx);
OpResult GetPublicAccessBlock(const OpContext& ctx);
OpResult PutPublicAccessBlock(const OpContext& ctx);
OpResult DeletePublicAccessBlock(const OpContext& ctx);
// The bucket's public access block; none configured is nullopt.
Result<std::optional<PublicAccessBlock>> PublicAccessBlockOf(const S3Context& s3,
                                                             const std::string& bucket);

// acl_ops.cc: ACLs are disabled, as on S3 buckets with BucketOwnerEnforced
// (acl.h). PUT ?acl accepts the owner's own grants and changes nothing.
OpResult PutBucketAcl(const OpContext& ctx);
OpResult PutObjectAcl(const OpContext& ctx);
// The ACL headers of CreateBucket, PutObject, CopyObject and
// CreateMultipartUpload: one that grants anybody but the owner is
// AccessControlListNotSupported (InvalidBucketAclWithObjectOwnership on
// CreateBucket), or AccessDenied when it grants the public and the bucket's
// public access block has BlockPublicAcls, as on S3.
Status CheckAclHeaders(const S3Context& s3, const S3Request& request);
// The same for a canned ACL named otherwise (a POST upload's acl field).
Status CheckCannedAcl(const S3Context& s3, const std::string& bucket, std::string_view canned);

// post_ops.cc: browser-based POST uploads (post_form.h, post_policy.h).
OpResult PostObject(const OpContext& ctx);

// attributes_ops.cc
OpResult GetObjectAttributes(const OpContext& ctx);

// tagging_ops.cc
OpResult GetObjectTagging(const OpContext& ctx);
OpResult PutObjectTagging(const OpContext& ctx);
OpResult DeleteObjectTagging(const OpContext& ctx);
OpResult GetBucketTagging(const OpContext& ctx);
OpResult PutBucketTagging(const OpContext& ctx);
OpResult DeleteBucketTagging(const OpContext& ctx);
// x-amz-tagging ("k1=v1&k2=v2", URL-encoded) as pairs; the store checks them.
store::Tags ParseTaggingHeader(std::string_view header);
// A write that sets tags needs s3:PutObjectTagging on the object besides its
// own action, as on S3: AccessDenied otherwise.
Status CheckTaggingAllowed(const OpContext& ctx, const store::PutOptions& options);
// A copy that keeps its source's tags needs s3:GetObjectTagging on the
// source when it has any, as on S3 (else the copy would show them).
Status CheckSourceTagsReadable(const OpContext& ctx, const std::string& src_bucket,
                               const std::string& src_key);

// object_ops.cc
OpResult PutObject(const OpContext& ctx);
OpResult GetObject(const OpContext& ctx);  // GET and HEAD
OpResult DeleteObject(const OpContext& ctx);
OpResult DeleteObjects(const OpContext& ctx);
OpResult CopyObject(const OpContext& ctx);
// Shared with multipart_ops.cc and attributes_ops.cc.
Result<store::PutOptions> PutOptionsFromHeaders(const S3Request& request);
std::string HttpDate(int64_t millis);
// A reply with no body (200 for PUTs, 204 for DELETEs).
http::Response EmptyResponse(int status);
// Unversioned buckets: only versionId "null" (or none) names an object.
Status CheckVersionId(const S3Request& request);
void AddChecksumHeaders(const store::Checksums& checksums, http::Headers& headers);
void AddChecksumElements(const store::Checksums& checksums, pugi::xml_node parent);
std::string Quoted(std::string_view etag);
// Parses x-amz-copy-source ("[/]bucket/key[?versionId=null]").
Result<std::pair<std::string, std::string>> ParseCopySource(std::string_view header);
store::Conditions CopySourceConditions(const S3Request& request);
// Applies PutOptions parsing + aws-chunked + Content-Length rules to a body.
Status PrepareUpload(const OpContext& ctx, RequestBody& body, store::PutOptions& options);

// multipart_ops.cc
OpResult CreateMultipartUpload(const OpContext& ctx);
OpResult UploadPart(const OpContext& ctx);
OpResult UploadPartCopy(const OpContext& ctx);
OpResult CompleteMultipartUpload(const OpContext& ctx);
OpResult AbortMultipartUpload(const OpContext& ctx);
OpResult ListParts(const OpContext& ctx);
OpResult ListMultipartUploads(const OpContext& ctx);

// list_ops.cc
OpResult ListObjectsV1(const OpContext& ctx);
OpResult ListObjectsV2(const OpContext& ctx);
OpResult ListObjectVersions(const OpContext& ctx);
// ISO 8601 with milliseconds, as S3 lists times.
std::string XmlTime(int64_t millis);
// The most parts ListParts and GetObjectAttributes list at once (S3's).
inline constexpr int kMaxListParts = 1000;
// max-keys / max-parts / max-uploads: default and cap `cap`; negative or not
// a number: InvalidArgument.
Result<int> ParseMaxParam(const S3Request& request, std::string_view name, int cap);
// A continuation-token we handed out (base64 of the last name listed):
// InvalidArgument when it is not one.
Result<std::string> DecodeContinuationToken(std::string_view token);
// encoding-type=url (InvalidArgument for other values).
Result<bool> ParseUrlEncoding(const S3Request& request);
// The key or prefix as sent in a listing: URL-encoded when asked.
std::string ListEncode(bool url, std::string_view value);
// <CommonPrefixes><Prefix>…</Prefix></CommonPrefixes>, one per prefix.
void AddCommonPrefixes(pugi::xml_node root, const std::vector<std::string>& prefixes, bool url);
// <Delimiter> when the request gave a non-empty one.
void AddDelimiter(pugi::xml_node root, const S3Request& request, bool url);
// <Owner><ID/><DisplayName/></Owner> (also Initiator).
void AddOwner(pugi::xml_node parent, const char* name, const S3Context& s3);

}  // namespace imgbatch::s3
