#include "s3/request.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "s3/errors.h"

namespace imgbatch::s3 {
namespace {

// Sub-resources S3 has and we do not serve: NotImplemented rather than
// silently treating e.g. "PUT ?acl" as a PutObject.
constexpr std::array<std::string_view, 25> kUnsupportedSubresources = {"acl",
                                                                       "policy",
                                                                       "policyStatus",
                                                                       "tagging",
                                                                       "lifecycle",
                                                                       "logging",
                                                                       "website",
                                                                       "replication",
                                                                       "encryption",
                                                                       "notification",
                                                                       "object-lock",
                                                                       "legal-hold",
                                                                       "retention",
                                                                       "accelerate",
                                                                       "requestPayment",
                                                                       "analytics",
                                                                       "inventory",
                                                                       "metrics",
                                                                       "intelligent-tiering",
                                                                       "ownershipControls",
                                                                       "publicAccessBlock",
                                                                       "restore",
                                                                       "select",
                                                                       "torrent",
                                                                       "attributes"};

bool Has(const QueryParams& query, std::string_view name) {
  return std::any_of(query.begin(), query.end(), [&](const auto& p) { return p.first == name; });
}

// GET/PUT /<bucket>?notification, GET/PUT/DELETE /<bucket>?tagging,
// ?lifecycle, ?policy and ?publicAccessBlock, GET ?policyStatus and PUT ?acl (GET ?acl is
// UnconfiguredOp's). Other methods, and these on an object, stay
// NotImplemented (they are in kUnsupportedSubresources).
std::optional<Op> BucketSubresourceOp(std::string_view method, const std::string& bucket,
                                      const std::string& key, const QueryParams& query) {
  if (bucket.empty() || !key.empty()) return std::nullopt;
  if (Has(query, "acl")) {
    return method == "PUT" ? std::optional<Op>(Op::kPutBucketAcl) : std::nullopt;
  }
  if (Has(query, "notification")) {
    if (method == "GET") return Op::kGetBucketNotification;
    if (method == "PUT") return Op::kPutBucketNotification;
    return std::nullopt;
  }
  if (Has(query, "policy")) {
    if (method == "GET") return Op::kGetBucketPolicy;
    if (method == "PUT") return Op::kPutBucketPolicy;
    if (method == "DELETE") return Op::kDeleteBucketPolicy;
    return std::nullopt;
  }
  if (Has(query, "publicAccessBlock")) {
    if (method == "GET") return Op::kGetPublicAccessBlock;
    if (method == "PUT") return Op::kPutPublicAccessBlock;
    if (method == "DELETE") return Op::kDeletePublicAccessBlock;
    return std::nullopt;
  }
  if (Has(query, "policyStatus")) {
    return method == "GET" ? std::optional<Op>(Op::kGetBucketPolicyStatus) : std::nullopt;
  }
  if (Has(query, "lifecycle")) {
    if (method == "GET") return Op::kGetBucketLifecycle;
    if (method == "PUT") return Op::kPutBucketLifecycle;
    if (method == "DELETE") return Op::kDeleteBucketLifecycle;
    return std::nullopt;
  }
  if (!Has(query, "tagging")) return std::nullopt;
  if (method == "GET") return Op::kGetBucketTagging;
  if (method == "PUT") return Op::kPutBucketTagging;
  if (method == "DELETE") return Op::kDeleteBucketTagging;
  return std::nullopt;
}

// GET/PUT/DELETE /<bucket>/<key>?tagging, GET ?attributes and PUT ?acl (GET
// ?acl is UnconfiguredOp's). On a bucket, or with other methods, they stay
// NotImplemented (they are in kUnsupportedSubresources).
std::optional<Op> ObjectSubresourceOp(std::string_view method, const std::string& key,
                                      const QueryParams& query) {
  if (key.empty()) return std::nullopt;
  if (Has(query, "acl")) {
    return method == "PUT" ? std::optional<Op>(Op::kPutObjectAcl) : std::nullopt;
  }
  if (Has(query, "attributes")) {
    return method == "GET" ? std::optional<Op>(Op::kGetObjectAttributes) : std::nullopt;
  }
  if (!Has(query, "tagging")) return std::nullopt;
  if (method == "GET") return Op::kGetObjectTagging;
  if (method == "PUT") return Op::kPutObjectTagging;
  if (method == "DELETE") return Op::kDeleteObjectTagging;
  return std::nullopt;
}

constexpr std::array<UnconfiguredSubresource, 9> kUnconfiguredSubresources = {{
    {"acl", "s3:GetBucketAcl", UnconfiguredAnswer::kOwnerFullControl, ""},
    {"ownershipControls", "s3:GetBucketOwnershipControls", UnconfiguredAnswer::kOwnerEnforced, ""},
    {"website", "s3:GetBucketWebsite", UnconfiguredAnswer::kError, "NoSuchWebsiteConfiguration"},
    {"encryption", "s3:GetEncryptionConfiguration", UnconfiguredAnswer::kError,
     "ServerSideEncryptionConfigurationNotFoundError"},
    {"replication", "s3:GetReplicationConfiguration", UnconfiguredAnswer::kError,
     "ReplicationConfigurationNotFoundError"},
    {"object-lock", "s3:GetBucketObjectLockConfiguration", UnconfiguredAnswer::kError,
     "ObjectLockConfigurationNotFoundError"},
    {"logging", "s3:GetBucketLogging", UnconfiguredAnswer::kEmptyLogging, ""},
    {"requestPayment", "s3:GetBucketRequestPayment", UnconfiguredAnswer::kOwnerPays, ""},
    {"accelerate", "s3:GetAccelerateConfiguration", UnconfiguredAnswer::kEmptyAccelerate, ""},
}};

// GET /<bucket>?<one of kUnconfiguredSubresources> and GET /<bucket>/<key>?acl.
std::optional<Op> UnconfiguredOp(std::string_view method, const std::string& bucket,
                                 const std::string& key, const QueryParams& query) {
  if (method != "GET" || bucket.empty()) return std::nullopt;
  if (!key.empty()) {
    return Has(query, "acl") ? std::optional<Op>(Op::kGetObjectAcl) : std::nullopt;
  }
  if (FindUnconfiguredSubresource(query) == nullptr) return std::nullopt;
  return Op::kGetBucketUnconfigured;
}

bool HasUnsupportedSubresource(const QueryParams& query) {
  return std::any_of(kUnsupportedSubresources.begin(), kUnsupportedSubresources.end(),
                     [&](std::string_view name) { return Has(query, name); });
}

// The bucket named by a "<bucket>.<domain>[:port]" Host, if it is one.
std::optional<std::string> VirtualHostBucket(std::string_view host, std::string_view domain) {
  if (host.empty() || host.front() == '[' || domain.empty()) return std::nullopt;
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos) host = host.substr(0, colon);
  std::string lower = ToLower(host);
  std::string suffix = "." + ToLower(domain);
  if (lower.size() <= suffix.size() || !lower.ends_with(suffix)) return std::nullopt;
  return lower.substr(0, lower.size() - suffix.size());
}

Op SelectServiceOp(std::string_view method) {
  return method == "GET" ? Op::kListBuckets : Op::kMethodNotAllowed;
}

Op SelectBucketOp(std::string_view method, const QueryParams& query) {
  if (method == "GET") {
    if (Has(query, "location")) return Op::kGetBucketLocation;
    if (Has(query, "versioning")) return Op::kGetBucketVersioning;
    if (Has(query, "versions")) return Op::kListObjectVersions;
    if (Has(query, "cors")) return Op::kGetBucketCors;
    if (Has(query, "uploads")) return Op::kListMultipartUploads;
    if (QueryGet(query, "list-type") == "2") return Op::kListObjectsV2;
    return Op::kListObjectsV1;
  }
  if (method == "PUT") {
    if (Has(query, "cors")) return Op::kPutBucketCors;
    if (Has(query, "versioning")) return Op::kNotImplemented;
    return Op::kCreateBucket;
  }
  if (method == "DELETE") return Has(query, "cors") ? Op::kDeleteBucketCors : Op::kDeleteBucket;
  if (method == "HEAD") return Op::kHeadBucket;
  if (method == "POST") return Has(query, "delete") ? Op::kDeleteObjects : Op::kPostObject;
  return Op::kMethodNotAllowed;
}

Op SelectObjectOp(std::string_view method, const QueryParams& query, const http::Headers& headers) {
  bool upload = Has(query, "uploadId");
  if (method == "GET") return upload ? Op::kListParts : Op::kGetObject;
  if (method == "HEAD") return Op::kHeadObject;
  if (method == "PUT") {
    bool copy = headers.Has("x-amz-copy-source");
    if (upload) return copy ? Op::kUploadPartCopy : Op::kUploadPart;
    return copy ? Op::kCopyObject : Op::kPutObject;
  }
  if (method == "DELETE") return upload ? Op::kAbortMultipartUpload : Op::kDeleteObject;
  if (method == "POST") {
    if (Has(query, "uploads")) return Op::kCreateMultipartUpload;
    if (upload) return Op::kCompleteMultipartUpload;
    return Op::kMethodNotAllowed;
  }
  return Op::kMethodNotAllowed;
}

}  // namespace

