#include "s3/request_xml.h"

#include "common/strings.h"
#include "s3/checksum_fields.h"
#include "s3/errors.h"
#include "s3/wire_xml.h"

namespace imgbatch::s3 {
namespace {

// Keys may be whitespace or carry '\r': keep text exactly as sent.
constexpr unsigned kParseFlags =
    (pugi::parse_default & ~pugi::parse_eol) | pugi::parse_ws_pcdata_single;

Status Malformed() { return S3Status("MalformedXML"); }

Result<pugi::xml_node> LoadRoot(pugi::xml_document& doc, std::string_view xml,
                                std::string_view root_name) {
  if (!LoadClientXml(doc, xml, kParseFlags)) return Malformed();
  pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != root_name) return Malformed();
  return root;
}

std::string TextOf(const pugi::xml_node& parent, std::string_view name) {
  return ChildByLocalName(parent, name).text().get();
}

void ReadPartChecksums(const pugi::xml_node& part, store::Checksums& checksums) {
  auto take = [&](std::string_view name, std::optional<std::string>& out) {
    if (pugi::xml_node node = ChildByLocalName(part, name)) out = std::string(node.text().get());
  };
  for (const ChecksumField& field : kChecksumFields) take(field.element, checksums.*field.value);
}

}  // namespace

Result<std::vector<store::CompletedPart>> ParseCompleteMultipartUpload(std::string_view xml) {
  pugi::xml_document doc;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(doc, xml, "CompleteMultipartUpload"));
  std::vector<store::CompletedPart> parts;
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element || LocalName(node) != "Part") continue;
    pugi::xml_node number = ChildByLocalName(node, "PartNumber");
    pugi::xml_node etag = ChildByLocalName(node, "ETag");
    if (!number || !etag) return Malformed();
    std::optional<int64_t> value = ParseInt(Trim(number.text().get()));
    if (!value) return Malformed();
    if (*value < kMinPartNumber || *value > kMaxPartNumber) {
      return S3Status("InvalidArgument",
                      "Part number must be an integer between 1 and 10000, inclusive");
    }
    store::CompletedPart part;
    part.part_number = static_cast<int>(*value);
    part.etag = std::string(Trim(etag.text().get()));
    ReadPartChecksums(node, part.checksums);
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return Malformed();
  return parts;
}

Result<DeleteObjectsRequest> ParseDeleteObjects(std::string_view xml, size_t max_keys) {
  pugi::xml_document doc;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(doc, xml, "Delete"));
  DeleteObjectsRequest request;
  if (pugi::xml_node quiet = ChildByLocalName(root, "Quiet")) {
    std::string_view value = Trim(quiet.text().get());
    if (value != "true" && value != "false") return Malformed();
    request.quiet = value == "true";
  }
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element || LocalName(node) != "Object") continue;
    pugi::xml_node key = ChildByLocalName(node, "Key");
    if (!key) return Malformed();
    if (request.keys.size() == max_keys) return Malformed();
    request.keys.emplace_back(key.text().get());
  }
  if (request.keys.empty()) return Malformed();
  return request;
}

Result<store::Tags> ParseTagging(std::string_view xml) {
  pugi::xml_document doc;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(doc, xml, "Tagging"));
  pugi::xml_node tag_set = ChildByLocalName(root, "TagSet");
  if (!tag_set) return Malformed();
  store::Tags tags;
  for (pugi::xml_node node : tag_set.children()) {
    if (node.type() != pugi::node_element || LocalName(node) != "Tag") continue;
    pugi::xml_node key = ChildByLocalName(node, "Key");
    pugi::xml_node value = ChildByLocalName(node, "Value");
    if (!key || !value) return Malformed();
    tags.emplace_back(key.text().get(), value.text().get());
  }
  return tags;
}

Result<std::string> ParseCreateBucketConfiguration(std::string_view xml) {
  if (Trim(xml).empty()) return std::string();
  pugi::xml_document doc;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(doc, xml, "CreateBucketConfiguration"));
  return std::string(Trim(TextOf(root, "LocationConstraint")));
}

}  // namespace imgbatch::s3
