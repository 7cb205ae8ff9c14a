// The policy document of a browser-based POST upload (S3's POST Object):
// base64 JSON {"expiration": "<ISO 8601>", "conditions": [...]}, each
// condition one of {"field": "value"} (an exact match), ["eq", "$field",
// "value"], ["starts-with", "$field", "prefix"] or ["content-length-range",
// min, max]. The form's fields are checked against it as S3 checks them: the
// policy has not expired, every condition holds, and every field the form
// sends is named by a condition (but for the signature fields, policy, file
// and x-ignore-* ones). Pure functions; thread-safe; fuzzed by
// fuzz/s3_xml_fuzzer.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace imgbatch::s3 {

struct PostCondition {
  enum class Kind { kEq, kStartsWith, kLengthRange };
  Kind kind = Kind::kEq;
  std::string field;         // lower-cased, without the '$' ("key", "content-type")
  std::string value;         // kEq, kStartsWith
  int64_t min = 0, max = 0;  // kLengthRange
  std::string text;          // as written, for the error message
};

struct PostPolicy {
  int64_t expiration_ms = 0;
  std::vector<PostCondition> conditions;
};

// Errors: InvalidPolicyDocument (not base64, not JSON, no expiration or
// conditions, a condition of an unknown form).
Result<PostPolicy> ParsePostPolicy(std::string_view base64);

// A form's fields, names lower-cased, in form order ("bucket" is the
// request's bucket, added by the caller).
using PostFields = std::vector<std::pair<std::string, std::string>>;
// The first field of that (lower-cased) name; null when the form has none.
const std::string* FindPostField(const PostFields& fields, std::string_view name);

// Errors: AccessDenied "Invalid according to Policy: Policy expired." /
// "...: Policy Condition failed: <condition>" / "...: Extra input fields:
// <name>".
Status CheckPostFields(const PostPolicy& policy, const PostFields& fields, int64_t now_ms);

// The bounds a content-length-range condition puts on the file's size (the
// tightest when there are several); nullopt without one.
std::optional<std::pair<uint64_t, uint64_t>> ContentLengthRange(const PostPolicy& policy);

}  // namespace imgbatch::s3