const char* OpName(Op op) {
  switch (op) {
    case Op::kListBuckets:
      return "ListBuckets";
    case Op::kCreateBucket:
      return "CreateBucket";
    case Op::kDeleteBucket:
      return "DeleteBucket";
    case Op::kHeadBucket:
      return "HeadBucket";
    case Op::kGetBucketLocation:
      return "GetBucketLocation";
    case Op::kGetBucketVersioning:
      return "GetBucketVersioning";
    case Op::kListObjectVersions:
      return "ListObjectVersions";
    case Op::kPutBucketCors:
      return "PutBucketCors";
    case Op::kGetBucketCors:
      return "GetBucketCors";
    case Op::kDeleteBucketCors:
      return "DeleteBucketCors";
    case Op::kPutBucketNotification:
      return "PutBucketNotificationConfiguration";
    case Op::kGetBucketNotification:
      return "GetBucketNotificationConfiguration";
    case Op::kGetBucketUnconfigured:
      return "GetBucketConfiguration";
    case Op::kGetObjectAcl:
      return "GetObjectAcl";
    case Op::kPutBucketAcl:
      return "PutBucketAcl";
    case Op::kPutObjectAcl:
      return "PutObjectAcl";
    case Op::kGetBucketTagging:
      return "GetBucketTagging";
    case Op::kPutBucketTagging:
      return "PutBucketTagging";
    case Op::kDeleteBucketTagging:
      return "DeleteBucketTagging";
    case Op::kGetBucketLifecycle:
      return "GetBucketLifecycleConfiguration";
    case Op::kPutBucketLifecycle:
      return "PutBucketLifecycleConfiguration";
    case Op::kDeleteBucketLifecycle:
      return "DeleteBucketLifecycle";
    case Op::kGetBucketPolicy:
      return "GetBucketPolicy";
    case Op::kPutBucketPolicy:
      return "PutBucketPolicy";
    case Op::kDeleteBucketPolicy:
      return "DeleteBucketPolicy";
    case Op::kGetBucketPolicyStatus:
      return "GetBucketPolicyStatus";
    case Op::kGetPublicAccessBlock:
      return "GetPublicAccessBlock";
    case Op::kPutPublicAccessBlock:
      return "PutPublicAccessBlock";
    case Op::kDeletePublicAccessBlock:
      return "DeletePublicAccessBlock";
    case Op::kPreflight:
      return "Preflight";
    case Op::kListObjectsV1:
      return "ListObjects";
    case Op::kListObjectsV2:
      return "ListObjectsV2";
    case Op::kDeleteObjects:
      return "DeleteObjects";
    case Op::kPutObject:
      return "PutObject";
    case Op::kPostObject:
      return "PostObject";
    case Op::kCopyObject:
      return "CopyObject";
    case Op::kGetObject:
      return "GetObject";
    case Op::kHeadObject:
      return "HeadObject";
    case Op::kDeleteObject:
      return "DeleteObject";
    case Op::kGetObjectAttributes:
      return "GetObjectAttributes";
    case Op::kGetObjectTagging:
      return "GetObjectTagging";
    case Op::kPutObjectTagging:
      return "PutObjectTagging";
    case Op::kDeleteObjectTagging:
      return "DeleteObjectTagging";
    case Op::kCreateMultipartUpload:
      return "CreateMultipartUpload";
    case Op::kUploadPart:
      return "UploadPart";
    case Op::kUploadPartCopy:
      return "UploadPartCopy";
    case Op::kCompleteMultipartUpload:
      return "CompleteMultipartUpload";
    case Op::kAbortMultipartUpload:
      return "AbortMultipartUpload";
    case Op::kListParts:
      return "ListParts";
    case Op::kListMultipartUploads:
      return "ListMultipartUploads";
    case Op::kNotImplemented:
      return "NotImplemented";
    case Op::kMethodNotAllowed:
      return "MethodNotAllowed";
  }
  return "Unknown";
}

