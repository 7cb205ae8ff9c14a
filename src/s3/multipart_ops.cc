// Multipart upload operations: Create, UploadPart, UploadPartCopy, Complete,
// Abort, ListParts, ListMultipartUploads.
#include <unistd.h>

#include <cstring>

#include "common/strings.h"
#include "s3/checksum_fields.h"
#include "s3/errors.h"
#include "s3/ops.h"
#include "s3/request_xml.h"

namespace imgbatch::s3 {
namespace {

Result<int> ParsePartNumber(const S3Request& request) {
  std::optional<int64_t> number = ParseInt(request.Param("partNumber").value_or(""));
  if (!number || *number < kMinPartNumber || *number > kMaxPartNumber) {
    return S3Status("InvalidArgument",
                    "Part number must be an integer between 1 and 10000, inclusive");
  }
  return static_cast<int>(*number);
}

std::string UploadId(const S3Request& request) { return request.Param("uploadId").value_or(""); }

// Reads a source object's bytes for UploadPartCopy: the held-open blob file
// or the inline bytes.
class ObjectDataSource final : public store::ByteSource {
 public:
  explicit ObjectDataSource(const store::ObjectData& data) : data_(data) {}
  Result<size_t> Read(std::span<char> buffer) override {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), data_.length - done_));
    if (n == 0) return size_t{0};
    if (data_.fd) {
      ssize_t got = pread(*data_.fd, buffer.data(), n, static_cast<off_t>(data_.offset + done_));
      if (got <= 0) return IoError("reading the copy source failed");
      n = static_cast<size_t>(got);
    } else {
      std::memcpy(buffer.data(), data_.inline_bytes.data() + data_.offset + done_, n);
    }
    done_ += n;
    return n;
  }

 private:
  const store::ObjectData& data_;
  uint64_t done_ = 0;
};

// x-amz-copy-source-range: "bytes=first-last", both required (S3).
Result<std::optional<store::RangeRequest>> ParseCopySourceRange(const S3Request& request) {
  std::optional<std::string_view> header = request.Header("x-amz-copy-source-range");
  if (!header) return std::optional<store::RangeRequest>();
  std::string_view spec = Trim(*header);
  auto invalid = [] {
    return S3Status("InvalidArgument",
                    "The x-amz-copy-source-range value must be of the form bytes=first-last "
                    "where first and last are the zero-based offsets of the first and last "
                    "bytes to copy");
  };
  if (!spec.starts_with("bytes=")) return invalid();
  spec.remove_prefix(6);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return invalid();
  std::optional<uint64_t> first = ParseUint(spec.substr(0, dash));
  std::optional<uint64_t> last = ParseUint(spec.substr(dash + 1));
  if (!first || !last || *last < *first) return invalid();
  store::RangeRequest range;
  range.first = first;
  range.last = last;
  return std::optional<store::RangeRequest>(range);
}

// CompleteMultipartUpload's x-amz-checksum-* headers: the whole object's
// checksums as the client computed them (the store compares them with the
// composite of the parts). Any value that does not match is a BadDigest.
store::Checksums ExpectedObjectChecksums(const S3Request& request) {
  store::Checksums expected;
  auto take = [&](std::string_view header, std::optional<std::string>& into) {
    if (auto value = request.Header(header)) into = std::string(Trim(*value));
  };
  for (const ChecksumField& field : kChecksumFields) take(field.header, expected.*field.value);
  return expected;
}

std::string Location(const OpContext& ctx) {
  std::string host(ctx.request.Header("Host").value_or("localhost"));
  std::string scheme = ctx.request.head->tls ? "https://" : "http://";
  if (ctx.request.virtual_host) return scheme + host + "/" + UriEncode(ctx.request.key, false);
  return scheme + host + "/" + ctx.request.bucket + "/" + UriEncode(ctx.request.key, false);
}

// The upload's checksum type as S3 gives it (x-amz-checksum-type): CRC64NVME
// is always FULL_OBJECT (the CRC of the whole body), SHA1 and SHA256 always
// COMPOSITE (a hash of the parts' hashes), CRC32 and CRC32C either, COMPOSITE
// unless asked. Asking for what an algorithm cannot be is InvalidRequest.
Result<bool> FullObjectChecksumOf(const S3Request& request, store::ChecksumAlgorithm algorithm) {
  const bool crc64 = algorithm == store::ChecksumAlgorithm::kCrc64Nvme;
  std::optional<std::string_view> asked = request.Header("x-amz-checksum-type");
  if (!asked) return crc64;
  const std::string_view type = Trim(*asked);
  const bool full_object = IEquals(type, "FULL_OBJECT");
  if (!full_object && !IEquals(type, "COMPOSITE")) {
    return S3Status("InvalidRequest", "Value for x-amz-checksum-type header is invalid.");
  }
  const bool sha = algorithm == store::ChecksumAlgorithm::kSha1 ||
                   algorithm == store::ChecksumAlgorithm::kSha256;
  if ((crc64 && !full_object) || (sha && full_object)) {
    return S3Status("InvalidRequest",
                    "The " + std::string(type) + " checksum type cannot be used with the " +
                        ChecksumAlgorithmName(algorithm) + " checksum algorithm.");
  }
  return full_object;
}

