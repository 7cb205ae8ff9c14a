#include "s3/wire_xml.h"

#include "common/strings.h"

namespace imgbatch::s3 {
namespace {

struct StringWriter final : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

bool IsXmlText(const char* text) { return CountXmlCharacters(text).has_value(); }

// Every name, value and attribute of the tree is XML text.
struct XmlTextChecker final : pugi::xml_tree_walker {
  bool ok = true;
  bool for_each(pugi::xml_node& node) override {
    ok = IsXmlText(node.name()) && IsXmlText(node.value());
    for (pugi::xml_attribute attribute : node.attributes()) {
      ok = ok && IsXmlText(attribute.name()) && IsXmlText(attribute.value());
    }
    return ok;  // false stops the walk
  }
};

}  // namespace

bool LoadClientXml(pugi::xml_document& doc, std::string_view xml, unsigned options) {
  if (!doc.load_buffer(xml.data(), xml.size(), options)) return false;
  XmlTextChecker checker;
  doc.traverse(checker);
  return checker.ok;
}

pugi::xml_node AppendS3Root(pugi::xml_document& doc, const char* name) {
  pugi::xml_node root = doc.append_child(name);
  root.append_attribute("xmlns") = kS3Namespace;
  return root;
}

pugi::xml_node AddText(pugi::xml_node parent, const char* name, std::string_view value) {
  pugi::xml_node node = parent.append_child(name);
  node.text().set(std::string(value).c_str());
  return node;
}

pugi::xml_node AddBool(pugi::xml_node parent, const char* name, bool value) {
  return AddText(parent, name, value ? "true" : "false");
}

pugi::xml_node AddNumber(pugi::xml_node parent, const char* name, uint64_t value) {
  return AddText(parent, name, std::to_string(value));
}

std::string XmlToString(const pugi::xml_document& doc) {
  StringWriter writer;
  writer.out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  doc.save(writer, "", pugi::format_raw | pugi::format_no_declaration, pugi::encoding_utf8);
  // Stored texts are valid UTF-8 (keys are checked on the way in), but errors
  // quote the request (its path as Resource), which may hold any bytes:
  // those become U+FFFD, so every client can decode the reply
  // (s3_service_fuzzer).
  return ReplaceNonXmlCharacters(std::move(writer.out));
}

http::Response XmlResponse(const pugi::xml_document& doc, int status) {
  http::Response response;
  response.status = status;
  response.headers.Set("Content-Type", "application/xml");
  response.body = XmlToString(doc);
  return response;
}

std::string_view LocalName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node ChildByLocalName(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_element && LocalName(child) == name) return child;
  }
  return {};
}

}  // namespace imgbatch::s3