bool S3Request::HasParam(std::string_view name) const { return Has(query, name); }

std::optional<std::string> S3Request::Param(std::string_view name) const {
  return QueryGet(query, name);
}

std::optional<std::string_view> S3Request::Header(std::string_view name) const {
  return head->headers.Get(name);
}

std::string S3Request::Resource() const {
  if (bucket.empty()) return "/";
  return key.empty() ? "/" + bucket : "/" + bucket + "/" + key;
}

Result<S3Request> ParseRequest(const http::RequestHead& head, std::string_view domain) {
  S3Request request;
  request.head = &head;
  request.request_id = FormatRequestId(head.request_id);
  std::optional<std::string> path = PercentDecode(head.path);
  if (!path || path->empty() || path->front() != '/') return S3Status("InvalidURI");
  std::string_view rest = std::string_view(*path).substr(1);
  std::optional<std::string_view> host = head.headers.Get("Host");
  if (auto bucket = host ? VirtualHostBucket(*host, domain) : std::nullopt) {
    request.virtual_host = true;
    request.bucket = std::move(*bucket);
    request.key = std::string(rest);
  } else {
    size_t slash = rest.find('/');
    request.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) request.key = std::string(rest.substr(slash + 1));
  }
  request.query = ParseQuery(head.query, /*plus_as_space=*/true);
  request.op = SelectOp(head.method, request.bucket, request.key, request.query, head.headers);
  return request;
}

