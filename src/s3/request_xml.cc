#include "s3/request_xml.h"

#include <chrono>
#include <limits>

#include "common/strings.h"
#include "s3/checksum_fields.h"
#include "s3/errors.h"
#include "s3/wire_xml.h"
#include "store/lifecycle.h"

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

namespace {

bool IsElement(const pugi::xml_node& node, std::string_view name) {
  return node.type() == pugi::node_element && LocalName(node) == name;
}

size_t CountChildren(const pugi::xml_node& parent, std::string_view name) {
  size_t n = 0;
  for (pugi::xml_node node : parent.children()) n += IsElement(node, name) ? 1 : 0;
  return n;
}

// An element that S3's schema allows once: nullptr when absent, MalformedXML
// when repeated.
Result<pugi::xml_node> OptionalChild(const pugi::xml_node& parent, std::string_view name) {
  if (CountChildren(parent, name) > 1) return Malformed();
  return ChildByLocalName(parent, name);
}

template <typename T>
Status ReadNumber(const pugi::xml_node& parent, std::string_view name, std::optional<T>& out) {
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node node, OptionalChild(parent, name));
  if (!node) return Status::Ok();
  std::optional<int64_t> value = ParseInt(Trim(node.text().get()));
  if (!value || *value < std::numeric_limits<T>::min() || *value > std::numeric_limits<T>::max()) {
    return Malformed();
  }
  out = static_cast<T>(*value);
  return Status::Ok();
}

Status ReadSize(const pugi::xml_node& parent, std::string_view name, std::optional<uint64_t>& out) {
  std::optional<int64_t> value;
  IMGBATCH_RETURN_IF_ERROR(ReadNumber(parent, name, value));
  if (value && *value < 0) return Malformed();
  if (value) out = static_cast<uint64_t>(*value);
  return Status::Ok();
}

Result<std::pair<std::string, std::string>> ReadTag(const pugi::xml_node& tag) {
  pugi::xml_node key = ChildByLocalName(tag, "Key");
  pugi::xml_node value = ChildByLocalName(tag, "Value");
  if (!key || !value) return Malformed();
  return std::make_pair(std::string(key.text().get()), std::string(value.text().get()));
}

// The conditions of a <Filter> or of its <And>: and_form allows several.
Status ReadFilterConditions(const pugi::xml_node& node, bool and_form,
                            store::LifecycleFilter& filter) {
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node prefix, OptionalChild(node, "Prefix"));
  if (prefix) filter.prefix = prefix.text().get();
  for (pugi::xml_node child : node.children()) {
    if (!IsElement(child, "Tag")) continue;
    IMGBATCH_ASSIGN_OR_RETURN(auto tag, ReadTag(child));
    filter.tags.push_back(std::move(tag));
  }
  IMGBATCH_RETURN_IF_ERROR(ReadSize(node, "ObjectSizeGreaterThan", filter.size_greater_than));
  IMGBATCH_RETURN_IF_ERROR(ReadSize(node, "ObjectSizeLessThan", filter.size_less_than));
  if (and_form) return Status::Ok();
  // Outside <And> a filter holds one condition.
  const size_t conditions = (prefix ? 1 : 0) + filter.tags.size() +
                            (filter.size_greater_than ? 1 : 0) + (filter.size_less_than ? 1 : 0);
  return conditions > 1 ? Malformed() : Status::Ok();
}

Status ReadFilter(const pugi::xml_node& filter_node, store::LifecycleFilter& filter) {
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node and_node, OptionalChild(filter_node, "And"));
  IMGBATCH_RETURN_IF_ERROR(ReadFilterConditions(filter_node, /*and_form=*/false, filter));
  if (!and_node) return Status::Ok();
  const bool alone = filter.prefix.empty() && filter.tags.empty() && !filter.size_greater_than &&
                     !filter.size_less_than && !ChildByLocalName(filter_node, "Prefix");
  if (!alone) return Malformed();  // <And> is the filter's only child
  return ReadFilterConditions(and_node, /*and_form=*/true, filter);
}

// "2026-12-01T00:00:00Z", with or without milliseconds, or the date alone.
Result<int64_t> ReadDate(std::string_view text) {
  std::string value(Trim(text));
  if (value.size() == 10) value += "T00:00:00Z";
  std::optional<SysTime> time = ParseIso8601(value);
  if (!time) return S3Status("InvalidArgument", "'Date' must be in ISO 8601 format");
  return std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
}

