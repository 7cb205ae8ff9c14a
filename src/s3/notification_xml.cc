#include "s3/notification_xml.h"

#include "common/strings.h"
#include "s3/errors.h"
#include "s3/wire_xml.h"

namespace imgbatch::s3 {
namespace {

Status Malformed() { return S3Status("MalformedXML"); }

Status NotSupported(std::string_view what) {
  return S3Status("InvalidArgument", std::string(what) +
                                         " is not supported by this server; use a "
                                         "QueueConfiguration with an SQS queue of this server");
}

bool IsElement(const pugi::xml_node& node) { return node.type() == pugi::node_element; }

// The one child element `name` (none: empty node; several: MalformedXML).
Result<pugi::xml_node> SingleChild(const pugi::xml_node& parent, std::string_view name) {
  pugi::xml_node found;
  for (pugi::xml_node child : parent.children()) {
    if (!IsElement(child) || LocalName(child) != name) continue;
    if (found) return Malformed();
    found = child;
  }
  return found;
}

// An element with only text (no child elements); names, ids, ARNs and event
// types are trimmed, filter values are kept exactly as sent.
Result<std::string> TextOnly(const pugi::xml_node& node, bool trim = true) {
  for (pugi::xml_node child : node.children()) {
    if (IsElement(child)) return Malformed();
  }
  std::string_view text = node.text().get();
  return std::string(trim ? Trim(text) : text);
}

Status ReadFilterRule(const pugi::xml_node& rule, notify::QueueConfiguration& queue,
                      bool& has_prefix, bool& has_suffix) {
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node name_node, SingleChild(rule, "Name"));
  IMGBATCH_ASSIGN_OR_RETURN(pugi::xml_node value_node, SingleChild(rule, "Value"));
  if (!name_node || !value_node) return Malformed();
  IMGBATCH_ASSIGN_OR_RETURN(std::string name, TextOnly(name_node));
  IMGBATCH_ASSIGN_OR_RETURN(std::string value, TextOnly(value_node, /*trim=*/false));
  std::string lower = ToLower(name);
  if (lower == "prefix") {
    if (has_prefix)
      return S3Status("InvalidArgument", "Cannot specify more than one prefix rule in a filter.");
    has_prefix = true;
    queue.prefix = std::move(value);
  } else if (lower == "suffix") {
    if (has_suffix)
      return S3Status("InvalidArgument", "Cannot specify more than one suffix rule in a filter.");
    has_suffix = true;
    queue.suffix = std::move(value);
  } else {
    return S3Status("InvalidArgument", "filter rule name must be either prefix or suffix");
  }
  return Status::Ok();
}

Status ReadFilter(const pugi::xml_node& filter, notify::QueueConfiguration& queue) {
  bool has_prefix = false;
  bool has_suffix = false;
  for (pugi::xml_node child : filter.children()) {
    if (!IsElement(child)) continue;
    if (LocalName(child) != "S3Key") return Malformed();
    for (pugi::xml_node rule : child.children()) {
      if (!IsElement(rule)) continue;
      if (LocalName(rule) != "FilterRule") return Malformed();
      IMGBATCH_RETURN_IF_ERROR(ReadFilterRule(rule, queue, has_prefix, has_suffix));
    }
  }
  return Status::Ok();
}

Result<notify::QueueConfiguration> ReadQueueConfiguration(const pugi::xml_node& node) {
  notify::QueueConfiguration queue;
  bool has_id = false;
  bool has_queue = false;
  bool has_filter = false;
  for (pugi::xml_node child : node.children()) {
    if (!IsElement(child)) continue;
    std::string_view name = LocalName(child);
    if (name == "Id" && !has_id) {
      has_id = true;
      IMGBATCH_ASSIGN_OR_RETURN(queue.id, TextOnly(child));
    } else if (name == "Queue" && !has_queue) {
      has_queue = true;
      IMGBATCH_ASSIGN_OR_RETURN(queue.queue_arn, TextOnly(child));
    } else if (name == "Event") {
      IMGBATCH_ASSIGN_OR_RETURN(std::string event, TextOnly(child));
      queue.events.push_back(std::move(event));
    } else if (name == "Filter" && !has_filter) {
      has_filter = true;
      IMGBATCH_RETURN_IF_ERROR(ReadFilter(child, queue));
    } else {
      return Malformed();  // unknown or repeated element: not S3's schema
    }
  }
  if (!has_queue || queue.events.empty()) return Malformed();
  return queue;
}

void AddFilterRule(pugi::xml_node s3key, const char* name, const std::string& value) {
  pugi::xml_node rule = s3key.append_child("FilterRule");
  AddText(rule, "Name", name);
  AddText(rule, "Value", value);
}

}  // namespace

Result<notify::NotificationConfiguration> ParseNotificationConfiguration(std::string_view xml) {
  pugi::xml_document doc;
  // Keep text as sent (a prefix may end in spaces or carry '\r').
  constexpr unsigned kFlags = (pugi::parse_default & ~pugi::parse_eol);
  if (!LoadClientXml(doc, xml, kFlags)) return Malformed();
  pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != "NotificationConfiguration") return Malformed();
  notify::NotificationConfiguration config;
  for (pugi::xml_node child : root.children()) {
    if (!IsElement(child)) continue;
    std::string_view name = LocalName(child);
    if (name == "QueueConfiguration") {
      if (config.queues.size() == kMaxNotificationConfigurations) return Malformed();
      IMGBATCH_ASSIGN_OR_RETURN(notify::QueueConfiguration queue, ReadQueueConfiguration(child));
      config.queues.push_back(std::move(queue));
    } else if (name == "TopicConfiguration") {
      return NotSupported("TopicConfiguration (SNS)");
    } else if (name == "CloudFunctionConfiguration") {
      return NotSupported("CloudFunctionConfiguration (Lambda)");
    } else if (name == "EventBridgeConfiguration") {
      return NotSupported("EventBridgeConfiguration");
    } else {
      return Malformed();
    }
  }
  return config;
}

std::string RenderNotificationConfiguration(const notify::NotificationConfiguration& config) {
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "NotificationConfiguration");
  for (const notify::QueueConfiguration& queue : config.queues) {
    pugi::xml_node node = root.append_child("QueueConfiguration");
    AddText(node, "Id", queue.id);
    AddText(node, "Queue", queue.queue_arn);
    for (const std::string& event : queue.events) AddText(node, "Event", event);
    if (queue.prefix.empty() && queue.suffix.empty()) continue;
    pugi::xml_node s3key = node.append_child("Filter").append_child("S3Key");
    if (!queue.prefix.empty()) AddFilterRule(s3key, "Prefix", queue.prefix);
    if (!queue.suffix.empty()) AddFilterRule(s3key, "Suffix", queue.suffix);
  }
  return XmlToString(doc);
}

}  // namespace imgbatch::s3
