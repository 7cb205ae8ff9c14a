#include "auth/policy.h"

#include <nlohmann/json.hpp>

#include "common/strings.h"

namespace imgbatch::auth {
namespace {

using nlohmann::json;

constexpr std::string_view kPolicyVersion = "2012-10-17";

// Action and Resource are "x" or ["x", "y"] in IAM documents.
Result<std::vector<std::string>> StringOrArray(const json& value, std::string_view field) {
  std::vector<std::string> out;
  if (value.is_string()) {
    out.push_back(value.get<std::string>());
    return out;
  }
  if (value.is_array() && !value.empty()) {
    for (const auto& item : value) {
      if (!item.is_string()) break;
      out.push_back(item.get<std::string>());
    }
    if (out.size() == value.size()) return out;
  }
  return InvalidArgument(std::string(field) + " must be a string or a non-empty array of strings");
}

// A condition value: a string, number or boolean, or an array of them.
Result<std::vector<std::string>> ConditionValues(const json& value) {
  auto one = [](const json& v) -> std::optional<std::string> {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
    if (v.is_number()) return v.dump();
    return std::nullopt;
  };
  std::vector<std::string> out;
  if (!value.is_array()) {
    if (std::optional<std::string> v = one(value)) out.push_back(std::move(*v));
  } else {
    for (const auto& item : value) {
      std::optional<std::string> v = one(item);
      if (!v) break;
      out.push_back(std::move(*v));
    }
    if (out.size() != value.size()) out.clear();
  }
  if (out.empty()) {
    return InvalidArgument("Condition values must be strings, numbers or booleans (or arrays)");
  }
  return out;
}

// "Condition": {"<operator>": {"<key>": value or [values], ...}, ...}
Result<std::vector<Condition>> ParseConditionBlock(const json& block) {
  if (!block.is_object()) return InvalidArgument("Condition must be an object");
  std::vector<Condition> conditions;
  for (const auto& [op, keys] : block.items()) {
    if (!keys.is_object() || keys.empty()) {
      return InvalidArgument("Condition operator " + op + " must map condition keys to values");
    }
    for (const auto& [key, value] : keys.items()) {
      Condition condition{op, key, {}};
      IMGBATCH_ASSIGN_OR_RETURN(condition.values, ConditionValues(value));
      IMGBATCH_RETURN_IF_ERROR(ValidateCondition(condition));
      conditions.push_back(std::move(condition));
    }
  }
  return conditions;
}

json ConditionBlockToJson(const std::vector<Condition>& conditions) {
  json block = json::object();
  for (const Condition& c : conditions) {
    block[c.op][c.key] = c.values.size() == 1 ? json(c.values[0]) : json(c.values);
  }
  return block;
}

Result<Statement> ParseStatement(const json& doc) {
  if (!doc.is_object()) return InvalidArgument("Statement entries must be objects");
  // Fields that would change who is allowed what are refused rather than
  // ignored: ignoring a Condition on an Allow would grant more than written.
  for (const char* unsupported : {"NotAction", "NotResource", "NotPrincipal"}) {
    if (doc.contains(unsupported)) {
      return InvalidArgument(std::string(unsupported) + " is not supported in key policies");
    }
  }
  Statement st;
  auto effect = doc.find("Effect");
  if (effect == doc.end() || !effect->is_string() || (*effect != "Allow" && *effect != "Deny")) {
    return InvalidArgument("Effect must be \"Allow\" or \"Deny\"");
  }
  st.allow = *effect == "Allow";
  auto action = doc.find("Action");
  if (action == doc.end()) return InvalidArgument("Statement has no Action");
  IMGBATCH_ASSIGN_OR_RETURN(st.actions, StringOrArray(*action, "Action"));
  auto resource = doc.find("Resource");
  if (resource == doc.end()) return InvalidArgument("Statement has no Resource");
  IMGBATCH_ASSIGN_OR_RETURN(st.resources, StringOrArray(*resource, "Resource"));
  if (auto condition = doc.find("Condition"); condition != doc.end()) {
    IMGBATCH_ASSIGN_OR_RETURN(st.conditions, ParseConditionBlock(*condition));
  }
  return st;
}

bool AnyMatches(const std::vector<std::string>& patterns, std::string_view text,
                bool case_insensitive) {
  for (const auto& pattern : patterns) {
    if (case_insensitive ? WildcardMatch(ToLower(pattern), ToLower(text))
                         : WildcardMatch(pattern, text)) {
      return true;
    }
  }
  return false;
}

bool StatementMatches(const Statement& st, std::string_view action, std::string_view resource) {
  // IAM action names are case-insensitive; resource ARNs (object keys) are not.
  return AnyMatches(st.actions, action, /*case_insensitive=*/true) &&
         AnyMatches(st.resources, resource, /*case_insensitive=*/false);
}

json StringsToJson(const std::vector<std::string>& values) {
  if (values.size() == 1) return values[0];
  return json(values);
}

}  // namespace

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  // Greedy matching with one backtrack point (the last '*'): linear in
  // practice, never exponential on hostile patterns.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<Policy> Policy::FromJson(std::string_view text) {
  try {
    json doc = json::parse(text);
    if (!doc.is_object()) return InvalidArgument("A policy must be a JSON object");
    auto version = doc.find("Version");
    if (version != doc.end() &&
        (!version->is_string() || (*version != kPolicyVersion && *version != "2008-10-17"))) {
      return InvalidArgument("Unsupported policy Version");
    }
    auto statements = doc.find("Statement");
    if (statements == doc.end()) return InvalidArgument("A policy needs a Statement");
    Policy policy;
    if (statements->is_object()) {
      IMGBATCH_ASSIGN_OR_RETURN(Statement st, ParseStatement(*statements));
      policy.statements.push_back(std::move(st));
    } else if (statements->is_array()) {
      for (const auto& item : *statements) {
        IMGBATCH_ASSIGN_OR_RETURN(Statement st, ParseStatement(item));
        policy.statements.push_back(std::move(st));
      }
    } else {
      return InvalidArgument("Statement must be an object or an array");
    }
    return policy;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("Policy is not valid JSON: ") + e.what());
  }
}