Status ReadExpiration(const pugi::xml_node& rule_node, store::LifecycleRule& rule) {
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node expiration, OptionalChild(rule_node, "Expiration"));
  if (!expiration) return Status::Ok();
  IMGBATCH_RETURN_IF_ERROR(ReadNumber(expiration, "Days", rule.expiration_days));
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node date, OptionalChild(expiration, "Date"));
  if (date) {
    IMGBATCH_ASSIGN_OR_RETURN(rule.expiration_date_ms, ReadDate(date.text().get()));
  }
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node marker,
                            OptionalChild(expiration, "ExpiredObjectDeleteMarker"));
  if (marker) {
    std::string_view value = Trim(marker.text().get());
    if (value != "true" && value != "false") return Malformed();
    rule.expired_object_delete_marker = value == "true";
  }
  if (!rule.expiration_days && !rule.expiration_date_ms && !rule.expired_object_delete_marker) {
    return Malformed();  // an empty <Expiration>
  }
  return Status::Ok();
}

// Transitions move objects to other storage classes, which imgbatch does not
// have: a well-formed one is NotImplemented, but a bad one gets the error S3
// gives it (a date not at midnight, a day count that is no number).
Status RefuseTransitions(const pugi::xml_node& rule_node) {
  bool any = false;
  for (pugi::xml_node node : rule_node.children()) {
    if (!IsElement(node, "Transition") && !IsElement(node, "NoncurrentVersionTransition")) {
      continue;
    }
    any = true;
    std::optional<int> days;
    IMGBATCH_RETURN_IF_ERROR(ReadNumber(node, "Days", days));
    IMGBATCH_RETURN_IF_ERROR(ReadNumber(node, "NoncurrentDays", days));
    if (days && *days < 0) {
      return S3Status("InvalidArgument", "'Days' in Transition action must be nonnegative");
    }
    if (pugi::xml_node date = ChildByLocalName(node, "Date")) {
      IMGBATCH_ASSIGN_OR_RETURN(int64_t date_ms, ReadDate(date.text().get()));
      if (date_ms % store::kDayMs != 0) {
        return S3Status("InvalidArgument", "'Date' must be at midnight GMT");
      }
    }
  }
  if (!any) return Status::Ok();
  return S3Status("NotImplemented",
                  "Transitions are not supported: imgbatch keeps every object in one storage "
                  "class (STANDARD)");
}

Status ReadOtherActions(const pugi::xml_node& rule_node, store::LifecycleRule& rule) {
  IMGBATCH_RETURN_IF_ERROR(RefuseTransitions(rule_node));
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node noncurrent,
                            OptionalChild(rule_node, "NoncurrentVersionExpiration"));
  if (noncurrent) {
    IMGBATCH_RETURN_IF_ERROR(ReadNumber(noncurrent, "NoncurrentDays", rule.noncurrent_days));
    IMGBATCH_RETURN_IF_ERROR(
        ReadNumber(noncurrent, "NewerNoncurrentVersions", rule.newer_noncurrent_versions));
    if (!rule.noncurrent_days) return Malformed();
  }
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node abort,
                            OptionalChild(rule_node, "AbortIncompleteMultipartUpload"));
  if (abort) {
    IMGBATCH_RETURN_IF_ERROR(ReadNumber(abort, "DaysAfterInitiation", rule.abort_incomplete_days));
    if (!rule.abort_incomplete_days) return Malformed();
  }
  return Status::Ok();
}

Result<store::LifecycleRule> ReadLifecycleRule(const pugi::xml_node& node) {
  store::LifecycleRule rule;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node id, OptionalChild(node, "ID"));
  if (id) rule.id = id.text().get();
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node status, OptionalChild(node, "Status"));
  std::string_view status_text = status ? Trim(status.text().get()) : std::string_view();
  if (status_text != "Enabled" && status_text != "Disabled") return Malformed();
  rule.enabled = status_text == "Enabled";
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node prefix, OptionalChild(node, "Prefix"));
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node filter, OptionalChild(node, "Filter"));
  if (prefix && filter) return Malformed();
  if (prefix) {
    rule.legacy_prefix = true;
    rule.filter.prefix = prefix.text().get();
  } else if (filter) {
    IMGBATCH_RETURN_IF_ERROR(ReadFilter(filter, rule.filter));
  } else {
    return Malformed();  // S3 needs one or the other
  }
  IMGBATCH_RETURN_IF_ERROR(ReadExpiration(node, rule));
  IMGBATCH_RETURN_IF_ERROR(ReadOtherActions(node, rule));
  return rule;
}

}  // namespace

