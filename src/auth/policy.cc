#include "auth/policy.h"

#include <algorithm>

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

// "Action" or "NotAction" (likewise Resource): exactly one of the pair.
Status ParseEither(const json& doc, const char* field, const char* negated,
                   std::vector<std::string>& values, bool& is_negated) {
  auto plain = doc.find(field);
  auto inverse = doc.find(negated);
  if (plain != doc.end() && inverse != doc.end()) {
    return InvalidArgument(std::string("A statement has both ") + field + " and " + negated);
  }
  if (plain == doc.end() && inverse == doc.end()) {
    return InvalidArgument(std::string("Missing required field ") + field);
  }
  is_negated = plain == doc.end();
  IMGBATCH_ASSIGN_OR_RETURN(
      values, StringOrArray(is_negated ? *inverse : *plain, is_negated ? negated : field));
  return Status::Ok();
}

Status InvalidPrincipal() { return InvalidArgument("Invalid principal in policy"); }

// An "AWS" principal as IAM writes one: "*", a 12-digit account id, or an
// IAM ARN (arn:aws:iam::<account>:root, :user/<name>, ...).
bool WellFormedAwsPrincipal(std::string_view value) {
  if (value == "*" || IsAccountId(value)) return true;
  constexpr std::string_view kIam = "arn:aws:iam::";
  if (!value.starts_with(kIam)) return false;
  value.remove_prefix(kIam.size());
  size_t colon = value.find(':');
  return colon != std::string_view::npos && IsAccountId(value.substr(0, colon)) &&
         colon + 1 < value.size();
}

// "Principal": "*" | {"AWS": .., "Service": .., "CanonicalUser": ..}.
Result<Principals> ParsePrincipals(const json& value) {
  Principals principals;
  if (value.is_string()) {
    if (value != "*") return InvalidPrincipal();
    principals.anyone = true;
    return principals;
  }
  if (!value.is_object() || value.empty()) return InvalidPrincipal();
  for (const auto& [type, names] : value.items()) {
    Result<std::vector<std::string>> list = StringOrArray(names, "Principal");
    if (!list.ok()) return InvalidPrincipal();
    if (type == "AWS") {
      for (std::string& name : *list) {
        if (!WellFormedAwsPrincipal(name)) return InvalidPrincipal();
        if (name == "*") {
          principals.anyone = true;
        } else {
          principals.aws.push_back(std::move(name));
        }
      }
    } else if (type == "Service") {
      principals.services = std::move(*list);
    } else if (type == "CanonicalUser") {
      principals.canonical_ids = std::move(*list);
    } else {
      return InvalidPrincipal();  // Federated: no identity providers here
    }
  }
  return principals;
}

Status ParsePrincipalOf(const json& doc, PolicyKind kind, Statement& st) {
  auto principal = doc.find("Principal");
  auto not_principal = doc.find("NotPrincipal");
  const bool named = principal != doc.end() || not_principal != doc.end();
  if (kind == PolicyKind::kIdentity) {
    if (named) return InvalidArgument("Policy document should not specify a principal");
    return Status::Ok();
  }
  if (!named) return InvalidArgument("Missing required field Principal");
  if (principal != doc.end() && not_principal != doc.end()) return InvalidPrincipal();
  st.not_principals = principal == doc.end();
  IMGBATCH_ASSIGN_OR_RETURN(st.principals,
                            ParsePrincipals(st.not_principals ? *not_principal : *principal));
  return Status::Ok();
}

bool HasVariable(const Statement& st) {
  auto in = [](const std::string& text) { return text.find("${") != std::string::npos; };
  return std::any_of(st.resources.begin(), st.resources.end(), in) ||
         std::any_of(st.conditions.begin(), st.conditions.end(), [&](const Condition& c) {
           return std::any_of(c.values.begin(), c.values.end(), in);
         });
}

