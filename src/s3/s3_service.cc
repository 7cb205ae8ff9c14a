#include "s3/s3_service.h"

#include <spdlog/spdlog.h>

#include "common/hashing.h"
#include "common/strings.h"
#include "s3/errors.h"
#include "s3/ops.h"

namespace imgbatch::s3 {
namespace {

OpResult RunOp(const OpContext& ctx) {
  switch (ctx.request.op) {
    case Op::kListBuckets:
      return ListBuckets(ctx);
    case Op::kCreateBucket:
      return CreateBucket(ctx);
    case Op::kDeleteBucket:
      return DeleteBucket(ctx);
    case Op::kHeadBucket:
      return HeadBucket(ctx);
    case Op::kGetBucketLocation:
      return GetBucketLocation(ctx);
    case Op::kGetBucketVersioning:
      return GetBucketVersioning(ctx);
    case Op::kListObjectVersions:
      return ListObjectVersions(ctx);
    case Op::kPutBucketCors:
      return PutBucketCors(ctx);
    case Op::kGetBucketCors:
      return GetBucketCors(ctx);
    case Op::kDeleteBucketCors:
      return DeleteBucketCors(ctx);
    case Op::kPutBucketNotification:
      return PutBucketNotification(ctx);
    case Op::kGetBucketNotification:
      return GetBucketNotification(ctx);
    case Op::kGetBucketUnconfigured:
      return GetBucketUnconfigured(ctx);
    case Op::kGetObjectAcl:
      return GetObjectAcl(ctx);
    case Op::kPutBucketAcl:
      return PutBucketAcl(ctx);
    case Op::kPutObjectAcl:
      return PutObjectAcl(ctx);
    case Op::kGetBucketTagging:
      return GetBucketTagging(ctx);
    case Op::kPutBucketTagging:
      return PutBucketTagging(ctx);
    case Op::kDeleteBucketTagging:
      return DeleteBucketTagging(ctx);
    case Op::kGetBucketLifecycle:
      return GetBucketLifecycle(ctx);
    case Op::kPutBucketLifecycle:
      return PutBucketLifecycle(ctx);
    case Op::kDeleteBucketLifecycle:
      return DeleteBucketLifecycle(ctx);
    case Op::kGetBucketPolicy:
      return GetBucketPolicy(ctx);
    case Op::kPutBucketPolicy:
      return PutBucketPolicy(ctx);
    case Op::kDeleteBucketPolicy:
      return DeleteBucketPolicy(ctx);
    case Op::kGetBucketPolicyStatus:
      return GetBucketPolicyStatus(ctx);
    case Op::kGetPublicAccessBlock:
      return GetPublicAccessBlock(ctx);
    case Op::kPutPublicAccessBlock:
      return PutPublicAccessBlock(ctx);
    case Op::kDeletePublicAccessBlock:
      return DeletePublicAccessBlock(ctx);
    case Op::kPreflight:
      return Preflight(ctx);
    case Op::kListObjectsV1:
      return ListObjectsV1(ctx);
    case Op::kListObjectsV2:
      return ListObjectsV2(ctx);
    case Op::kDeleteObjects:
      return DeleteObjects(ctx);
    case Op::kPutObject:
      return PutObject(ctx);
    case Op::kPostObject:
      return PostObject(ctx);
    case Op::kCopyObject:
      return CopyObject(ctx);
    case Op::kGetObject:
    case Op::kHeadObject:
      return GetObject(ctx);
    case Op::kDeleteObject:
      return DeleteObject(ctx);
    case Op::kGetObjectAttributes:
      return GetObjectAttributes(ctx);
    case Op::kGetObjectTagging:
      return GetObjectTagging(ctx);
    case Op::kPutObjectTagging:
      return PutObjectTagging(ctx);
    case Op::kDeleteObjectTagging:
      return DeleteObjectTagging(ctx);
    case Op::kCreateMultipartUpload:
      return CreateMultipartUpload(ctx);
    case Op::kUploadPart:
      return UploadPart(ctx);
    case Op::kUploadPartCopy:
      return UploadPartCopy(ctx);
    case Op::kCompleteMultipartUpload:
      return CompleteMultipartUpload(ctx);
    case Op::kAbortMultipartUpload:
      return AbortMultipartUpload(ctx);
    case Op::kListParts:
      return ListParts(ctx);
    case Op::kListMultipartUploads:
      return ListMultipartUploads(ctx);
    case Op::kNotImplemented:
      return S3Status("NotImplemented");
    case Op::kMethodNotAllowed:
      return S3Status("MethodNotAllowed");
  }
  return S3Status("NotImplemented");
}

// x-amz-expected-bucket-owner and x-amz-source-expected-bucket-owner guard
// a client against writing to or reading from a bucket of another account
// (a name it mistyped, say). Every bucket here is the one account's.
Status CheckExpectedOwner(const S3Context& s3, const S3Request& request) {
  for (const char* header : {"x-amz-expected-bucket-owner", "x-amz-source-expected-bucket-owner"}) {
    std::optional<std::string_view> expected = request.Header(header);
    if (expected && Trim(*expected) != s3.account_id) return S3Status("AccessDenied");
  }
  return Status::Ok();
}

// The bucket an S3 ARN is in: "arn:aws:s3:::bucket" or ".../key"; none for
// "arn:aws:s3:::*" (ListBuckets).
std::optional<std::string> ArnBucket(std::string_view arn) {
  std::optional<std::string_view> path = S3ArnPath(arn);
  if (!path) return std::nullopt;
  std::string_view bucket = path->substr(0, path->find('/'));
  if (bucket.empty() || bucket == "*") return std::nullopt;
  return std::string(bucket);
}

bool IsBucketPolicyAction(std::string_view action) {
  return action == "s3:GetBucketPolicy" || action == "s3:PutBucketPolicy" ||
         action == "s3:DeleteBucketPolicy";
}

// Whether the caller may perform action on resource: its key's policy and
// the policy of the bucket the resource is in, decided together.
bool Authorize(const S3Context& s3, const auth::VerifiedRequest& caller, std::string_view action,
               std::string_view resource, const auth::RequestContext& context) {
  std::shared_ptr<const auth::Policy> bucket_policy;
  std::optional<std::string> bucket = ArnBucket(resource);
  // The account's root user may always read, replace or remove a bucket's
  // policy, as on S3: a policy that shuts everyone out can be undone.
  const auth::PrincipalIdentity* who = context.principal();
  const bool exempt = who != nullptr && who->root() && IsBucketPolicyAction(action);
  if (bucket && !exempt) {
    Result<std::shared_ptr<const auth::Policy>> policy = s3.bucket_policies->For(*bucket);
    if (!policy.ok()) {
      // Refused rather than decided without the bucket's Deny statements.
      spdlog::warn("s3: the policy of bucket {} cannot be read: {}", *bucket,
                   policy.status().ToString());
      return false;
    }
    bucket_policy = std::move(*policy);
  }
  return s3.authenticator->Allowed(caller, action, resource, context, bucket_policy.get());
}

// Checks that apply to every authenticated operation before the store is
// touched.
Status Precheck(const S3Context& s3, const S3Request& request, const auth::VerifiedRequest& caller,
                const auth::RequestContext& conditions) {
  if (request.op == Op::kNotImplemented) return S3Status("NotImplemented");
  if (request.op == Op::kMethodNotAllowed) return S3Status("MethodNotAllowed");
  if (request.key.size() > kMaxKeyBytes) return S3Status("KeyTooLongError");
  IMGBATCH_RETURN_IF_ERROR(CheckExpectedOwner(s3, request));
  // DeleteObjects has no IAM action of its own: each key is checked as
  // s3:DeleteObject. PutObjectTagging is decided once its body gives the
  // s3:RequestObjectTag keys.
  if (request.op == Op::kDeleteObjects || request.op == Op::kPutObjectTagging) {
    return Status::Ok();
  }
  Permission permission = RequiredPermission(request);
  if (!Authorize(s3, caller, permission.action, permission.resource, conditions)) {
    return S3Status("AccessDenied");
  }
  return CheckAclHeaders(s3, request);
}

// s3:ExistingObjectTag/<key> of one object: its tags, read only if a
// policy's condition asks for them.
auth::RequestContext::Resolver ObjectTagResolver(store::ObjectStore& store, std::string bucket,
                                                 std::string key) {
  return [&store, bucket = std::move(bucket),
          key = std::move(key)](std::string_view name) -> std::optional<std::vector<std::string>> {
    constexpr std::string_view kPrefix = "s3:existingobjecttag/";  // names come lower-cased
    if (!name.starts_with(kPrefix)) return std::nullopt;
    Result<store::ObjectMeta> meta = store.HeadObject(bucket, key);
    if (!meta.ok()) return std::nullopt;
    for (const auto& [tag, value] : meta->tags) {
      if (ToLower(tag) == name.substr(kPrefix.size())) return std::vector<std::string>{value};
    }
    return std::nullopt;
  };
}

// The condition keys of a request: the global ones, S3's from its headers
// and query (request.h), and the tags of the object it names.
auth::RequestContext ConditionContext(const S3Context& s3, const S3Request& request) {
  const http::RequestHead& head = *request.head;
  auth::RequestContext context;
  context.SetGlobals({head.remote_address, head.tls, s3.clock->NowMillis(),
                      request.Header("User-Agent"), request.Header("Referer")});
  AddConditionKeys(request, context);
  if (!request.key.empty()) {
    context.SetResolver(ObjectTagResolver(s3.store, request.bucket, request.key));
  }
  return context;
}

// The bucket and key of an object ARN ("arn:aws:s3:::bucket/key").
std::optional<std::pair<std::string_view, std::string_view>> ArnObject(std::string_view arn) {
  std::optional<std::string_view> path = S3ArnPath(arn);
  const size_t slash = path ? path->find('/') : std::string_view::npos;
  if (slash == std::string_view::npos) return std::nullopt;
  return std::make_pair(path->substr(0, slash), path->substr(slash + 1));
}

// A request with no credentials at all (no Authorization header, no
// presigned-URL signature).
bool IsAnonymous(const http::RequestHead& head) {
  if (head.headers.Has("Authorization")) return false;
  QueryParams params = ParseQuery(head.query);
  return !QueryGet(params, "X-Amz-Signature") && !QueryGet(params, "Signature");
}

// Why an anonymous request fails: S3 says NoSuchBucket (404) for a bucket
// that does not exist before it says AccessDenied; bucket names are public.
Status AnonymousFailure(const S3Context& s3, const S3Request& request, Status denied) {
  if (request.bucket.empty()) return denied;
  Result<store::BucketInfo> bucket = s3.store.GetBucket(request.bucket);
  if (!bucket.ok() && bucket.status().code() == Code::kNotFound) return bucket.status();
  return denied;
}

http::Response Fail(const Status& status, const S3Request& request) {
  S3Error error = ToS3Error(status);
  // 501 is a feature we lack, asked for by the client (s3cmd info alone asks
  // for four): worth a debug line, not a warning each time.
  if (error.http_status == 501) {
    spdlog::debug("s3 {} {}: {}", OpName(request.op), request.Resource(), status.ToString());
  } else if (error.http_status >= 500) {
    spdlog::warn("s3 {} {}: {}", OpName(request.op), request.Resource(), status.ToString());
  }
  return ErrorResponse(error, request.Resource(), request.request_id, !request.IsHead());
}

}  // namespace

S3Service::S3Service(S3Context context) : ctx_(std::move(context)) {
  if (!ctx_.bucket_policies) {
    ctx_.bucket_policies =
        std::make_shared<BucketPolicies>(ctx_.store, ctx_.account_id, ctx_.owner_id);
  }
}

void S3Service::Handle(std::shared_ptr<http::Exchange> exchange) const {
  const http::RequestHead& head = exchange->head();
  std::string request_id = FormatRequestId(head.request_id);
  http::Response response;
  Result<S3Request> parsed = ParseRequest(head, ctx_.domain);
  if (!parsed.ok()) {
    response =
        ErrorResponse(ToS3Error(parsed.status()), head.path, request_id, head.method != "HEAD");
  } else {
    const S3Request& request = *parsed;
    auth::VerifiedRequest caller;
    auth::RequestContext conditions = ConditionContext(ctx_, request);
    Status status = Status::Ok();
    // OPTIONS preflights carry no credentials, as browsers send them; a
    // POST upload's are in its form, which the operation reads.
    if (request.op != Op::kPreflight && request.op != Op::kPostObject) {
      Result<auth::VerifiedRequest> verified = ctx_.authenticator->Verify(head);
      if (verified.ok()) {
        caller = std::move(verified).value();
        if (auto principal = ctx_.authenticator->Principal(caller, ctx_.account_id)) {
          conditions.SetPrincipal(std::move(*principal));
        }
        status = Precheck(ctx_, request, caller, conditions);
      } else if (IsAnonymous(head)) {
        status = AnonymousFailure(ctx_, request, verified.status());
      } else {
        status = verified.status();
      }
    }
    OpContext ctx{ctx_,
                  request,
                  *exchange,
                  caller,
                  store::Caller{caller.access_key_id, head.remote_address, request_id},
                  conditions};
    if (status.ok()) {
      OpResult result = RunOp(ctx);
      response = result.ok() ? std::move(result).value() : Fail(result.status(), request);
    } else {
      response = Fail(status, request);
    }
    if (request.op != Op::kPreflight) AddCorsHeaders(ctx, response);
  }
  response.headers.Set("x-amz-request-id", request_id);
  response.headers.Set("x-amz-id-2", Base64Encode(Sha256(request_id)));
  response.headers.Set("Server", "imgbatch");
  exchange->Respond(std::move(response));
}

http::Handler MakeS3Handler(S3Context context) {
  auto service = std::make_shared<const S3Service>(std::move(context));
  return
      [service](std::shared_ptr<http::Exchange> exchange) { service->Handle(std::move(exchange)); };
}

Result<std::unique_ptr<RequestBody>> OpContext::OpenBody() const {
  return RequestBody::Open(exchange, caller, *s3.authenticator);
}

Result<std::string> OpContext::ReadXmlBody() const {
  IMGBATCH_ASSIGN_OR_RETURN(std::unique_ptr<RequestBody> body, OpenBody());
  return ReadSmallBody(*body, s3.limits.max_xml_body_bytes);
}

bool OpContext::Allowed(std::string_view action, std::string_view resource) const {
  // A check on another object than the request's (a copy's source, each key
  // of DeleteObjects) decides s3:ExistingObjectTag by that object's tags.
  auto object = ArnObject(resource);
  if (!object || (object->first == request.bucket && object->second == request.key)) {
    return Authorize(s3, caller, action, resource, conditions);
  }
  auth::RequestContext for_object = conditions;
  for_object.SetResolver(
      ObjectTagResolver(s3.store, std::string(object->first), std::string(object->second)));
  return Authorize(s3, caller, action, resource, for_object);
}

Result<store::ObjectMeta> OpContext::HeadRequestedObject() const {
  Result<store::ObjectMeta> meta = s3.store.HeadObject(request.bucket, request.key);
  if (!meta.ok() && meta.status().code() == Code::kNotFound) {
    return MissingKeyError(meta.status());
  }
  return meta;
}

Status OpContext::MissingKeyError(const Status& not_found) const {
  bool missing_key = not_found.detail().empty() || not_found.detail() == "NoSuchKey";
  if (!missing_key || Allowed("s3:ListBucket", BucketArn(request.bucket))) return not_found;
  return S3Status("AccessDenied");
}

}  // namespace imgbatch::s3
