// GetObjectAttributes: GET /<bucket>/<key>?attributes with
// x-amz-object-attributes naming what to return (ETag, Checksum, ObjectParts,
// StorageClass, ObjectSize): what HeadObject and ListParts would say, in one
// XML document.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "s3/checksum_fields.h"
#include "s3/errors.h"
#include "s3/ops.h"

namespace imgbatch::s3 {
namespace {

constexpr std::array<std::string_view, 5> kAttributeNames = {"ETag", "Checksum", "ObjectParts",
                                                             "StorageClass", "ObjectSize"};

// The attributes asked for (each at most once), in the header's order; the
// header is required and every name must be one S3 knows.
Result<std::vector<std::string_view>> RequestedAttributes(const S3Request& request) {
  std::optional<std::string_view> header = request.Header("x-amz-object-attributes");
  if (!header || Trim(*header).empty()) {
    return S3Status("InvalidArgument",
                    "Missing required header for this request: x-amz-object-attributes");
  }
  std::vector<std::string_view> names;
  for (std::string_view name : Split(*header, ',')) {
    name = Trim(name);
    const auto known = std::find(kAttributeNames.begin(), kAttributeNames.end(), name);
    if (known == kAttributeNames.end()) {
      return S3Status("InvalidArgument", "Invalid attribute name specified.");
    }
    if (std::find(names.begin(), names.end(), *known) == names.end()) names.push_back(*known);
  }
  return names;
}

bool Wants(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// x-amz-max-parts and x-amz-part-number-marker: non-negative integers when given.
Status CheckPartHeaders(const S3Request& request) {
  for (const char* name : {"x-amz-max-parts", "x-amz-part-number-marker"}) {
    std::optional<std::string_view> value = request.Header(name);
    if (!value) continue;
    std::optional<int64_t> number = ParseInt(std::string(Trim(*value)));
    if (!number || *number < 0) {
      return S3Status("InvalidArgument", std::string("Invalid value for ") + name);
    }
  }
  return Status::Ok();
}

void AddChecksum(const store::Checksums& checksums, pugi::xml_node root) {
  pugi::xml_node node = root.append_child("Checksum");
  AddChecksumElements(checksums, node);
  AddText(node, "ChecksumType", ChecksumTypeName(!checksums.composite));
}

}  // namespace

OpResult GetObjectAttributes(const OpContext& ctx) {
  const S3Request& request = ctx.request;
  // S3 asks for both: s3:GetObject (the op's permission) and this one.
  if (!ctx.Allowed("s3:GetObjectAttributes", ObjectArn(request.bucket, request.key))) {
    return S3Status("AccessDenied");
  }
  IMGBATCH_RETURN_IF_ERROR(CheckVersionId(request));
  IMGBATCH_ASSIGN_OR_RETURN(std::vector<std::string_view> wanted, RequestedAttributes(request));
  IMGBATCH_RETURN_IF_ERROR(CheckPartHeaders(request));
  IMGBATCH_ASSIGN_OR_RETURN(store::ObjectMeta meta, ctx.HeadRequestedObject());
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "GetObjectAttributesResponse");
  if (Wants(wanted, "ETag")) AddText(root, "ETag", meta.etag);  // unquoted, as S3
  if (Wants(wanted, "Checksum") && HasAnyChecksum(meta.checksums)) {
    AddChecksum(meta.checksums, root);
  }
  // The store keeps a multipart object's part count and sizes, not its parts'
  // checksums, so only the count is given: what S3 itself answers for an
  // object uploaded without an additional checksum.
  if (Wants(wanted, "ObjectParts") && meta.parts_count > 0) {
    AddNumber(root.append_child("ObjectParts"), "PartsCount",
              static_cast<uint64_t>(meta.parts_count));
  }
  if (Wants(wanted, "StorageClass")) AddText(root, "StorageClass", "STANDARD");
  if (Wants(wanted, "ObjectSize")) AddNumber(root, "ObjectSize", meta.size);
  http::Response response = XmlResponse(doc);
  response.headers.Set("Last-Modified", HttpDate(meta.last_modified_ms));
  return response;
}

}  // namespace imgbatch::s3