Op SelectOp(std::string_view method, const std::string& bucket, const std::string& key,
            const QueryParams& query, const http::Headers& headers) {
  if (method == "OPTIONS") return bucket.empty() ? Op::kMethodNotAllowed : Op::kPreflight;
  if (auto op = BucketSubresourceOp(method, bucket, key, query)) return *op;
  if (auto op = ObjectSubresourceOp(method, key, query)) return *op;
  if (auto op = UnconfiguredOp(method, bucket, key, query)) return *op;
  if (HasUnsupportedSubresource(query)) return Op::kNotImplemented;
  if (bucket.empty()) return SelectServiceOp(method);
  if (key.empty()) return SelectBucketOp(method, query);
  return SelectObjectOp(method, query, headers);
}

const UnconfiguredSubresource* FindUnconfiguredSubresource(const QueryParams& query) {
  for (const UnconfiguredSubresource& s : kUnconfiguredSubresources) {
    if (Has(query, s.query_name)) return &s;
  }
  return nullptr;
}

constexpr std::string_view kS3ArnPrefix = "arn:aws:s3:::";

std::string BucketArn(std::string_view bucket) {
  return std::string(kS3ArnPrefix) + std::string(bucket);
}

std::string ObjectArn(std::string_view bucket, std::string_view key) {
  return BucketArn(bucket) + "/" + std::string(key);
}