// What CreateMultipartUpload answered in x-amz-checksum-algorithm and
// x-amz-checksum-type, as ListParts and ListMultipartUploads give it; nothing
// for an upload that named no algorithm.
void AddUploadChecksumElements(store::ChecksumAlgorithm algorithm, bool full_object,
                               pugi::xml_node parent) {
  if (algorithm == store::ChecksumAlgorithm::kNone) return;
  AddText(parent, "ChecksumAlgorithm", ChecksumAlgorithmName(algorithm));
  AddText(parent, "ChecksumType", ChecksumTypeName(full_object));
}

}  // namespace

OpResult CreateMultipartUpload(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(store::PutOptions options, PutOptionsFromHeaders(ctx.request));
  IMGBATCH_RETURN_IF_ERROR(CheckTaggingAllowed(ctx, options));
  if (options.checksum_algorithm != store::ChecksumAlgorithm::kNone) {
    IMGBATCH_ASSIGN_OR_RETURN(options.full_object_checksum,
                              FullObjectChecksumOf(ctx.request, options.checksum_algorithm));
  }
  IMGBATCH_ASSIGN_OR_RETURN(
      store::MultipartUpload upload,
      ctx.s3.store.CreateMultipartUpload(ctx.request.bucket, ctx.request.key, options));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "InitiateMultipartUploadResult");
  AddText(root, "Bucket", ctx.request.bucket);
  AddText(root, "Key", ctx.request.key);
  AddText(root, "UploadId", upload.upload_id);
  http::Response response = XmlResponse(doc);
  if (options.checksum_algorithm != store::ChecksumAlgorithm::kNone) {
    response.headers.Set("x-amz-checksum-algorithm",
                         ChecksumAlgorithmName(options.checksum_algorithm));
    response.headers.Set("x-amz-checksum-type", ChecksumTypeName(options.full_object_checksum));
  }
  AddAbortHeaders(ctx, upload, response.headers);
  return response;
}

OpResult UploadPart(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(int part_number, ParsePartNumber(ctx.request));
  IMGBATCH_ASSIGN_OR_RETURN(store::PutOptions options, PutOptionsFromHeaders(ctx.request));
  IMGBATCH_ASSIGN_OR_RETURN(std::unique_ptr<RequestBody> body, ctx.OpenBody());
  IMGBATCH_RETURN_IF_ERROR(PrepareUpload(ctx, *body, options));
  IMGBATCH_ASSIGN_OR_RETURN(
      store::PartInfo part,
      ctx.s3.store.UploadPart(ctx.request.bucket, ctx.request.key, UploadId(ctx.request),
                              part_number, *body, options));
  http::Response response;
  response.content_length = 0;
  response.headers.Set("ETag", Quoted(part.etag));
  AddChecksumHeaders(part.checksums, response.headers);
  return response;
}

OpResult UploadPartCopy(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(int part_number, ParsePartNumber(request));
  IMGBATCH_ASSIGN_OR_RETURN(auto source, ParseCopySource(*request.Header("x-amz-copy-source")));
  if (!ctx.Allowed("s3:GetObject", ObjectArn(source.first, source.second))) {
    return S3Status("AccessDenied");
  }
  IMGBATCH_ASSIGN_OR_RETURN(std::optional<store::RangeRequest> range,
                            ParseCopySourceRange(request));
  Result<store::ObjectData> data =
      ctx.s3.store.GetObject(source.first, source.second, range, CopySourceConditions(request));
  if (!data.ok()) {
    if (data.status().code() == Code::kNotModified) return S3Status("PreconditionFailed");
    return data.status();
  }
  // Unlike a GET Range, a copy range is not clamped: it must lie in the source.
  if (range && range->last && *range->last >= data->meta.size) {
    return S3Status("InvalidRange",
                    "The x-amz-copy-source-range is beyond the end of the source object");
  }
  store::PutOptions options;
  options.content_length = data->length;
  ObjectDataSource body(*data);
  IMGBATCH_ASSIGN_OR_RETURN(store::PartInfo part,
                            ctx.s3.store.UploadPart(request.bucket, request.key, UploadId(request),
                                                    part_number, body, options));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "CopyPartResult");
  AddText(root, "LastModified", XmlTime(part.last_modified_ms));
  AddText(root, "ETag", Quoted(part.etag));
  AddChecksumElements(part.checksums, root);
  return XmlResponse(doc);
}