Result<store::LifecycleConfiguration> ParseLifecycleConfiguration(std::string_view xml) {
  pugi::xml_document doc;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(doc, xml, "LifecycleConfiguration"));
  store::LifecycleConfiguration config;
  for (pugi::xml_node node : root.children()) {
    if (!IsElement(node, "Rule")) continue;
    if (config.rules.size() > store::kMaxLifecycleRules) break;  // the store refuses the count
    IMGBATCH_ASSIGN_OR_RETURN(store::LifecycleRule rule, ReadLifecycleRule(node));
    config.rules.push_back(std::move(rule));
  }
  if (config.rules.empty()) return Malformed();
  return config;
}

Result<PublicAccessBlock> ParsePublicAccessBlock(std::string_view xml) {
  pugi::xml_document doc;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node root,
                            LoadRoot(doc, xml, "PublicAccessBlockConfiguration"));
  PublicAccessBlock block;
  for (auto [name, flag] : {std::pair{"BlockPublicAcls", &block.block_public_acls},
                            std::pair{"IgnorePublicAcls", &block.ignore_public_acls},
                            std::pair{"BlockPublicPolicy", &block.block_public_policy},
                            std::pair{"RestrictPublicBuckets", &block.restrict_public_buckets}}) {
    pugi::xml_node node = ChildByLocalName(root, name);
    if (!node) continue;
    const std::string_view value = Trim(node.text().get());
    if (value != "true" && value != "false") return Malformed();
    *flag = value == "true";
  }
  return block;
}

Result<std::string> ParseCreateBucketConfiguration(std::string_view xml) {
  if (Trim(xml).empty()) return std::string();
  pugi::xml_document doc;
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node root, LoadRoot(doc, xml, "CreateBucketConfiguration"));
  return std::string(Trim(TextOf(root, "LocationConstraint")));
}

namespace {

Status MalformedAcl() { return S3Status("MalformedACLError"); }

// A <Grantee> by its xsi:type (any prefix), or by the element it carries.
Result<AclGrantee> ReadGrantee(const pugi::xml_node& node) {
  std::string_view type;
  for (pugi::xml_attribute attribute : node.attributes()) {
    std::string_view name = attribute.name();
    if (name == "type" || name.ends_with(":type")) type = attribute.value();
  }
  struct Kind {
    std::string_view type, element;
    AclGrantee::Kind kind;
  };
  static constexpr Kind kKinds[] = {
      {"CanonicalUser", "ID", AclGrantee::Kind::kId},
      {"AmazonCustomerByEmail", "EmailAddress", AclGrantee::Kind::kEmail},
      {"Group", "URI", AclGrantee::Kind::kUri}};
  for (const Kind& kind : kKinds) {
    pugi::xml_node value = ChildByLocalName(node, kind.element);
    if (type.empty() ? !value : type != kind.type) continue;
    if (!value || Trim(value.text().get()).empty()) return MalformedAcl();
    return AclGrantee{kind.kind, std::string(Trim(value.text().get()))};
  }
  return MalformedAcl();
}

bool IsAclPermission(std::string_view permission) {
  for (std::string_view known : {"FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP"}) {
    if (permission == known) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<AclGrantee>> ParseAccessControlPolicy(std::string_view xml) {
  pugi::xml_document doc;
  if (!LoadClientXml(doc, xml, kParseFlags)) return MalformedAcl();
  pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != "AccessControlPolicy") return MalformedAcl();
  std::vector<AclGrantee> grantees;
  pugi::xml_node list = ChildByLocalName(root, "AccessControlList");
  if (!list) return MalformedAcl();
  for (pugi::xml_node grant : list.children()) {
    if (!IsElement(grant, "Grant")) continue;
    pugi::xml_node grantee = ChildByLocalName(grant, "Grantee");
    if (!grantee || !IsAclPermission(Trim(TextOf(grant, "Permission")))) return MalformedAcl();
    IMGBATCH_ASSIGN_OR_RETURN(AclGrantee named, ReadGrantee(grantee));
    grantees.push_back(std::move(named));
  }
  return grantees;
}

}  // namespace imgbatch::s3
