// Object operations: PutObject, GetObject/HeadObject (ranges, conditions,
// response-* overrides, checksums), DeleteObject, DeleteObjects, CopyObject.
#include <algorithm>
#include <array>

#include "common/hashing.h"
#include "common/strings.h"
#include "s3/checksum_fields.h"
#include "s3/errors.h"
#include "s3/ops.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

constexpr std::string_view kMetaPrefix = "x-amz-meta-";
constexpr size_t kMaxUserMetadataBytes = 2048;
constexpr size_t kMd5Bytes = 16;

// Response header overrides a GET may ask for with query parameters.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kResponseOverrides = {{
    {"response-content-type", "Content-Type"},
    {"response-content-language", "Content-Language"},
    {"response-expires", "Expires"},
    {"response-cache-control", "Cache-Control"},
    {"response-content-disposition", "Content-Disposition"},
    {"response-content-encoding", "Content-Encoding"},
}};

// "aws-chunked" is transport framing, never part of the stored object; the
// rest of the value is kept as the client wrote it ("deflate, gzip").
std::string StripAwsChunked(std::string_view encoding) {
  std::string out;
  bool stripped = false;
  for (std::string_view part : Split(encoding, ',')) {
    std::string_view token = Trim(part);
    if (token.empty() || IEquals(token, "aws-chunked")) {
      stripped = true;
      continue;
    }
    if (!out.empty()) out += ", ";
    out += token;
  }
  return stripped ? out : std::string(Trim(encoding));
}

Status ParseChecksumHeaders(const S3Request& request, store::PutOptions& options) {
  for (const ChecksumField& field : kChecksumFields) {
    std::optional<std::string_view> value = request.Header(field.header);
    if (!value) continue;
    std::optional<std::string> raw = Base64Decode(Trim(*value));
    if (!raw || raw->size() != field.digest_bytes) {
      return S3Status("InvalidRequest",
                      "Value for " + std::string(field.header) + " header is invalid.");
    }
    options.expected.*field.value = std::string(Trim(*value));
    if (options.checksum_algorithm == store::ChecksumAlgorithm::kNone) {
      options.checksum_algorithm = field.algorithm;
    }
  }
  for (std::string_view name : {"x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"}) {
    std::optional<std::string_view> value = request.Header(name);
    if (!value) continue;
    std::optional<store::ChecksumAlgorithm> algorithm = ParseChecksumAlgorithm(Trim(*value));
    if (!algorithm) {
      return S3Status("InvalidRequest", "Value for " + std::string(name) + " header is invalid.");
    }
    options.checksum_algorithm = *algorithm;
  }
  return Status::Ok();
}

std::optional<int64_t> HttpDateMillis(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  std::optional<SysTime> time = ParseHttpDate(Trim(*value));
  if (!time) return std::nullopt;  // S3 ignores unparsable dates
  return std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
}

store::Conditions ConditionsFrom(const S3Request& request, std::string_view prefix) {
  auto header = [&](std::string_view name) {
    return request.Header(std::string(prefix) + std::string(name));
  };
  store::Conditions conditions;
  if (auto v = header("if-match")) conditions.if_match = std::string(Trim(*v));
  if (auto v = header("if-none-match")) conditions.if_none_match = std::string(Trim(*v));
  conditions.if_modified_since_ms = HttpDateMillis(header("if-modified-since"));
  conditions.if_unmodified_since_ms = HttpDateMillis(header("if-unmodified-since"));
  return conditions;
}

// "bytes=a-b" | "bytes=a-" | "bytes=-n"; anything else (including several
// ranges) is ignored and the whole object is sent, as S3 does.
std::optional<store::RangeRequest> ParseRange(std::optional<std::string_view> header) {
  if (!header) return std::nullopt;
  std::string_view spec = Trim(*header);
  if (!spec.starts_with("bytes=")) return std::nullopt;
  spec.remove_prefix(6);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view first = Trim(spec.substr(0, dash)), last = Trim(spec.substr(dash + 1));
  store::RangeRequest range;
  if (first.empty()) {
    range.suffix_length = ParseUint(last);
    if (!range.suffix_length) return std::nullopt;
    return range;
  }
  range.first = ParseUint(first);
  if (!range.first) return std::nullopt;
  if (!last.empty()) {
    range.last = ParseUint(last);
    if (!range.last || *range.last < *range.first) return std::nullopt;
  }
  return range;
}