std::optional<std::string_view> S3ArnPath(std::string_view arn) {
  if (!arn.starts_with(kS3ArnPrefix)) return std::nullopt;
  return arn.substr(kS3ArnPrefix.size());
}

Permission RequiredPermission(const S3Request& request) {
  std::string bucket_arn = BucketArn(request.bucket);
  std::string object_arn = ObjectArn(request.bucket, request.key);
  switch (request.op) {
    case Op::kListBuckets:
      return {"s3:ListAllMyBuckets", "arn:aws:s3:::*"};
    case Op::kCreateBucket:
      return {"s3:CreateBucket", bucket_arn};
    case Op::kDeleteBucket:
      return {"s3:DeleteBucket", bucket_arn};
    case Op::kHeadBucket:
    case Op::kListObjectsV1:
    case Op::kListObjectsV2:
      return {"s3:ListBucket", bucket_arn};
    case Op::kGetBucketLocation:
      return {"s3:GetBucketLocation", bucket_arn};
    case Op::kGetBucketVersioning:
      return {"s3:GetBucketVersioning", bucket_arn};
    case Op::kListObjectVersions:
      return {"s3:ListBucketVersions", bucket_arn};
    // IAM has no DeleteBucketCORS action: PutBucketCORS covers deletion.
    case Op::kPutBucketCors:
    case Op::kDeleteBucketCors:
      return {"s3:PutBucketCORS", bucket_arn};
    case Op::kGetBucketCors:
      return {"s3:GetBucketCORS", bucket_arn};
    case Op::kListMultipartUploads:
      return {"s3:ListBucketMultipartUploads", bucket_arn};
    case Op::kPutBucketNotification:
      return {"s3:PutBucketNotification", bucket_arn};
    case Op::kGetBucketNotification:
      return {"s3:GetBucketNotification", bucket_arn};
    case Op::kGetBucketUnconfigured:
      return {FindUnconfiguredSubresource(request.query)->iam_action, bucket_arn};
    case Op::kGetObjectAcl:
      return {"s3:GetObjectAcl", object_arn};
    case Op::kPutBucketAcl:
      return {"s3:PutBucketAcl", bucket_arn};
    case Op::kPutObjectAcl:
      return {"s3:PutObjectAcl", object_arn};
    case Op::kGetBucketTagging:
      return {"s3:GetBucketTagging", bucket_arn};
    case Op::kPutBucketTagging:
    case Op::kDeleteBucketTagging:  // S3 has no s3:DeleteBucketTagging action
      return {"s3:PutBucketTagging", bucket_arn};
    case Op::kGetBucketLifecycle:
      return {"s3:GetLifecycleConfiguration", bucket_arn};
    case Op::kPutBucketLifecycle:
    case Op::kDeleteBucketLifecycle:  // nor an s3:DeleteLifecycleConfiguration one
      return {"s3:PutLifecycleConfiguration", bucket_arn};
    case Op::kGetBucketPolicy:
      return {"s3:GetBucketPolicy", bucket_arn};
    case Op::kPutBucketPolicy:
      return {"s3:PutBucketPolicy", bucket_arn};
    case Op::kDeleteBucketPolicy:
      return {"s3:DeleteBucketPolicy", bucket_arn};
    case Op::kGetBucketPolicyStatus:
      return {"s3:GetBucketPolicyStatus", bucket_arn};
    case Op::kGetPublicAccessBlock:
      return {"s3:GetBucketPublicAccessBlock", bucket_arn};
    case Op::kPutPublicAccessBlock:
    case Op::kDeletePublicAccessBlock:  // S3 has no action of its own for deleting it
      return {"s3:PutBucketPublicAccessBlock", bucket_arn};
    case Op::kDeleteObjects:
      return {"s3:DeleteObject", bucket_arn + "/*"};
    case Op::kPostObject:  // the key is the form's: post_ops.cc authorizes it
      return {"s3:PutObject", bucket_arn + "/*"};
    case Op::kPutObject:
    case Op::kCopyObject:
    case Op::kCreateMultipartUpload:
    case Op::kUploadPart:
    case Op::kUploadPartCopy:
    case Op::kCompleteMultipartUpload:
      return {"s3:PutObject", object_arn};
    case Op::kGetObject:
    case Op::kHeadObject:
    case Op::kGetObjectAttributes:  // and s3:GetObjectAttributes, checked by the op
      return {"s3:GetObject", object_arn};
    case Op::kDeleteObject:
      return {"s3:DeleteObject", object_arn};
    case Op::kGetObjectTagging:
      return {"s3:GetObjectTagging", object_arn};
    case Op::kPutObjectTagging:
      return {"s3:PutObjectTagging", object_arn};
    case Op::kDeleteObjectTagging:
      return {"s3:DeleteObjectTagging", object_arn};
    case Op::kAbortMultipartUpload:
      return {"s3:AbortMultipartUpload", object_arn};
    case Op::kListParts:
      return {"s3:ListMultipartUploadParts", object_arn};
    case Op::kPreflight:
    case Op::kNotImplemented:
    case Op::kMethodNotAllowed:
      break;
  }
  return {"s3:*", request.bucket.empty() ? "*" : bucket_arn};
}

