// POST /<bucket> with a multipart/form-data body: S3's browser-based upload
// ("POST Object"), what a web page uses to send a file straight to a bucket
// with a form a server signed (boto3's generate_presigned_post, the JS SDK's
// createPresignedPost). The request carries no Authorization header: the
// form's fields sign its policy (auth::VerifyPostForm), the policy bounds
// what the form may do (post_policy.h), and the key the form names is then
// authorized for s3:PutObject like any upload. The file streams into the
// store as it arrives (post_form.h).
#include <algorithm>
#include <optional>
#include <string>

#include "common/strings.h"
#include "s3/errors.h"
#include "s3/ops.h"
#include "s3/post_form.h"
#include "s3/post_policy.h"

namespace imgbatch::s3 {
namespace {

std::string FieldOr(const PostFields& fields, std::string_view name) {
  const std::string* value = FindPostField(fields, name);
  return value ? *value : std::string();
}

auth::PostFormSignature SignatureOf(const PostFields& fields) {
  auth::PostFormSignature form;
  form.policy = FieldOr(fields, "policy");
  form.algorithm = FieldOr(fields, "x-amz-algorithm");
  form.credential = FieldOr(fields, "x-amz-credential");
  form.amz_date = FieldOr(fields, "x-amz-date");
  form.signature = FieldOr(fields, "x-amz-signature");
  form.access_key_id = FieldOr(fields, "awsaccesskeyid");
  form.signature_v2 = FieldOr(fields, "signature");
  form.security_token = FieldOr(fields, "x-amz-security-token");
  return form;
}

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The object's key: the form's, with ${filename} replaced by the file's name.
Result<std::string> KeyOf(const PostFields& fields, const std::string& filename) {
  const std::string* key = FindPostField(fields, "key");
  if (key == nullptr) {
    return S3Status("InvalidArgument",
                    "Bucket POST must contain a field named 'key'.  If it is specified, please "
                    "check the order of the fields.");
  }
  std::string resolved = ReplaceAll(*key, "${filename}", filename);
  if (resolved.empty())
    return S3Status("InvalidArgument", "User key must have a length greater than 0.");
  if (resolved.size() > kMaxKeyBytes) return S3Status("KeyTooLongError");
  return resolved;
}

// The form fields that describe the object, as the headers a PUT would carry
// them in: the same parsing and limits then apply.
http::RequestHead ObjectHeadOf(const S3Request& request, const PostFields& fields) {
  static constexpr std::string_view kHeaderFields[] = {
      "content-type",        "cache-control",
      "content-disposition", "content-encoding",
      "content-language",    "expires",
      "x-amz-storage-class", "x-amz-website-redirect-location"};
  http::RequestHead head = *request.head;
  head.headers = http::Headers();
  for (const auto& [name, value] : fields) {
    const bool object_field = std::find(std::begin(kHeaderFields), std::end(kHeaderFields), name) !=
                                  std::end(kHeaderFields) ||
                              name.starts_with("x-amz-meta-") ||
                              name.starts_with("x-amz-checksum-");
    if (object_field) head.headers.Add(name, value);
  }
  return head;
}

// The file as the store reads it, within the policy's content-length-range.
class PostedFile final : public store::ByteSource {
 public:
  PostedFile(PostFormReader& form, std::optional<std::pair<uint64_t, uint64_t>> range)
      : form_(form), range_(range) {}

