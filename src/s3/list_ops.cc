// Listing operations: ListObjects (V1), ListObjectsV2 and ListObjectVersions
// for unversioned buckets (every object is its own "null" version).
#include "common/hashing.h"
#include "common/strings.h"
#include "s3/errors.h"
#include "s3/ops.h"

namespace imgbatch::s3 {
namespace {

// Greater than every byte of UTF-8, so "<prefix>\xff" sorts after every key
// that starts with prefix.
constexpr char kAfterEveryUtf8Byte = '\xff';

// Where a listing resumes after `marker`. A marker that is a common prefix
// (ends with the delimiter) resumes after every key rolled up into it, or the
// same prefix would be listed again on the next page.
std::string ResumeAfter(const std::string& marker, const std::string& prefix,
                        const std::string& delimiter) {
  if (!delimiter.empty() && marker.size() > prefix.size() && marker.starts_with(prefix) &&
      marker.ends_with(delimiter)) {
    return marker + kAfterEveryUtf8Byte;
  }
  return marker;
}

void AddContentsEntry(pugi::xml_node node, const store::ObjectMeta& object, bool url,
                      bool with_owner, const S3Context& s3) {
  AddText(node, "Key", ListEncode(url, object.key));
  AddText(node, "LastModified", XmlTime(object.last_modified_ms));
  AddText(node, "ETag", Quoted(object.etag));
  const store::Checksums& sums = object.checksums;
  for (const ChecksumField& field : kChecksumFields) {
    if (sums.*field.value) {  // the first algorithm the object has
      AddText(node, "ChecksumAlgorithm", field.name);
      break;
    }
  }
  AddNumber(node, "Size", object.size);
  if (with_owner) AddOwner(node, "Owner", s3);
  AddText(node, "StorageClass", "STANDARD");
}

struct ListParams {
  store::ListRequest store;
  bool url = false;
};

Result<ListParams> CommonListParams(const OpContext& ctx) {
  ListParams params;
  IMGBATCH_ASSIGN_OR_RETURN(params.url, ParseUrlEncoding(ctx.request));
  IMGBATCH_ASSIGN_OR_RETURN(params.store.max_keys,
                            ParseMaxParam(ctx.request, "max-keys", ctx.s3.limits.max_list_keys));
  params.store.prefix = ctx.request.Param("prefix").value_or("");
  params.store.delimiter = ctx.request.Param("delimiter").value_or("");
  return params;
}

void AddOptional(pugi::xml_node root, const char* name, const std::optional<std::string>& value,
                 bool url) {
  if (value) AddText(root, name, ListEncode(url, *value));
}

}  // namespace

// Whole seconds, as S3 shows every time it stores (".000Z"): objects keep
// milliseconds here, but HEAD's Last-Modified has whole seconds, and a
// listing that disagreed with it made `aws s3 sync --exact-timestamps`
// download every object again on every run (the CLI sets a file's mtime
// from the whole-second header and compares it with the listing).
std::string XmlTime(int64_t millis) {
  return FormatIso8601Millis(
      std::chrono::floor<std::chrono::seconds>(SysTime(std::chrono::milliseconds(millis))));
}

Result<std::string> DecodeContinuationToken(std::string_view token) {
  std::optional<std::string> name = Base64Decode(token);
  if (!name || name->empty()) {
    return S3Status("InvalidArgument", "The continuation token provided is incorrect");
  }
  return std::move(*name);
}

Result<int> ParseMaxParam(const S3Request& request, std::string_view name, int cap) {
  std::optional<std::string> value = request.Param(name);
  if (!value) return cap;
  std::optional<int64_t> number = ParseInt(Trim(*value));
  if (!number) {
    return S3Status("InvalidArgument",
                    "Provided " + std::string(name) + " not an integer or within integer range");
  }
  if (*number < 0) {
    return S3Status("InvalidArgument", "Argument " + std::string(name) +
                                           " must be an integer "
                                           "between 0 and 2147483647");
  }
  return static_cast<int>(std::min<int64_t>(*number, cap));
}

Result<bool> ParseUrlEncoding(const S3Request& request) {
  std::optional<std::string> value = request.Param("encoding-type");
  if (!value) return false;
  if (*value != "url")
    return S3Status("InvalidArgument", "Invalid Encoding Method specified in Request");
  return true;
}

std::string ListEncode(bool url, std::string_view value) {
  return url ? UriEncode(value, /*encode_slash=*/false) : std::string(value);
}

void AddCommonPrefixes(pugi::xml_node root, const std::vector<std::string>& prefixes, bool url) {
  for (const std::string& prefix : prefixes) {
    AddText(root.append_child("CommonPrefixes"), "Prefix", ListEncode(url, prefix));
  }
}

// S3 leaves an empty delimiter out of the response, as if none was given.
void AddDelimiter(pugi::xml_node root, const S3Request& request, bool url) {
  std::optional<std::string> delimiter = request.Param("delimiter");
  if (delimiter && !delimiter->empty()) AddText(root, "Delimiter", ListEncode(url, *delimiter));
}

void AddOwner(pugi::xml_node parent, const char* name, const S3Context& s3) {
  pugi::xml_node owner = parent.append_child(name);
  AddText(owner, "ID", s3.owner_id);
  AddText(owner, "DisplayName", s3.owner_display_name);
}

OpResult ListObjectsV2(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(ListParams params, CommonListParams(ctx));
  std::optional<std::string> token = request.Param("continuation-token");
  std::optional<std::string> start_after = request.Param("start-after");
  if (token && !token->empty()) {  // an empty token is no token (and is echoed back)
    IMGBATCH_ASSIGN_OR_RETURN(std::string marker, DecodeContinuationToken(*token));
    params.store.start_after = ResumeAfter(marker, params.store.prefix, params.store.delimiter);
  } else if (start_after) {
    params.store.start_after = *start_after;
  }
  bool fetch_owner = request.Param("fetch-owner") == "true";
  IMGBATCH_ASSIGN_OR_RETURN(store::ListResult result,
                            ctx.s3.store.ListObjects(request.bucket, params.store));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "ListBucketResult");
  AddText(root, "Name", request.bucket);
  AddText(root, "Prefix", ListEncode(params.url, params.store.prefix));
  AddDelimiter(root, request, params.url);
  AddNumber(root, "MaxKeys", static_cast<uint64_t>(params.store.max_keys));
  if (params.url) AddText(root, "EncodingType", "url");
  AddNumber(root, "KeyCount", result.objects.size() + result.common_prefixes.size());
  AddBool(root, "IsTruncated", result.truncated);
  if (token) AddText(root, "ContinuationToken", *token);
  if (result.truncated) AddText(root, "NextContinuationToken", Base64Encode(result.next_marker));
  AddOptional(root, "StartAfter", start_after, params.url);
  for (const store::ObjectMeta& object : result.objects) {
    AddContentsEntry(root.append_child("Contents"), object, params.url, fetch_owner, ctx.s3);
  }
  AddCommonPrefixes(root, result.common_prefixes, params.url);
  return XmlResponse(doc);
}