void AddHeaderConditionKeys(const HeaderLookup& value_of, auth::RequestContext& context) {
  static constexpr std::string_view kHeaderKeys[] = {
      "x-amz-acl",
      "x-amz-copy-source",
      "x-amz-metadata-directive",
      "x-amz-content-sha256",
      "x-amz-server-side-encryption",
      "x-amz-server-side-encryption-aws-kms-key-id",
      "x-amz-storage-class",
      "x-amz-website-redirect-location",
      "x-amz-grant-full-control",
      "x-amz-grant-read",
      "x-amz-grant-read-acp",
      "x-amz-grant-write",
      "x-amz-grant-write-acp",
      "x-amz-object-ownership",
  };
  for (std::string_view name : kHeaderKeys) {
    if (std::optional<std::string_view> value = value_of(name)) {
      context.Set("s3:" + std::string(name), std::string(Trim(*value)));
    }
  }
}

void AddRequestTagKeys(const QueryParams& tags, auth::RequestContext& context) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : tags) {
    context.Set("s3:RequestObjectTag/" + key, value);
    keys.push_back(key);
  }
  context.Set("s3:RequestObjectTagKeys", std::move(keys));
}

void AddConditionKeys(const S3Request& request, auth::RequestContext& context) {
  static constexpr std::string_view kListParams[] = {"prefix", "delimiter", "max-keys"};
  switch (request.op) {
    case Op::kListObjectsV1:
    case Op::kListObjectsV2:
    case Op::kListObjectVersions:
    case Op::kListMultipartUploads:
      for (std::string_view name : kListParams) {
        if (std::optional<std::string> value = request.Param(name)) {
          context.Set("s3:" + std::string(name), std::move(*value));
        }
      }
      break;
    default:
      break;
  }
  AddHeaderConditionKeys([&request](std::string_view name) { return request.Header(name); },
                         context);
  if (std::optional<std::string_view> tagging = request.Header("x-amz-tagging")) {
    AddRequestTagKeys(ParseQuery(*tagging, /*plus_as_space=*/true), context);
  }
  const bool presigned = request.HasParam("X-Amz-Signature") || request.HasParam("Signature");
  context.Set("s3:authType", presigned ? "REST-QUERY-STRING" : "REST-HEADER");
  const bool v4 = request.HasParam("X-Amz-Algorithm") ||
                  request.Header("Authorization").value_or("").starts_with("AWS4-");
  context.Set("s3:signatureversion", v4 ? "AWS4-HMAC-SHA256" : "AWS");
}

std::string FormatRequestId(uint64_t request_id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(request_id));
  return buf;
}

}  // namespace imgbatch::s3