Result<Statement> ParseStatement(const json& doc, PolicyKind kind) {
  if (!doc.is_object()) return InvalidArgument("Statement entries must be objects");
  Statement st;
  auto effect = doc.find("Effect");
  if (effect == doc.end()) return InvalidArgument("Missing required field Effect");
  if (!effect->is_string() || (*effect != "Allow" && *effect != "Deny")) {
    return InvalidArgument("Invalid effect: Effect must be \"Allow\" or \"Deny\"");
  }
  st.allow = *effect == "Allow";
  if (auto sid = doc.find("Sid"); sid != doc.end()) {
    if (!sid->is_string()) return InvalidArgument("Sid must be a string");
    st.sid = sid->get<std::string>();
  }
  IMGBATCH_RETURN_IF_ERROR(ParsePrincipalOf(doc, kind, st));
  IMGBATCH_RETURN_IF_ERROR(ParseEither(doc, "Action", "NotAction", st.actions, st.not_actions));
  IMGBATCH_RETURN_IF_ERROR(
      ParseEither(doc, "Resource", "NotResource", st.resources, st.not_resources));
  if (auto condition = doc.find("Condition"); condition != doc.end()) {
    IMGBATCH_ASSIGN_OR_RETURN(st.conditions, ParseConditionBlock(*condition));
  }
  return st;
}

bool AnyMatches(const std::vector<std::string>& patterns, std::string_view text,
                bool case_insensitive, bool backslash_escapes = false) {
  for (const auto& pattern : patterns) {
    if (case_insensitive ? WildcardMatch(ToLower(pattern), ToLower(text))
                         : WildcardMatch(pattern, text, backslash_escapes)) {
      return true;
    }
  }
  return false;
}

// Whether a Principal names the caller. An account (its id or its root
// ARN) names the root user; for a Deny, or in a NotPrincipal, it names every
// principal of the account, as in IAM -- an Allow to the account leaves its
// users to their own (key) policies.
bool NamesCaller(const Principals& principals, const PrincipalIdentity* who,
                 bool account_covers_users) {
  if (principals.anyone) return true;
  if (who == nullptr) return false;
  for (const std::string& name : principals.aws) {
    if (name == who->arn) return true;
    if (NamesAccount(name, who->account_id) && (who->root() || account_covers_users)) return true;
  }
  return false;  // Service and CanonicalUser principals are never an access key
}

bool StatementApplies(const Statement& st, std::string_view action, std::string_view resource,
                      const PrincipalIdentity* who) {
  // IAM action names are case-insensitive; resource ARNs (object keys) are not.
  if (AnyMatches(st.actions, action, /*case_insensitive=*/true) == st.not_actions) return false;
  // An expanded statement's resources are escaped patterns (WithVariablesExpanded).
  if (AnyMatches(st.resources, resource, /*case_insensitive=*/false, st.has_variables) ==
      st.not_resources) {
    return false;
  }
  if (!st.principals) return true;
  const bool account_covers_users = st.not_principals || !st.allow;
  return NamesCaller(*st.principals, who, account_covers_users) != st.not_principals;
}

// The statement as this request sees it: each Resource and condition value
// with its variables replaced; one whose variable has no value is dropped
// (it matches nothing). Resources and the values of wildcard operators become
// escaped patterns, so that what a variable brings in matches only itself.
Statement WithVariablesExpanded(const Statement& written, const RequestContext& context) {
  Statement st = written;
  auto expand_all = [&](std::vector<std::string>& texts, bool as_pattern) {
    std::vector<std::string> out;
    for (const std::string& text : texts) {
      if (std::optional<std::string> value = ExpandPolicyVariables(text, context, as_pattern)) {
        out.push_back(std::move(*value));
      }
    }
    texts = std::move(out);
  };
  expand_all(st.resources, /*as_pattern=*/true);
  for (Condition& condition : st.conditions) {
    condition.escaped_wildcards = ComparesWithWildcards(condition);
    expand_all(condition.values, condition.escaped_wildcards);
  }
  return st;
}

json PrincipalsToJson(const Principals& principals) {
  if (principals.anyone && principals.aws.empty() && principals.services.empty() &&
      principals.canonical_ids.empty()) {
    return "*";
  }
  json out = json::object();
  std::vector<std::string> aws = principals.aws;
  if (principals.anyone) aws.insert(aws.begin(), "*");
  if (!aws.empty()) out["AWS"] = aws.size() == 1 ? json(aws[0]) : json(aws);
  auto add = [&](const char* type, const std::vector<std::string>& names) {
    if (!names.empty()) out[type] = names.size() == 1 ? json(names[0]) : json(names);
  };
  add("Service", principals.services);
  add("CanonicalUser", principals.canonical_ids);
  return out;
}