void AddObjectHeaders(const store::ObjectMeta& meta, http::Headers& headers) {
  headers.Set("Last-Modified", HttpDate(meta.last_modified_ms));
  headers.Set("ETag", Quoted(meta.etag));
  headers.Set("Content-Type",
              meta.content_type.empty() ? "binary/octet-stream" : meta.content_type);
  headers.Set("Accept-Ranges", "bytes");
  auto optional_header = [&](const char* name, const std::string& value) {
    if (!value.empty()) headers.Set(name, value);
  };
  optional_header("Content-Encoding", meta.content_encoding);
  optional_header("Content-Disposition", meta.content_disposition);
  optional_header("Content-Language", meta.content_language);
  optional_header("Cache-Control", meta.cache_control);
  optional_header("Expires", meta.expires);
  for (const auto& [name, value] : meta.user_metadata) {
    headers.Add(std::string(kMetaPrefix) + name, value);
  }
  if (!meta.tags.empty()) headers.Set("x-amz-tagging-count", std::to_string(meta.tags.size()));
}

void ApplyResponseOverrides(const S3Request& request, http::Headers& headers) {
  for (const auto& [param, header] : kResponseOverrides) {
    if (auto value = request.Param(param)) headers.Set(std::string(header), *value);
  }
}

// 304 carries the validators of the current object (RFC 9110 15.4.5).
http::Response NotModifiedResponse(const OpContext& ctx) {
  http::Response response;
  response.status = 304;
  response.content_length = 0;
  Result<store::ObjectMeta> meta = ctx.s3.store.HeadObject(ctx.request.bucket, ctx.request.key);
  if (meta.ok()) {
    response.headers.Set("ETag", Quoted(meta->etag));
    response.headers.Set("Last-Modified", HttpDate(meta->last_modified_ms));
  }
  return response;
}

// 416 names the object's size (RFC 9110 15.5.17), so clients can retry.
http::Response RangeNotSatisfiable(const OpContext& ctx, const Status& status) {
  const S3Request& request = ctx.request;
  http::Response response =
      ErrorResponse(ToS3Error(status), request.Resource(), request.request_id, !request.IsHead());
  Result<store::ObjectMeta> meta = ctx.s3.store.HeadObject(request.bucket, request.key);
  if (meta.ok()) response.headers.Set("Content-Range", "bytes */" + std::to_string(meta->size));
  return response;
}

// ?partNumber=N of GET/HEAD Object: nullopt when absent. S3 refuses it
// together with a Range, and anything but an integer in 1..10000.
Result<std::optional<int>> ParseGetPartNumber(const S3Request& request) {
  std::optional<std::string> param = request.Param("partNumber");
  if (!param) return std::optional<int>();
  if (request.Header("Range")) {
    return S3Status("InvalidRequest",
                    "Cannot specify both Range header and partNumber query parameter");
  }
  std::optional<int64_t> number = ParseInt(*param);
  if (!number || *number < kMinPartNumber || *number > kMaxPartNumber) {
    return S3Status("InvalidArgument",
                    "Part number must be an integer between 1 and 10000, inclusive");
  }
  return std::optional<int>(static_cast<int>(*number));
}

// DeleteObjects needs Content-MD5 or a checksum (AWS requires one) and it
// must match the body.
Status VerifyBodyIntegrity(const OpContext& ctx, const RequestBody& body, std::string_view bytes) {
  bool present = body.trailer_algorithm() != store::ChecksumAlgorithm::kNone;
  if (auto md5 = ctx.request.Header("Content-MD5")) {
    present = true;
    std::optional<std::string> raw = Base64Decode(Trim(*md5));
    if (!raw || raw->size() != kMd5Bytes) return S3Status("InvalidDigest");
    if (*raw != Md5(bytes)) return S3Status("BadDigest");
  }
  for (const ChecksumField& field : kChecksumFields) {
    std::optional<std::string_view> value = ctx.request.Header(field.header);
    if (!value) continue;
    present = true;
    Hasher hasher(field.hash);
    hasher.Update(bytes);
    if (Base64Encode(hasher.Finish()) != Trim(*value)) return S3Status("BadDigest");
  }
  if (!present) {
    return S3Status("InvalidRequest", "Missing required header for this request: Content-Md5.");
  }
  return Status::Ok();
}

void AddDeleteError(pugi::xml_node root, const std::string& key, const S3Error& error) {
  pugi::xml_node node = root.append_child("Error");
  AddText(node, "Key", key);
  AddText(node, "Code", error.code);
  AddText(node, "Message", error.message);
}

}  // namespace