  Result<size_t> Read(std::span<char> buffer) override {
    IMGBATCH_ASSIGN_OR_RETURN(size_t n, form_.ReadFile(buffer));
    size_ += n;
    if (range_ && size_ > range_->second) {
      return S3Status("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
    }
    if (n == 0 && range_ && size_ < range_->first) {
      return S3Status("EntityTooSmall",
                      "Your proposed upload is smaller than the minimum allowed size");
    }
    return n;
  }

 private:
  PostFormReader& form_;
  std::optional<std::pair<uint64_t, uint64_t>> range_;
  uint64_t size_ = 0;
};

std::string ObjectUrl(const S3Request& request, const std::string& key) {
  const std::string host(request.Header("Host").value_or("localhost"));
  return std::string(request.head->tls ? "https://" : "http://") + host + "/" +
         UriEncode(request.bucket) + "/" + UriEncode(key, /*encode_slash=*/false);
}

// success_action_redirect (or the older redirect): 303 to it with the
// object's bucket, key and ETag; else success_action_status 200, 201 (with
// a PostResponse document) or 204, the default.
http::Response Answer(const S3Request& request, const PostFields& fields, const std::string& key,
                      const store::ObjectMeta& meta) {
  const std::string etag = Quoted(meta.etag);
  const std::string location = ObjectUrl(request, key);
  std::string redirect = FieldOr(fields, "success_action_redirect");
  if (redirect.empty()) redirect = FieldOr(fields, "redirect");
  if (redirect.starts_with("http://") || redirect.starts_with("https://")) {
    http::Response response = EmptyResponse(303);
    response.headers.Set("Location", redirect +
                                         (redirect.find('?') == std::string::npos ? "?" : "&") +
                                         "bucket=" + UriEncode(request.bucket) +
                                         "&key=" + UriEncode(key) + "&etag=" + UriEncode(etag));
    response.headers.Set("ETag", etag);
    return response;
  }
  const std::string status = FieldOr(fields, "success_action_status");
  http::Response response = EmptyResponse(status == "200" ? 200 : 204);
  if (status == "201") {
    pugi::xml_document doc;
    pugi::xml_node root = doc.append_child("PostResponse");
    AddText(root, "Location", location);
    AddText(root, "Bucket", request.bucket);
    AddText(root, "Key", key);
    AddText(root, "ETag", etag);
    response = XmlResponse(doc, 201);
  }
  response.headers.Set("ETag", etag);
  response.headers.Set("Location", location);
  return response;
}

// A form whose signature and policy checked out, with the key it writes.
struct SignedForm {
  std::unique_ptr<PostFormReader> reader;
  auth::VerifiedRequest signer;
  PostPolicy policy;
  std::string key;
};

Result<SignedForm> ReadSignedForm(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(std::string boundary, PostFormReader::BoundaryOf(
                                                      request.Header("Content-Type").value_or("")));
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.GetBucket(request.bucket).status());
  SignedForm signed_form;
  IMGBATCH_ASSIGN_OR_RETURN(
      signed_form.reader,
      PostFormReader::Open([&ex = ctx.exchange](std::span<char> b) { return ex.ReadBody(b); },
                           boundary));
  const PostFields& fields = signed_form.reader->fields();
  IMGBATCH_ASSIGN_OR_RETURN(signed_form.signer,
                            ctx.s3.authenticator->VerifyPost(SignatureOf(fields)));
  IMGBATCH_ASSIGN_OR_RETURN(signed_form.policy, ParsePostPolicy(FieldOr(fields, "policy")));
  if (!signed_form.reader->has_file()) return S3Status("IncorrectNumberOfFilesInPostRequest");
  IMGBATCH_ASSIGN_OR_RETURN(signed_form.key, KeyOf(fields, signed_form.reader->filename()));
  // The policy judges the key that will be written (${filename} replaced)
  // and the request's own bucket.
  PostFields checked = fields;
  std::erase_if(checked, [](const auto& field) { return field.first == "bucket"; });
  for (auto& [name, value] : checked) {
    if (name == "key") value = signed_form.key;
  }
  checked.emplace_back("bucket", request.bucket);
  IMGBATCH_RETURN_IF_ERROR(CheckPostFields(signed_form.policy, checked, ctx.s3.clock->NowMillis()));
  return signed_form;
}

// The condition keys of a form upload: the POST's own (the caller's address,
// the time) with what its fields say, as S3 gives them: s3:x-amz-acl from
// `acl`, the other s3:x-amz-* keys from fields of their names, the tags of
// `tagging`, s3:authType "POST".
auth::RequestContext FormConditions(const auth::RequestContext& post, const PostFields& fields,
                                    const std::optional<store::Tags>& tags) {
  auth::RequestContext conditions = post;
  AddHeaderConditionKeys(
      [&fields](std::string_view name) -> std::optional<std::string_view> {
        const std::string* value = FindPostField(fields, name == "x-amz-acl" ? "acl" : name);
        if (value == nullptr) return std::nullopt;
        return *value;
      },
      conditions);
  if (tags) AddRequestTagKeys(*tags, conditions);
  conditions.Set("s3:authType", "POST");
  const bool v4 = FindPostField(fields, "x-amz-algorithm") != nullptr;
  conditions.Set("s3:signatureversion", v4 ? "AWS4-HMAC-SHA256" : "AWS");
  return conditions;
}

// What the form says of the object, checked as a PUT's headers would be.
Result<store::PutOptions> OptionsOf(const OpContext& upload, const PostFields& fields,
                                    std::optional<store::Tags> tags) {
  if (const std::string* acl = FindPostField(fields, "acl")) {
    IMGBATCH_RETURN_IF_ERROR(CheckCannedAcl(upload.s3, upload.request.bucket, *acl));
  }
  IMGBATCH_ASSIGN_OR_RETURN(store::PutOptions options, PutOptionsFromHeaders(upload.request));
  if (tags) options.tags = std::move(tags);
  IMGBATCH_RETURN_IF_ERROR(CheckTaggingAllowed(upload, options));
  options.posted = true;
  return options;
}

}  // namespace

OpResult PostObject(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(SignedForm form, ReadSignedForm(ctx));
  const PostFields& fields = form.reader->fields();
  std::optional<store::Tags> tags;
  if (const std::string* tagging = FindPostField(fields, "tagging")) {
    IMGBATCH_ASSIGN_OR_RETURN(tags, ParseTagging(*tagging));
  }
  // From here the request is the signer's upload of the key, authorized as one.
  auth::RequestContext conditions = FormConditions(ctx.conditions, fields, tags);
  if (auto principal = ctx.s3.authenticator->Principal(form.signer, ctx.s3.account_id)) {
    conditions.SetPrincipal(std::move(*principal));
  }
  const http::RequestHead object_head = ObjectHeadOf(ctx.request, fields);
  S3Request request = ctx.request;
  request.head = &object_head;
  request.key = form.key;
  request.op = Op::kPutObject;
  const OpContext upload{ctx.s3,
                         request,
                         ctx.exchange,
                         form.signer,
                         store::Caller{form.signer.access_key_id, ctx.request.head->remote_address,
                                       ctx.request.request_id},
                         conditions};
  if (!upload.Allowed("s3:PutObject", ObjectArn(request.bucket, request.key))) {
    return S3Status("AccessDenied");
  }
  IMGBATCH_ASSIGN_OR_RETURN(store::PutOptions options, OptionsOf(upload, fields, std::move(tags)));
  PostedFile file(*form.reader, ContentLengthRange(form.policy));
  IMGBATCH_ASSIGN_OR_RETURN(
      store::ObjectMeta meta,
      ctx.s3.store.PutObject(request.bucket, request.key, file, options, upload.store_caller));
  return Answer(ctx.request, fields, request.key, meta);
}

}  // namespace imgbatch::s3