json StringsToJson(const std::vector<std::string>& values) {
  if (values.size() == 1) return values[0];
  return json(values);
}

}  // namespace

std::optional<std::string> ExpandPolicyVariables(std::string_view text,
                                                 const RequestContext& context, bool as_pattern) {
  std::string out;
  // Text as written keeps its wildcards; only a backslash needs escaping.
  auto append_written = [&](std::string_view piece) {
    for (char c : piece) {
      if (as_pattern && c == '\\') out.push_back('\\');
      out.push_back(c);
    }
  };
  // What a variable brings in matches only itself.
  auto append_literal = [&](std::string_view piece) {
    for (char c : piece) {
      if (as_pattern && (c == '*' || c == '?' || c == '\\')) out.push_back('\\');
      out.push_back(c);
    }
  };
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("${", pos);
    const size_t close = open == std::string_view::npos ? open : text.find('}', open);
    if (close == std::string_view::npos) {
      append_written(text.substr(pos));
      return out;
    }
    append_written(text.substr(pos, open - pos));
    std::string_view inner = Trim(text.substr(open + 2, close - open - 2));
    pos = close + 1;
    if (inner == "*" || inner == "?" || inner == "$") {
      append_literal(inner);
      continue;
    }
    std::optional<std::string> fallback;
    if (size_t comma = inner.find(','); comma != std::string_view::npos) {
      std::string_view quoted = Trim(inner.substr(comma + 1));
      inner = Trim(inner.substr(0, comma));
      if (quoted.size() < 2 || quoted.front() != '\'' || quoted.back() != '\'') {
        return std::nullopt;  // not IAM's form: matches nothing rather than guessing
      }
      fallback = std::string(quoted.substr(1, quoted.size() - 2));
    }
    std::optional<std::vector<std::string>> values = context.Find(inner);
    if (values && values->size() == 1) {
      append_literal(values->front());
    } else if (fallback) {
      append_literal(*fallback);
    } else {
      return std::nullopt;
    }
  }
}

bool NamesAccount(std::string_view principal, std::string_view account_id) {
  if (principal == account_id) return true;
  constexpr std::string_view kIam = "arn:aws:iam::", kRoot = ":root";
  return principal.size() == kIam.size() + account_id.size() + kRoot.size() &&
         principal.starts_with(kIam) && principal.ends_with(kRoot) &&
         principal.substr(kIam.size(), account_id.size()) == account_id;
}