http::Response EmptyResponse(int status) {
  http::Response response;
  response.status = status;
  response.content_length = 0;
  return response;
}

std::string HttpDate(int64_t millis) {
  return FormatHttpDate(SysTime(std::chrono::milliseconds(millis)));
}

Status CheckVersionId(const S3Request& request) {
  std::optional<std::string> version = request.Param("versionId");
  if (version && *version != "null") {
    return S3Status("InvalidArgument", "Invalid version id specified");
  }
  return Status::Ok();
}

std::string Quoted(std::string_view etag) { return "\"" + std::string(etag) + "\""; }

void AddChecksumHeaders(const store::Checksums& checksums, http::Headers& headers) {
  for (const ChecksumField& field : kChecksumFields) {
    if (const auto& value = checksums.*field.value) headers.Set(std::string(field.header), *value);
  }
  if (HasAnyChecksum(checksums)) {
    headers.Set("x-amz-checksum-type", ChecksumTypeName(!checksums.composite));
  }
}

void AddChecksumElements(const store::Checksums& checksums, pugi::xml_node parent) {
  for (const ChecksumField& field : kChecksumFields) {
    if (const auto& value = checksums.*field.value) AddText(parent, field.element, *value);
  }
}

Result<store::PutOptions> PutOptionsFromHeaders(const S3Request& request) {
  store::PutOptions options;
  auto text = [&](std::string_view name) { return std::string(request.Header(name).value_or("")); };
  options.content_type = text("Content-Type");
  options.content_encoding = StripAwsChunked(text("Content-Encoding"));
  options.content_disposition = text("Content-Disposition");
  options.content_language = text("Content-Language");
  options.cache_control = text("Cache-Control");
  options.expires = text("Expires");
  for (const auto& field : request.head->headers.fields()) {
    if (IStartsWith(field.name, kMetaPrefix)) {
      options.user_metadata.emplace_back(ToLower(field.name.substr(kMetaPrefix.size())),
                                         field.value);
    }
  }
  std::sort(options.user_metadata.begin(), options.user_metadata.end());
  // S3's user guide ("Working with object metadata"): at most 2 KB, counted
  // as the bytes of every key (without x-amz-meta-) and value.
  size_t metadata_bytes = 0;
  for (const auto& [name, value] : options.user_metadata)
    metadata_bytes += name.size() + value.size();
  if (metadata_bytes > kMaxUserMetadataBytes) return S3Status("MetadataTooLarge");
  if (auto md5 = request.Header("Content-MD5")) {
    std::optional<std::string> raw = Base64Decode(Trim(*md5));
    if (!raw || raw->size() != kMd5Bytes) return S3Status("InvalidDigest");
    options.content_md5 = std::move(*raw);
  }
  IMGBATCH_RETURN_IF_ERROR(ParseChecksumHeaders(request, options));
  if (std::optional<std::string_view> tagging = request.Header("x-amz-tagging")) {
    options.tags = ParseTaggingHeader(*tagging);
  }
  options.conditions = ConditionsFrom(request, "");
  return options;
}

Status PrepareUpload(const OpContext& ctx, RequestBody& body, store::PutOptions& options) {
  const http::RequestHead& head = *ctx.request.head;
  if (body.aws_chunked()) {
    // The framed length is not the object's: the decoded one is declared.
    if (auto declared = ctx.request.Header("x-amz-decoded-content-length")) {
      options.content_length = ParseUint(Trim(*declared));
      if (!options.content_length) {
        return S3Status("InvalidArgument", "x-amz-decoded-content-length is not a number");
      }
    } else if (!head.content_length && !head.chunked) {
      return S3Status("MissingContentLength");
    }
  } else if (head.content_length) {
    options.content_length = head.content_length;
  } else if (!head.chunked) {
    return S3Status("MissingContentLength");
  }
  if (body.trailer_algorithm() != store::ChecksumAlgorithm::kNone) {
    options.checksum_algorithm = body.trailer_algorithm();
  }
  return Status::Ok();
}

