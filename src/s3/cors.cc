#include "s3/cors.h"

#include <algorithm>
#include <array>

#include "common/strings.h"
#include "s3/errors.h"
#include "s3/wire_xml.h"

namespace imgbatch::s3 {
namespace {

constexpr std::array<std::string_view, 5> kCorsMethods = {"GET", "PUT", "POST", "DELETE", "HEAD"};

Status Malformed() { return S3Status("MalformedXML"); }

std::vector<std::string> TextsOf(const pugi::xml_node& rule, std::string_view name) {
  std::vector<std::string> values;
  for (pugi::xml_node node : rule.children()) {
    if (node.type() == pugi::node_element && LocalName(node) == name) {
      values.emplace_back(Trim(node.text().get()));
    }
  }
  return values;
}

bool HasAtMostOneWildcard(std::string_view s) { return std::count(s.begin(), s.end(), '*') <= 1; }

// S3's CORS wildcard: '*' matches any run of characters (no '?').
bool CorsWildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  size_t star = pattern.find('*');
  auto equal = [&](std::string_view a, std::string_view b) {
    return ignore_case ? IEquals(a, b) : a == b;
  };
  if (star == std::string_view::npos) return equal(pattern, text);
  std::string_view head = pattern.substr(0, star), tail = pattern.substr(star + 1);
  if (text.size() < head.size() + tail.size()) return false;
  return equal(head, text.substr(0, head.size())) &&
         equal(tail, text.substr(text.size() - tail.size()));
}

Result<CorsRule> ParseRule(const pugi::xml_node& node) {
  CorsRule rule;
  rule.id = std::string(Trim(ChildByLocalName(node, "ID").text().get()));
  rule.allowed_origins = TextsOf(node, "AllowedOrigin");
  rule.allowed_methods = TextsOf(node, "AllowedMethod");
  rule.allowed_headers = TextsOf(node, "AllowedHeader");
  rule.expose_headers = TextsOf(node, "ExposeHeader");
  if (rule.allowed_origins.empty() || rule.allowed_methods.empty()) return Malformed();
  for (const std::string& method : rule.allowed_methods) {
    if (std::find(kCorsMethods.begin(), kCorsMethods.end(), method) == kCorsMethods.end()) {
      return S3Status(
          "InvalidRequest",
          "Found unsupported HTTP method in CORS config. Unsupported method is " + method);
    }
  }
  for (const std::string& origin : rule.allowed_origins) {
    if (!HasAtMostOneWildcard(origin)) {
      return S3Status("InvalidRequest",
                      "AllowedOrigin \"" + origin + "\" can not have more than one wildcard.");
    }
  }
  for (const std::string& header : rule.allowed_headers) {
    if (!HasAtMostOneWildcard(header)) {
      return S3Status("InvalidRequest",
                      "AllowedHeader \"" + header + "\" can not have more than one wildcard.");
    }
  }
  if (pugi::xml_node max_age = ChildByLocalName(node, "MaxAgeSeconds")) {
    std::optional<int64_t> seconds = ParseInt(Trim(max_age.text().get()));
    if (!seconds || *seconds < 0) return Malformed();
    rule.max_age_seconds = *seconds;
  }
  return rule;
}

bool AllowsHeader(const CorsRule& rule, std::string_view header) {
  return std::any_of(rule.allowed_headers.begin(), rule.allowed_headers.end(),
                     [&](const std::string& p) { return CorsWildcardMatch(p, header, true); });
}

}  // namespace

Result<CorsConfiguration> ParseCorsConfiguration(std::string_view xml) {
  pugi::xml_document doc;
  if (!LoadClientXml(doc, xml, pugi::parse_default)) return Malformed();
  pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != "CORSConfiguration") return Malformed();
  CorsConfiguration config;
  for (pugi::xml_node node : root.children()) {
    if (node.type() != pugi::node_element || LocalName(node) != "CORSRule") continue;
    if (config.rules.size() == kMaxCorsRules) {
      return S3Status("InvalidRequest",
                      "The number of CORS rules should not exceed allowed "
                      "limit of 100 rules.");
    }
    IMGBATCH_ASSIGN_OR_RETURN(CorsRule rule, ParseRule(node));
    config.rules.push_back(std::move(rule));
  }
  if (config.rules.empty()) return Malformed();
  return config;
}

std::string RenderCorsConfiguration(const CorsConfiguration& config) {
  pugi::xml_document doc;
  pugi::xml_node root = AppendS3Root(doc, "CORSConfiguration");
  for (const CorsRule& rule : config.rules) {
    pugi::xml_node node = root.append_child("CORSRule");
    if (!rule.id.empty()) AddText(node, "ID", rule.id);
    for (const auto& v : rule.allowed_headers) AddText(node, "AllowedHeader", v);
    for (const auto& v : rule.allowed_methods) AddText(node, "AllowedMethod", v);
    for (const auto& v : rule.allowed_origins) AddText(node, "AllowedOrigin", v);
    for (const auto& v : rule.expose_headers) AddText(node, "ExposeHeader", v);
    if (rule.max_age_seconds) AddText(node, "MaxAgeSeconds", std::to_string(*rule.max_age_seconds));
  }
  return XmlToString(doc);
}

const CorsRule* MatchCorsRule(const CorsConfiguration& config, std::string_view origin,
                              std::string_view method,
                              const std::vector<std::string>& request_headers) {
  for (const CorsRule& rule : config.rules) {
    bool origin_ok =
        std::any_of(rule.allowed_origins.begin(), rule.allowed_origins.end(),
                    [&](const std::string& p) { return CorsWildcardMatch(p, origin, false); });
    bool method_ok = std::find(rule.allowed_methods.begin(), rule.allowed_methods.end(), method) !=
                     rule.allowed_methods.end();
    bool headers_ok = std::all_of(request_headers.begin(), request_headers.end(),
                                  [&](const std::string& h) { return AllowsHeader(rule, h); });
    if (origin_ok && method_ok && headers_ok) return &rule;
  }
  return nullptr;
}

}  // namespace imgbatch::s3
