#include "s3/post_policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/hashing.h"
#include "common/strings.h"
#include "s3/errors.h"

namespace imgbatch::s3 {
namespace {

using nlohmann::json;

Status InvalidPolicy(const std::string& why) {
  return S3Status("InvalidPolicyDocument", "Invalid Policy: " + why);
}

Status Denied(const std::string& why) {
  return S3Status("AccessDenied", "Invalid according to Policy: " + why);
}

// "$Content-Type" -> "content-type"; nullopt without the '$'.
std::optional<std::string> FieldOf(const json& name) {
  if (!name.is_string()) return std::nullopt;
  const std::string& text = name.get_ref<const std::string&>();
  if (text.size() < 2 || text.front() != '$') return std::nullopt;
  return ToLower(std::string_view(text).substr(1));
}

Result<PostCondition> ReadCondition(const json& item) {
  PostCondition condition;
  condition.text = item.dump();
  if (item.is_object()) {
    if (item.size() != 1 || !item.begin().value().is_string()) {
      return InvalidPolicy(
          "Invalid Simple-Condition: Simple-Conditions must have exactly one "
          "property specified.");
    }
    condition.field = ToLower(item.begin().key());
    condition.value = item.begin().value().get<std::string>();
    return condition;
  }
  if (!item.is_array() || item.size() != 3 || !item[0].is_string()) {
    return InvalidPolicy("Invalid Condition: " + condition.text);
  }
  const std::string op = ToLower(item[0].get<std::string>());
  if (op == "content-length-range") {
    if (!item[1].is_number_integer() || !item[2].is_number_integer()) {
      return InvalidPolicy("Invalid content-length-range: " + condition.text);
    }
    condition.kind = PostCondition::Kind::kLengthRange;
    condition.min = item[1].get<int64_t>();
    condition.max = item[2].get<int64_t>();
    return condition;
  }
  std::optional<std::string> field = FieldOf(item[1]);
  if ((op != "eq" && op != "starts-with") || !field || !item[2].is_string()) {
    return InvalidPolicy("Invalid Condition: " + condition.text);
  }
  condition.kind = op == "eq" ? PostCondition::Kind::kEq : PostCondition::Kind::kStartsWith;
  condition.field = std::move(*field);
  condition.value = item[2].get<std::string>();
  return condition;
}

// starts-with on Content-Type holds for each of a comma-separated list.
bool StartsWith(const PostCondition& condition, std::string_view value) {
  if (condition.field != "content-type") return value.starts_with(condition.value);
  for (std::string_view part : Split(value, ',')) {
    if (!Trim(part).starts_with(condition.value)) return false;
  }
  return true;
}

bool Holds(const PostCondition& condition, const PostFields& fields) {
  const std::string* value = FindPostField(fields, condition.field);
  switch (condition.kind) {
    case PostCondition::Kind::kEq:
      return value != nullptr && *value == condition.value;
    case PostCondition::Kind::kStartsWith:
      // An empty prefix allows anything, the field's absence included.
      return condition.value.empty() || (value != nullptr && StartsWith(condition, *value));
    case PostCondition::Kind::kLengthRange:
      return true;  // the file's size is checked as it is read
  }
  return false;
}

// Fields a policy need not name: what signs it, the file, and the bucket
// (the request's own, which a condition may pin).
bool IsExempt(std::string_view name) {
  return name == "policy" || name == "file" || name == "bucket" || name == "x-amz-signature" ||
         name == "signature" || name == "awsaccesskeyid" || name.starts_with("x-ignore-");
}

bool Named(const PostPolicy& policy, std::string_view name) {
  return std::any_of(policy.conditions.begin(), policy.conditions.end(),
                     [&](const PostCondition& c) {
                       return c.kind != PostCondition::Kind::kLengthRange && c.field == name;
                     });
}

}  // namespace

const std::string* FindPostField(const PostFields& fields, std::string_view name) {
  for (const auto& [field, value] : fields) {
    if (field == name) return &value;
  }
  return nullptr;
}

Result<PostPolicy> ParsePostPolicy(std::string_view base64) {
  std::optional<std::string> text = Base64Decode(Trim(base64));
  if (!text) return InvalidPolicy("Policy could not be decoded as base64.");
  json document = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return InvalidPolicy("Policy is not valid JSON.");
  auto expiration = document.find("expiration");
  if (expiration == document.end() || !expiration->is_string()) {
    return InvalidPolicy("Policy missing expiration.");
  }
  std::optional<SysTime> expires = ParseIso8601(expiration->get<std::string>());
  if (!expires) return InvalidPolicy("Invalid 'expiration' value: " + expiration->dump());
  auto conditions = document.find("conditions");
  if (conditions == document.end() || !conditions->is_array()) {
    return InvalidPolicy("Policy missing conditions.");
  }
  PostPolicy policy;
  policy.expiration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(expires->time_since_epoch()).count();
  for (const json& item : *conditions) {
    IMGBATCH_ASSIGN_OR_RETURN(PostCondition condition, ReadCondition(item));
    policy.conditions.push_back(std::move(condition));
  }
  return policy;
}

Status CheckPostFields(const PostPolicy& policy, const PostFields& fields, int64_t now_ms) {
  if (now_ms >= policy.expiration_ms) return Denied("Policy expired.");
  for (const PostCondition& condition : policy.conditions) {
    if (!Holds(condition, fields)) return Denied("Policy Condition failed: " + condition.text);
  }
  for (const auto& [name, value] : fields) {
    if (!IsExempt(name) && !Named(policy, name)) return Denied("Extra input fields: " + name);
  }
  return Status::Ok();
}

std::optional<std::pair<uint64_t, uint64_t>> ContentLengthRange(const PostPolicy& policy) {
  std::optional<std::pair<uint64_t, uint64_t>> range;
  for (const PostCondition& condition : policy.conditions) {
    if (condition.kind != PostCondition::Kind::kLengthRange) continue;
    const uint64_t min = static_cast<uint64_t>(std::max<int64_t>(condition.min, 0));
    const uint64_t max = static_cast<uint64_t>(std::max<int64_t>(condition.max, 0));
    range = range ? std::make_pair(std::max(range->first, min), std::min(range->second, max))
                  : std::make_pair(min, max);
  }
  return range;
}

}  // namespace imgbatch::s3
