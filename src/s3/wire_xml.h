// Small helpers to render S3 XML replies with pugixml: the S3 namespace, text
// elements, and serialisation with the XML declaration. Thread-safe (pure).
#pragma once

#include <pugixml.hpp>
#include <string>
#include <string_view>

#include "http/exchange.h"

namespace imgbatch::s3 {

inline constexpr char kS3Namespace[] = "http://s3.amazonaws.com/doc/2006-03-01/";

// Appends the root element with xmlns set to the S3 namespace.
pugi::xml_node AppendS3Root(pugi::xml_document& doc, const char* name);
// <name>value</name>
pugi::xml_node AddText(pugi::xml_node parent, const char* name, std::string_view value);
pugi::xml_node AddBool(pugi::xml_node parent, const char* name, bool value);
pugi::xml_node AddNumber(pugi::xml_node parent, const char* name, uint64_t value);
// <?xml version="1.0" encoding="UTF-8"?> + the document, unindented.
std::string XmlToString(const pugi::xml_document& doc);
// 200 (or status) with Content-Type application/xml.
http::Response XmlResponse(const pugi::xml_document& doc, int status = 200);

// Parses a document a client sent (pugixml parse options): false unless it
// is well-formed and every name, text and attribute in it is made of XML
// characters in valid UTF-8 (also after character references are decoded).
// What we keep from such a document is served back in XML replies, which
// cannot carry other bytes: they would come back as U+FFFD, another value
// than the one accepted. S3 refuses such documents as MalformedXML.
bool LoadClientXml(pugi::xml_document& doc, std::string_view xml, unsigned options);

// An element's name without a namespace prefix ("s3:Part" -> "Part").
std::string_view LocalName(const pugi::xml_node& node);
// The first child element with that local name (empty node when none).
pugi::xml_node ChildByLocalName(const pugi::xml_node& node, std::string_view name);

}  // namespace imgbatch::s3
