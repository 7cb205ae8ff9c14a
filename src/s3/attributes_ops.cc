// GetObjectAttributes: GET /<bucket>/<key>?attributes with
// x-amz-object-attributes naming what to return (ETag, Checksum, ObjectParts,
// StorageClass, ObjectSize): what HeadObject and ListParts would say, in one
// XML document. A multipart object's parts are paged by x-amz-max-parts and
// x-amz-part-number-marker.
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"
#include "s3/checksum_fields.h"
#include "s3/errors.h"
#include "s3/ops.h"
#include "s3/request_xml.h"

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

// Which of the parts ObjectParts lists, as ListParts pages them.
struct PartsPage {
  int max_parts = kMaxListParts;
  int marker = 0;  // parts numbered above it
};

// x-amz-max-parts (at most 1000, the default) and x-amz-part-number-marker:
// non-negative integers when given.
Result<PartsPage> ParsePartsPage(const S3Request& request) {
  PartsPage page;
  for (const char* name : {"x-amz-max-parts", "x-amz-part-number-marker"}) {
    std::optional<std::string_view> value = request.Header(name);
    if (!value) continue;
    std::optional<int64_t> number = ParseInt(std::string(Trim(*value)));
    if (!number || *number < 0) {
      return S3Status("InvalidArgument", std::string("Invalid value for ") + name);
    }
    if (std::string_view(name) == "x-amz-max-parts") {
      page.max_parts = static_cast<int>(std::min<int64_t>(*number, kMaxListParts));
    } else {
      page.marker = static_cast<int>(std::min<int64_t>(*number, kMaxPartNumber));
    }
  }
  return page;
}

// S3 lists the parts of an object uploaded with a checksum (an additional
// one, or the default CRC64NVME); of others only the count.
bool PartsAreListed(const std::vector<store::ObjectPart>& parts) {
  return std::any_of(parts.begin(), parts.end(),
                     [](const store::ObjectPart& part) { return HasAnyChecksum(part.checksums); });
}

void AddObjectParts(int parts_count, const std::vector<store::ObjectPart>& parts,
                    const PartsPage& page, pugi::xml_node root) {
  pugi::xml_node node = root.append_child("ObjectParts");
  AddNumber(node, "PartsCount", static_cast<uint64_t>(parts_count));
  AddNumber(node, "PartNumberMarker", static_cast<uint64_t>(page.marker));
  AddNumber(node, "MaxParts", static_cast<uint64_t>(page.max_parts));
  int listed = 0;
  bool truncated = false;
  int next_marker = 0;
  if (PartsAreListed(parts)) {
    for (const store::ObjectPart& part : parts) {
      if (part.part_number <= page.marker) continue;
      if (listed == page.max_parts) {
        truncated = true;
        break;
      }
      pugi::xml_node item = node.append_child("Part");
      AddChecksumElements(part.checksums, item);
      AddNumber(item, "PartNumber", static_cast<uint64_t>(part.part_number));
      AddNumber(item, "Size", part.size);
      next_marker = part.part_number;
      ++listed;
    }
  }
  AddBool(node, "IsTruncated", truncated);
  if (listed > 0) AddNumber(node, "NextPartNumberMarker", static_cast<uint64_t>(next_marker));
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
  IMGBATCH_ASSIGN_OR_RETURN(PartsPage page, ParsePartsPage(request));
  IMGBATCH_ASSIGN_OR_RETURN(store::ObjectMeta meta, ctx.HeadRequestedObject());
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "GetObjectAttributesResponse");
  if (Wants(wanted, "ETag")) AddText(root, "ETag", meta.etag);  // unquoted, as S3
  if (Wants(wanted, "Checksum") && HasAnyChecksum(meta.checksums)) {
    AddChecksum(meta.checksums, root);
  }
  if (Wants(wanted, "ObjectParts") && meta.parts_count > 0) {
    IMGBATCH_ASSIGN_OR_RETURN(std::vector<store::ObjectPart> parts,
                              ctx.s3.store.ListObjectParts(request.bucket, request.key));
    AddObjectParts(meta.parts_count, parts, page, root);
  }
  if (Wants(wanted, "StorageClass")) AddText(root, "StorageClass", "STANDARD");
  if (Wants(wanted, "ObjectSize")) AddNumber(root, "ObjectSize", meta.size);
  http::Response response = XmlResponse(doc);
  response.headers.Set("Last-Modified", HttpDate(meta.last_modified_ms));
  return response;
}

}  // namespace imgbatch::s3