bool WildcardMatch(std::string_view pattern, std::string_view text, bool backslash_escapes) {
  // Greedy matching with one backtrack point (the last '*'): linear in
  // practice, never exponential on hostile patterns.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_text = 0;
  // An escaped character (a backslash and what follows it) is one literal.
  auto escaped = [&](size_t at) {
    return backslash_escapes && at + 1 < pattern.size() && pattern[at] == '\\';
  };
  while (t < text.size()) {
    if (escaped(p) && pattern[p + 1] == text[t]) {
      p += 2;
      ++t;
    } else if (p < pattern.size() && !escaped(p) && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && !escaped(p) && pattern[p] == '*') {
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

Result<Policy> Policy::FromJson(std::string_view text, PolicyKind kind) {
  try {
    json doc = json::parse(text);
    if (!doc.is_object()) return InvalidArgument("A policy must be a JSON object");
    auto version = doc.find("Version");
    if (version != doc.end() &&
        (!version->is_string() || (*version != kPolicyVersion && *version != "2008-10-17"))) {
      return InvalidArgument("Unsupported policy Version");
    }
    auto statements = doc.find("Statement");
    if (statements == doc.end()) return InvalidArgument("Missing required field Statement");
    Policy policy;
    if (auto id = doc.find("Id"); id != doc.end()) {
      if (!id->is_string()) return InvalidArgument("Id must be a string");
      policy.id = id->get<std::string>();
    }
    policy.version = version != doc.end() ? version->get<std::string>() : "";
    if (statements->is_object()) {
      IMGBATCH_ASSIGN_OR_RETURN(Statement st, ParseStatement(*statements, kind));
      policy.statements.push_back(std::move(st));
    } else if (statements->is_array()) {
      if (statements->empty()) {
        return InvalidArgument("Could not parse the policy: Statement is empty!");
      }
      for (const auto& item : *statements) {
        IMGBATCH_ASSIGN_OR_RETURN(Statement st, ParseStatement(item, kind));
        policy.statements.push_back(std::move(st));
      }
    } else {
      return InvalidArgument("Statement must be an object or an array");
    }
    // Policy variables exist from Version 2012-10-17 on; before, "${...}" is text.
    if (policy.version == kPolicyVersion) {
      for (Statement& st : policy.statements) st.has_variables = HasVariable(st);
    }
    return policy;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("This policy contains invalid Json: ") + e.what());
  }
}

std::string Policy::ToJson() const {
  json doc;
  if (!version.empty()) doc["Version"] = version;
  if (!id.empty()) doc["Id"] = id;
  json list = json::array();
  for (const auto& st : statements) {
    json statement = {{"Effect", st.allow ? "Allow" : "Deny"}};
    if (!st.sid.empty()) statement["Sid"] = st.sid;
    if (st.principals) {
      statement[st.not_principals ? "NotPrincipal" : "Principal"] =
          PrincipalsToJson(*st.principals);
    }
    statement[st.not_actions ? "NotAction" : "Action"] = StringsToJson(st.actions);
    statement[st.not_resources ? "NotResource" : "Resource"] = StringsToJson(st.resources);
    if (!st.conditions.empty()) statement["Condition"] = ConditionBlockToJson(st.conditions);
    list.push_back(std::move(statement));
  }
  doc["Statement"] = std::move(list);
  return doc.dump();
}

Policy Policy::AllowAll() {
  Policy policy;
  policy.statements.push_back(Statement{.allow = true, .actions = {"*"}, .resources = {"*"}});
  return policy;
}

Decision Policy::Decide(std::string_view action, std::string_view resource,
                        const RequestContext& context) const {
  Decision decision = Decision::kNotApplicable;
  for (const auto& written : statements) {
    std::optional<Statement> expanded;
    if (written.has_variables) expanded = WithVariablesExpanded(written, context);
    const Statement& st = expanded ? *expanded : written;
    if (!StatementApplies(st, action, resource, context.principal())) continue;
    if (!ConditionsHold(st.conditions, context)) continue;
    if (!st.allow) return Decision::kDeny;  // an explicit Deny always wins
    decision = Decision::kAllow;
  }
  return decision;
}

bool AllowedTogether(Decision own, const Policy* resource_policy, std::string_view action,
                     std::string_view resource, const RequestContext& context) {
  if (own == Decision::kDeny || resource_policy == nullptr) return own == Decision::kAllow;
  const Decision resource_says = resource_policy->Decide(action, resource, context);
  if (resource_says == Decision::kDeny) return false;
  return own == Decision::kAllow || resource_says == Decision::kAllow;
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

std::shared_ptr<const AccessKey> KeyRegistry::Shared(std::string_view access_key_id) const {
  std::lock_guard lock(mu_);
  auto it = keys_.find(access_key_id);
  return it == keys_.end() ? nullptr : it->second;
}

bool KeyRegistry::Allowed(std::string_view access_key_id, std::string_view action,
                          std::string_view resource, const RequestContext& context,
                          const Policy* resource_policy) const {
  std::shared_ptr<const AccessKey> key = Shared(access_key_id);
  if (!key) return false;
  const Decision own = key->root ? Decision::kAllow : key->policy.Decide(action, resource, context);
  return AllowedTogether(own, resource_policy, action, resource, context);
}

bool KeyRegistry::HasUser(std::string_view name) const {
  std::lock_guard lock(mu_);
  return std::any_of(keys_.begin(), keys_.end(), [&](const auto& entry) {
    return !entry.second->root && entry.second->name == name;
  });
}

std::optional<PrincipalIdentity> KeyRegistry::Principal(std::string_view access_key_id,
                                                        std::string_view account_id) const {
  std::shared_ptr<const AccessKey> key = Shared(access_key_id);
  if (!key) return std::nullopt;
  if (key->root) return PrincipalIdentity::Root(account_id);
  return PrincipalIdentity::User(account_id, key->name);
}

}  // namespace imgbatch::auth