OpResult PutObject(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(store::PutOptions options, PutOptionsFromHeaders(ctx.request));
  IMGBATCH_RETURN_IF_ERROR(CheckTaggingAllowed(ctx, options));
  IMGBATCH_ASSIGN_OR_RETURN(std::unique_ptr<RequestBody> body, ctx.OpenBody());
  IMGBATCH_RETURN_IF_ERROR(PrepareUpload(ctx, *body, options));
  IMGBATCH_ASSIGN_OR_RETURN(store::ObjectMeta meta,
                            ctx.s3.store.PutObject(ctx.request.bucket, ctx.request.key, *body,
                                                   options, ctx.store_caller));
  http::Response response;
  response.content_length = 0;
  response.headers.Set("ETag", Quoted(meta.etag));
  AddChecksumHeaders(meta.checksums, response.headers);
  AddExpirationHeader(ctx, meta, response.headers);
  return response;
}

OpResult GetObject(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_RETURN_IF_ERROR(CheckVersionId(request));
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<int> part_number, ParseGetPartNumber(request));
  const store::Conditions conditions = ConditionsFrom(request, "");
  Result<store::ObjectData> data =
      part_number
          ? ctx.s3.store.GetObjectPart(request.bucket, request.key, *part_number, conditions)
          : ctx.s3.store.GetObject(request.bucket, request.key, ParseRange(request.Header("Range")),
                                   conditions);
  if (!data.ok()) {
    const Status& status = data.status();
    if (status.code() == Code::kNotModified) return NotModifiedResponse(ctx);
    if (status.code() == Code::kNotFound) return ctx.MissingKeyError(status);
    if (status.code() == Code::kOutOfRange && status.detail() == "InvalidRange") {
      return RangeNotSatisfiable(ctx, status);
    }
    return status;
  }
  http::Response response;
  const store::ObjectMeta& meta = data->meta;
  AddObjectHeaders(meta, response.headers);
  AddExpirationHeader(ctx, meta, response.headers);
  if (data->range) {
    response.status = 206;
    response.headers.Set("Content-Range", "bytes " + std::to_string(data->range->first) + "-" +
                                              std::to_string(data->range->last) + "/" +
                                              std::to_string(meta.size));
  } else if (IEquals(request.Header("x-amz-checksum-mode").value_or(""), "ENABLED")) {
    // Stored checksums cover the whole object only, so ranges get none (S3).
    AddChecksumHeaders(meta.checksums, response.headers);
  }
  // S3 returns the parts count only to a request that names a part.
  if (part_number && meta.parts_count > 0) {
    response.headers.Set("x-amz-mp-parts-count", std::to_string(meta.parts_count));
  }
  ApplyResponseOverrides(request, response.headers);
  if (request.IsHead()) {
    response.content_length = data->length;
  } else if (data->fd) {
    response.body = http::FileRange{data->fd, data->offset, data->length};
  } else {
    response.body = data->inline_bytes.substr(
        std::min<uint64_t>(data->offset, data->inline_bytes.size()), data->length);
  }
  return response;
}

OpResult DeleteObject(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(CheckVersionId(ctx.request));
  IMGBATCH_RETURN_IF_ERROR(
      ctx.s3.store.DeleteObject(ctx.request.bucket, ctx.request.key, ctx.store_caller).status());
  return EmptyResponse(204);
}

OpResult DeleteObjects(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::unique_ptr<RequestBody> body, ctx.OpenBody());
  IMGBATCH_ASSIGN_OR_RETURN(std::string xml,
                            ReadSmallBody(*body, ctx.s3.limits.max_xml_body_bytes));
  IMGBATCH_RETURN_IF_ERROR(VerifyBodyIntegrity(ctx, *body, xml));
  IMGBATCH_ASSIGN_OR_RETURN(DeleteObjectsRequest request,
                            ParseDeleteObjects(xml, ctx.s3.limits.max_delete_objects));
  // Keys refused before the store (invalid or not allowed) keep their place
  // in the reply; the rest are deleted in one store transaction.
  std::vector<std::pair<std::string, S3Error>> refused;
  std::vector<std::string> allowed;
  for (const std::string& key : request.keys) {
    if (key.empty() || key.size() > kMaxKeyBytes) {
      refused.emplace_back(
          key, ToS3Error(S3Status(key.empty() ? "InvalidArgument" : "KeyTooLongError")));
    } else if (!ctx.Allowed("s3:DeleteObject", ObjectArn(ctx.request.bucket, key))) {
      refused.emplace_back(key, ToS3Error(S3Status("AccessDenied")));
    } else {
      allowed.push_back(key);
    }
  }
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.GetBucket(ctx.request.bucket).status());
  std::vector<store::ObjectStore::DeleteResult> results;
  if (!allowed.empty()) {
    IMGBATCH_ASSIGN_OR_RETURN(
        results, ctx.s3.store.DeleteObjects(ctx.request.bucket, allowed, ctx.store_caller));
  }
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "DeleteResult");
  for (const store::ObjectStore::DeleteResult& result : results) {
    if (!result.status.ok()) {
      AddDeleteError(root, result.key, ToS3Error(result.status));
    } else if (!request.quiet) {
      AddText(root.append_child("Deleted"), "Key", result.key);
    }
  }
  for (const auto& [key, error] : refused) AddDeleteError(root, key, error);
  return XmlResponse(doc);
}

