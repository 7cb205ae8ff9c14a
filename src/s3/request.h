// S3 request addressing and operation selection: which bucket and key a
// request names (path-style "/bucket/key" or virtual-host "<bucket>.<domain>"),
// which operation its method + query sub-resources select, and which IAM
// action and resource ARN authorize it. Pure functions; thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/conditions.h"
#include "common/status.h"
#include "common/strings.h"
#include "http/exchange.h"

namespace imgbatch::s3 {

inline constexpr size_t kMaxKeyBytes = 1024;

enum class Op {
  kListBuckets,
  kCreateBucket,
  kDeleteBucket,
  kHeadBucket,
  kGetBucketLocation,
  kGetBucketVersioning,
  kListObjectVersions,
  kPutBucketCors,
  kGetBucketCors,
  kDeleteBucketCors,
  kPutBucketNotification,
  kGetBucketNotification,
  kGetBucketUnconfigured,  // GET of a sub-resource we keep no configuration for
  kGetObjectAcl,
  kPutBucketAcl,  // ACLs are disabled: only the owner's own grants (acl.h)
  kPutObjectAcl,
  kGetBucketTagging,
  kPutBucketTagging,
  kDeleteBucketTagging,
  kGetBucketLifecycle,
  kPutBucketLifecycle,
  kDeleteBucketLifecycle,
  kGetBucketPolicy,
  kPutBucketPolicy,
  kDeleteBucketPolicy,
  kGetBucketPolicyStatus,
  kGetPublicAccessBlock,
  kPutPublicAccessBlock,
  kDeletePublicAccessBlock,
  kPreflight,  // OPTIONS: answered from the CORS rules, no auth (as S3)
  kListObjectsV1,
  kListObjectsV2,
  kDeleteObjects,
  kPutObject,
  kPostObject,  // POST /<bucket> with a form: a browser-based upload (post_ops.cc)
  kCopyObject,
  kGetObject,
  kHeadObject,
  kDeleteObject,
  kGetObjectAttributes,
  kGetObjectTagging,
  kPutObjectTagging,
  kDeleteObjectTagging,
  kCreateMultipartUpload,
  kUploadPart,
  kUploadPartCopy,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kListParts,
  kListMultipartUploads,
  kNotImplemented,    // a sub-resource we do not serve (website, logging, ...)
  kMethodNotAllowed,  // e.g. POST on an object without a sub-resource
};

const char* OpName(Op op);

struct S3Request {
  const http::RequestHead* head = nullptr;
  std::string bucket;  // decoded; empty for the service (ListBuckets)
  std::string key;     // decoded; empty for bucket operations
  bool virtual_host = false;
  QueryParams query;  // decoded
  Op op = Op::kNotImplemented;
  std::string request_id;  // x-amz-request-id

  bool HasParam(std::string_view name) const;
  std::optional<std::string> Param(std::string_view name) const;
  std::optional<std::string_view> Header(std::string_view name) const;
  bool IsHead() const { return head->method == "HEAD"; }
  // The Resource of error replies: "/bucket/key".
  std::string Resource() const;
};

// Bucket sub-resources imgbatch keeps no configuration for (ACLs are
// disabled, as on new S3 buckets; no bucket policies, website,
// ...). Their GET answers what S3 answers for a bucket where nothing was
// configured, so tools that read a bucket's settings (s3cmd info, Terraform,
// SDK helpers) get S3's answers; other methods stay NotImplemented.
enum class UnconfiguredAnswer {
  kError,             // error_code (404), e.g. NoSuchBucketPolicy
  kOwnerFullControl,  // AccessControlPolicy: the owner, FULL_CONTROL
  kOwnerEnforced,     // OwnershipControls: BucketOwnerEnforced
  kEmptyLogging,      // BucketLoggingStatus without LoggingEnabled
  kOwnerPays,         // RequestPaymentConfiguration: BucketOwner
  kEmptyAccelerate,   // AccelerateConfiguration without Status
};
struct UnconfiguredSubresource {
  std::string_view query_name;  // "policy"
  const char* iam_action;       // "s3:GetBucketPolicy"
  UnconfiguredAnswer answer;
  const char* error_code;  // for kError
};
// The one the query names, if any.
const UnconfiguredSubresource* FindUnconfiguredSubresource(const QueryParams& query);

// Errors: InvalidURI (malformed percent-escapes).
Result<S3Request> ParseRequest(const http::RequestHead& head, std::string_view domain);

Op SelectOp(std::string_view method, const std::string& bucket, const std::string& key,
            const QueryParams& query, const http::Headers& headers);

struct Permission {
  std::string action;    // "s3:GetObject"
  std::string resource;  // "arn:aws:s3:::bucket/key"
};
// The IAM action and resource the operation needs (for DeleteObjects, the
// per-key s3:DeleteObject checks happen per key).
Permission RequiredPermission(const S3Request& request);
std::string BucketArn(std::string_view bucket);
std::string ObjectArn(std::string_view bucket, std::string_view key);
// The inverse: what follows "arn:aws:s3:::" ("bucket" or "bucket/key"), or
// nullopt for an ARN of another service.
std::optional<std::string_view> S3ArnPath(std::string_view arn);

// S3's condition keys of a request, from its headers and query:
// s3:prefix / s3:delimiter / s3:max-keys (listings), s3:x-amz-acl,
// s3:x-amz-copy-source, s3:x-amz-metadata-directive, s3:x-amz-content-sha256
// and the other x-amz-* headers S3 names as keys, s3:RequestObjectTag/<key>
// and s3:RequestObjectTagKeys (x-amz-tagging), s3:authType and
// s3:signatureversion. (s3:ExistingObjectTag/<key> needs the store: the
// service adds it.)
void AddConditionKeys(const S3Request& request, auth::RequestContext& context);
// The s3:x-amz-* keys alone, each from value_of(header name): a POST form
// answers them from its fields.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view name)>;
void AddHeaderConditionKeys(const HeaderLookup& value_of, auth::RequestContext& context);
// s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys of the tags a request
// sets: its x-amz-tagging header, a PutObjectTagging body, a form's field.
void AddRequestTagKeys(const QueryParams& tags, auth::RequestContext& context);

// "4442587FB7D0A2F9" from the server's request counter.
std::string FormatRequestId(uint64_t request_id);

}  // namespace imgbatch::s3