OpResult CompleteMultipartUpload(const OpContext& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string xml, ctx.ReadXmlBody());
  IMGBATCH_ASSIGN_OR_RETURN(std::vector<store::CompletedPart> parts,
                            ParseCompleteMultipartUpload(xml));
  IMGBATCH_ASSIGN_OR_RETURN(store::ObjectMeta meta,
                            ctx.s3.store.CompleteMultipartUpload(
                                ctx.request.bucket, ctx.request.key, UploadId(ctx.request), parts,
                                ctx.store_caller, ExpectedObjectChecksums(ctx.request)));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "CompleteMultipartUploadResult");
  AddText(root, "Location", Location(ctx));
  AddText(root, "Bucket", ctx.request.bucket);
  AddText(root, "Key", ctx.request.key);
  AddText(root, "ETag", Quoted(meta.etag));
  AddChecksumElements(meta.checksums, root);
  http::Response response = XmlResponse(doc);
  AddExpirationHeader(ctx, meta, response.headers);
  return response;
}

OpResult AbortMultipartUpload(const OpContext& ctx) {
  IMGBATCH_RETURN_IF_ERROR(ctx.s3.store.AbortMultipartUpload(ctx.request.bucket, ctx.request.key,
                                                             UploadId(ctx.request)));
  return EmptyResponse(204);
}

OpResult ListParts(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(int max_parts, ParseMaxParam(request, "max-parts", kMaxListParts));
  std::optional<int64_t> marker = ParseInt(request.Param("part-number-marker").value_or("0"));
  if (!marker || *marker < 0 || *marker > kMaxPartNumber) {
    return S3Status("InvalidArgument", "Invalid part-number-marker");
  }
  IMGBATCH_ASSIGN_OR_RETURN(store::ListPartsResult result,
                            ctx.s3.store.ListParts(request.bucket, request.key, UploadId(request),
                                                   static_cast<int>(*marker), max_parts));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "ListPartsResult");
  AddText(root, "Bucket", request.bucket);
  AddText(root, "Key", request.key);
  AddText(root, "UploadId", UploadId(request));
  AddOwner(root, "Initiator", ctx.s3);
  AddOwner(root, "Owner", ctx.s3);
  AddText(root, "StorageClass", "STANDARD");
  AddUploadChecksumElements(result.checksum_algorithm, result.full_object_checksum, root);
  AddNumber(root, "PartNumberMarker", static_cast<uint64_t>(*marker));
  if (result.truncated) {
    AddNumber(root, "NextPartNumberMarker", static_cast<uint64_t>(result.next_part_number_marker));
  }
  AddNumber(root, "MaxParts", static_cast<uint64_t>(max_parts));
  AddBool(root, "IsTruncated", result.truncated);
  for (const store::PartInfo& part : result.parts) {
    pugi::xml_node node = root.append_child("Part");
    AddNumber(node, "PartNumber", static_cast<uint64_t>(part.part_number));
    AddText(node, "LastModified", XmlTime(part.last_modified_ms));
    AddText(node, "ETag", Quoted(part.etag));
    AddNumber(node, "Size", part.size);
    AddChecksumElements(part.checksums, node);
  }
  return XmlResponse(doc);
}

OpResult ListMultipartUploads(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  IMGBATCH_ASSIGN_OR_RETURN(bool url, ParseUrlEncoding(request));
  store::ListUploadsRequest list;
  IMGBATCH_ASSIGN_OR_RETURN(list.max_uploads, ParseMaxParam(request, "max-uploads", 1000));
  list.prefix = request.Param("prefix").value_or("");
  list.delimiter = request.Param("delimiter").value_or("");
  list.key_marker = request.Param("key-marker").value_or("");
  list.upload_id_marker = request.Param("upload-id-marker").value_or("");
  IMGBATCH_ASSIGN_OR_RETURN(store::ListUploadsResult result,
                            ctx.s3.store.ListMultipartUploads(request.bucket, list));
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "ListMultipartUploadsResult");
  AddText(root, "Bucket", request.bucket);
  AddText(root, "KeyMarker", ListEncode(url, list.key_marker));
  AddText(root, "UploadIdMarker", list.upload_id_marker);
  if (result.truncated) {
    AddText(root, "NextKeyMarker", ListEncode(url, result.next_key_marker));
    AddText(root, "NextUploadIdMarker", result.next_upload_id_marker);
  }
  AddDelimiter(root, request, url);
  AddText(root, "Prefix", ListEncode(url, list.prefix));
  if (url) AddText(root, "EncodingType", "url");
  AddNumber(root, "MaxUploads", static_cast<uint64_t>(list.max_uploads));
  AddBool(root, "IsTruncated", result.truncated);
  for (const store::MultipartUpload& upload : result.uploads) {
    pugi::xml_node node = root.append_child("Upload");
    AddText(node, "Key", ListEncode(url, upload.key));
    AddText(node, "UploadId", upload.upload_id);
    AddOwner(node, "Initiator", ctx.s3);
    AddOwner(node, "Owner", ctx.s3);
    AddText(node, "StorageClass", "STANDARD");
    AddText(node, "Initiated", XmlTime(upload.initiated_ms));
    AddUploadChecksumElements(upload.options.checksum_algorithm,
                              upload.options.full_object_checksum, node);
  }
  AddCommonPrefixes(root, result.common_prefixes, url);
  return XmlResponse(doc);
}

}  // namespace imgbatch::s3