Result<std::pair<std::string, std::string>> ParseCopySource(std::string_view header) {
  std::string_view source = Trim(header);
  size_t question = source.find('?');
  if (question != std::string_view::npos) {
    QueryParams params = ParseQuery(source.substr(question + 1));
    std::optional<std::string> version = QueryGet(params, "versionId");
    if (version && *version != "null") {
      return S3Status("InvalidArgument", "Invalid version id specified");
    }
    source = source.substr(0, question);
  }
  std::optional<std::string> decoded = PercentDecode(source);
  if (!decoded) return S3Status("InvalidArgument", "Invalid copy source encoding");
  std::string_view path = *decoded;
  if (path.starts_with('/')) path.remove_prefix(1);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) {
    return S3Status("InvalidArgument", "Invalid copy source object key");
  }
  std::string key(path.substr(slash + 1));
  if (key.size() > kMaxKeyBytes) return S3Status("KeyTooLongError");
  return std::make_pair(std::string(path.substr(0, slash)), std::move(key));
}

store::Conditions CopySourceConditions(const S3Request& request) {
  return ConditionsFrom(request, "x-amz-copy-source-");
}

OpResult CopyObject(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(auto source, ParseCopySource(*request.Header("x-amz-copy-source")));
  const auto& [src_bucket, src_key] = source;
  if (!ctx.Allowed("s3:GetObject", ObjectArn(src_bucket, src_key))) {
    return S3Status("AccessDenied");
  }
  std::string directive(Trim(request.Header("x-amz-metadata-directive").value_or("COPY")));
  if (directive != "COPY" && directive != "REPLACE") {
    return S3Status("InvalidArgument", "Unknown metadata directive.");
  }
  bool replace = directive == "REPLACE";
  std::string tagging_directive(Trim(request.Header("x-amz-tagging-directive").value_or("COPY")));
  if (tagging_directive != "COPY" && tagging_directive != "REPLACE") {
    return S3Status("InvalidArgument", "Unknown tagging directive.");
  }
  IMGBATCH_ASSIGN_OR_RETURN(store::PutOptions options, PutOptionsFromHeaders(request));
  // COPY keeps the source's tags whatever the metadata directive says;
  // REPLACE takes x-amz-tagging's, none without it.
  if (tagging_directive == "COPY") {
    options.tags.reset();
    IMGBATCH_RETURN_IF_ERROR(CheckSourceTagsReadable(ctx, src_bucket, src_key));
  } else if (!options.tags) {
    options.tags = store::Tags{};
  }
  IMGBATCH_RETURN_IF_ERROR(CheckTaggingAllowed(ctx, options));
  bool same_object = src_bucket == request.bucket && src_key == request.key;
  if (same_object && !replace && options.checksum_algorithm == store::ChecksumAlgorithm::kNone) {
    return S3Status("InvalidRequest",
                    "This copy request is illegal because it is trying to copy an object to "
                    "itself without changing the object's metadata, storage class, website "
                    "redirect location or encryption attributes.");
  }
  // If-* headers of a copy apply to the source; there is no body to digest.
  options.conditions = {};
  options.content_md5.reset();
  options.expected = {};
  Result<store::ObjectMeta> meta =
      ctx.s3.store.CopyObject(src_bucket, src_key, request.bucket, request.key,
                              CopySourceConditions(request), replace, options, ctx.store_caller);
  if (!meta.ok()) {
    // A copy's failed source condition is always 412, never 304 (S3).
    if (meta.status().code() == Code::kNotModified) return S3Status("PreconditionFailed");
    return meta.status();
  }
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "CopyObjectResult");
  AddText(root, "LastModified", XmlTime(meta->last_modified_ms));
  AddText(root, "ETag", Quoted(meta->etag));
  AddChecksumElements(meta->checksums, root);
  http::Response response = XmlResponse(doc);
  AddExpirationHeader(ctx, *meta, response.headers);
  return response;
}

}  // namespace imgbatch::s3