OpResult ListObjectsV1(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(ListParams params, CommonListParams(ctx));
  std::string marker = request.Param("marker").value_or("");
  params.store.start_after = ResumeAfter(marker, params.store.prefix, params.store.delimiter);
  IMGBATCH_ASSIGN_OR_RETURN(store::ListResult result,
                            ctx.s3.store.ListObjects(request.bucket, params.store));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "ListBucketResult");
  AddText(root, "Name", request.bucket);
  AddText(root, "Prefix", ListEncode(params.url, params.store.prefix));
  AddText(root, "Marker", ListEncode(params.url, marker));
  // S3 returns NextMarker only with a delimiter; without one clients resume
  // from the last key listed.
  if (result.truncated && !params.store.delimiter.empty()) {
    AddText(root, "NextMarker", ListEncode(params.url, result.next_marker));
  }
  AddNumber(root, "MaxKeys", static_cast<uint64_t>(params.store.max_keys));
  AddDelimiter(root, request, params.url);
  if (params.url) AddText(root, "EncodingType", "url");
  AddBool(root, "IsTruncated", result.truncated);
  for (const store::ObjectMeta& object : result.objects) {
    AddContentsEntry(root.append_child("Contents"), object, params.url, true, ctx.s3);
  }
  AddCommonPrefixes(root, result.common_prefixes, params.url);
  return XmlResponse(doc);
}

OpResult ListObjectVersions(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(ListParams params, CommonListParams(ctx));
  std::string key_marker = request.Param("key-marker").value_or("");
  params.store.start_after = ResumeAfter(key_marker, params.store.prefix, params.store.delimiter);
  IMGBATCH_ASSIGN_OR_RETURN(store::ListResult result,
                            ctx.s3.store.ListObjects(request.bucket, params.store));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "ListVersionsResult");
  AddText(root, "Name", request.bucket);
  AddText(root, "Prefix", ListEncode(params.url, params.store.prefix));
  AddText(root, "KeyMarker", ListEncode(params.url, key_marker));
  AddText(root, "VersionIdMarker", request.Param("version-id-marker").value_or(""));
  if (result.truncated) {
    AddText(root, "NextKeyMarker", ListEncode(params.url, result.next_marker));
    AddText(root, "NextVersionIdMarker", "null");
  }
  AddNumber(root, "MaxKeys", static_cast<uint64_t>(params.store.max_keys));
  AddDelimiter(root, request, params.url);
  if (params.url) AddText(root, "EncodingType", "url");
  AddBool(root, "IsTruncated", result.truncated);
  for (const store::ObjectMeta& object : result.objects) {
    pugi::xml_node node = root.append_child("Version");
    AddText(node, "Key", ListEncode(params.url, object.key));
    AddText(node, "VersionId", "null");
    AddBool(node, "IsLatest", true);
    AddText(node, "LastModified", XmlTime(object.last_modified_ms));
    AddText(node, "ETag", Quoted(object.etag));
    AddNumber(node, "Size", object.size);
    AddOwner(node, "Owner", ctx.s3);
    AddText(node, "StorageClass", "STANDARD");
  }
  AddCommonPrefixes(root, result.common_prefixes, params.url);
  return XmlResponse(doc);
}

}  // namespace imgbatch::s3
