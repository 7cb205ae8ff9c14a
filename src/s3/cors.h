// Bucket CORS configuration: the rules as S3 models them, parsed and validated
// from the PutBucketCors XML, rendered back for GetBucketCors, and matched
// against a browser's (preflight) request. Pure values; thread-safe.
// Reference: "Configuring cross-origin resource sharing (CORS)", Amazon S3
// User Guide.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imgbatch::s3 {

inline constexpr size_t kMaxCorsRules = 100;

struct CorsRule {
  std::string id;
  std::vector<std::string> allowed_origins;  // may hold one '*' wildcard each
  std::vector<std::string> allowed_methods;  // GET PUT POST DELETE HEAD
  std::vector<std::string> allowed_headers;  // case-insensitive, '*' wildcard
  std::vector<std::string> expose_headers;
  std::optional<int64_t> max_age_seconds;
};

struct CorsConfiguration {
  std::vector<CorsRule> rules;
};

// Errors: MalformedXML, InvalidRequest (unsupported method, wildcards).
Result<CorsConfiguration> ParseCorsConfiguration(std::string_view xml);
std::string RenderCorsConfiguration(const CorsConfiguration& config);

// The first rule allowing origin + method + every requested header; S3
// applies the first matching rule.
const CorsRule* MatchCorsRule(const CorsConfiguration& config, std::string_view origin,
                              std::string_view method,
                              const std::vector<std::string>& request_headers);

}  // namespace imgbatch::s3