std::string Policy::ToJson() const {
  json doc;
  doc["Version"] = kPolicyVersion;
  json list = json::array();
  for (const auto& st : statements) {
    json statement = {{"Effect", st.allow ? "Allow" : "Deny"},
                      {"Action", StringsToJson(st.actions)},
                      {"Resource", StringsToJson(st.resources)}};
    if (!st.conditions.empty()) statement["Condition"] = ConditionBlockToJson(st.conditions);
    list.push_back(std::move(statement));
  }
  doc["Statement"] = std::move(list);
  return doc.dump();
}

Policy Policy::AllowAll() {
  Policy policy;
  policy.statements.push_back(Statement{true, {"*"}, {"*"}, {}});
  return policy;
}

bool Policy::Allows(std::string_view action, std::string_view resource,
                    const RequestContext& context) const {
  bool allowed = false;
  for (const auto& st : statements) {
    if (!StatementMatches(st, action, resource)) continue;
    if (!ConditionsHold(st.conditions, context)) continue;
    if (!st.allow) return false;  // an explicit Deny always wins
    allowed = true;
  }
  return allowed;
}

std::string BucketArn(std::string_view bucket) { return "arn:aws:s3:::" + std::string(bucket); }

std::string ObjectArn(std::string_view bucket, std::string_view key) {
  return BucketArn(bucket) + "/" + std::string(key);
}

std::string QueueArn(std::string_view region, std::string_view account_id, std::string_view queue) {
  return "arn:aws:sqs:" + std::string(region) + ":" + std::string(account_id) + ":" +
         std::string(queue);
}

void KeyRegistry::Put(AccessKey key) {
  auto shared = std::make_shared<const AccessKey>(std::move(key));
  std::lock_guard lock(mu_);
  keys_.insert_or_assign(shared->access_key_id, std::move(shared));
}

bool KeyRegistry::Remove(std::string_view access_key_id) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(access_key_id);
  if (it == keys_.end()) return false;
  keys_.erase(it);
  return true;
}

std::optional<AccessKey> KeyRegistry::Find(std::string_view access_key_id) const {
  std::lock_guard lock(mu_);
  auto it = keys_.find(access_key_id);
  if (it == keys_.end()) return std::nullopt;
  return *it->second;
}

std::optional<std::string> KeyRegistry::SecretFor(std::string_view access_key_id) const {
  std::lock_guard lock(mu_);
  auto it = keys_.find(access_key_id);
  if (it == keys_.end()) return std::nullopt;
  return it->second->secret_access_key;
}

std::vector<AccessKey> KeyRegistry::List() const {
  std::lock_guard lock(mu_);
  std::vector<AccessKey> out;
  out.reserve(keys_.size());
  for (const auto& [id, key] : keys_) out.push_back(*key);
  return out;
}

bool KeyRegistry::Allowed(std::string_view access_key_id, std::string_view action,
                          std::string_view resource, const RequestContext& context) const {
  std::shared_ptr<const AccessKey> key;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(access_key_id);
    if (it == keys_.end()) return false;
    key = it->second;
  }
  return key->root || key->policy.Allows(action, resource, context);
}

}  // namespace imgbatch::auth
