#include "store/lifecycle.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/hashing.h"
#include "store/object_rules.h"

namespace imgbatch::store {
namespace {

Status Refused(const char* code, std::string message) {
  return InvalidArgument(std::move(message)).WithDetail(code);
}

// The first midnight UTC at or after t.
int64_t MidnightAtOrAfter(int64_t t) {
  int64_t days = t / kDayMs;
  if (days * kDayMs < t) ++days;  // t > 0 here: times are after 1970
  return days * kDayMs;
}

bool HasAction(const LifecycleRule& rule) {
  return rule.expiration_days || rule.expiration_date_ms || rule.expired_object_delete_marker ||
         rule.noncurrent_days || rule.abort_incomplete_days;
}

Status ValidateExpiration(const LifecycleRule& rule) {
  if (rule.expiration_days && rule.expiration_date_ms) {
    return Refused("MalformedXML", "An Expiration has both Days and Date");
  }
  if (rule.expired_object_delete_marker && (rule.expiration_days || rule.expiration_date_ms)) {
    return Refused("InvalidRequest",
                   "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a "
                   "Lifecycle Expiration Policy.");
  }
  if (rule.expiration_days && *rule.expiration_days <= 0) {
    return Refused("InvalidArgument", "'Days' for Expiration action must be a positive integer");
  }
  if (rule.expiration_date_ms && *rule.expiration_date_ms % kDayMs != 0) {
    return Refused("InvalidArgument", "'Date' must be at midnight GMT");
  }
  if (rule.noncurrent_days && *rule.noncurrent_days <= 0) {
    return Refused("InvalidArgument",
                   "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive "
                   "integer");
  }
  if (rule.newer_noncurrent_versions && *rule.newer_noncurrent_versions <= 0) {
    return Refused("InvalidArgument", "'NewerNoncurrentVersions' must be a positive integer");
  }
  return Status::Ok();
}

Status ValidateRule(const LifecycleRule& rule) {
  if (rule.id.size() > kMaxLifecycleRuleIdBytes) {
    return Refused("InvalidArgument", "ID length should not exceed allowed limit of 255");
  }
  if (!HasAction(rule)) {
    return Refused("InvalidRequest", "At least one action needs to be specified in a rule");
  }
  IMGBATCH_RETURN_IF_ERROR(ValidateExpiration(rule));
  if (rule.abort_incomplete_days) {
    if (*rule.abort_incomplete_days <= 0) {
      return Refused("InvalidArgument",
                     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
                     "positive integer");
    }
    if (!rule.filter.tags.empty()) {
      return Refused("InvalidRequest",
                     "AbortIncompleteMultipartUpload cannot be specified with Tags.");
    }
  }
  if (rule.expired_object_delete_marker && !rule.filter.tags.empty()) {
    return Refused("InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with Tags.");
  }
  const LifecycleFilter& f = rule.filter;
  if (f.size_greater_than && f.size_less_than && *f.size_greater_than >= *f.size_less_than) {
    return Refused("InvalidRequest", "ObjectSizeGreaterThan must be less than ObjectSizeLessThan");
  }
  if (f.prefix.size() > kMaxKeyBytes) {
    return Refused("InvalidRequest", "The prefix is longer than a key may be (1024 bytes)");
  }
  return ValidateTags(f.tags);
}

bool HasTag(const Tags& tags, const std::pair<std::string, std::string>& wanted) {
  return std::find(tags.begin(), tags.end(), wanted) != tags.end();
}

template <typename Action>
std::optional<ScheduledAction> Earliest(const LifecycleConfiguration& config, Action when) {
  std::optional<ScheduledAction> earliest;
  for (const LifecycleRule& rule : config.rules) {
    if (!rule.enabled) continue;
    std::optional<int64_t> t = when(rule);
    if (t && (!earliest || *t < earliest->time_ms)) earliest = ScheduledAction{*t, rule.id};
  }
  return earliest;
}

// JSON helpers for optional members.
template <typename T>
void PutOptional(nlohmann::json& j, const char* name, const std::optional<T>& value) {
  if (value) j[name] = *value;
}
template <typename T>
void GetOptional(const nlohmann::json& j, const char* name, std::optional<T>& value) {
  if (auto it = j.find(name); it != j.end()) value = it->get<T>();
}

nlohmann::json RuleToJson(const LifecycleRule& rule) {
  nlohmann::json tags = nlohmann::json::array();
  for (const auto& [key, value] : rule.filter.tags) tags.push_back({key, value});
  nlohmann::json j = {{"id", rule.id},
                      {"enabled", rule.enabled},
                      {"legacy_prefix", rule.legacy_prefix},
                      {"prefix", rule.filter.prefix},
                      {"tags", tags}};
  PutOptional(j, "size_gt", rule.filter.size_greater_than);
  PutOptional(j, "size_lt", rule.filter.size_less_than);
  PutOptional(j, "days", rule.expiration_days);
  PutOptional(j, "date_ms", rule.expiration_date_ms);
  PutOptional(j, "delete_marker", rule.expired_object_delete_marker);
  PutOptional(j, "noncurrent_days", rule.noncurrent_days);
  PutOptional(j, "newer_noncurrent", rule.newer_noncurrent_versions);
  PutOptional(j, "abort_days", rule.abort_incomplete_days);
  return j;
}

LifecycleRule RuleFromJson(const nlohmann::json& j) {
  LifecycleRule rule;
  rule.id = j.at("id").get<std::string>();
  rule.enabled = j.at("enabled").get<bool>();
  rule.legacy_prefix = j.at("legacy_prefix").get<bool>();
  rule.filter.prefix = j.at("prefix").get<std::string>();
  for (const auto& tag : j.at("tags")) {
    rule.filter.tags.emplace_back(tag.at(0).get<std::string>(), tag.at(1).get<std::string>());
  }
  GetOptional(j, "size_gt", rule.filter.size_greater_than);
  GetOptional(j, "size_lt", rule.filter.size_less_than);
  GetOptional(j, "days", rule.expiration_days);
  GetOptional(j, "date_ms", rule.expiration_date_ms);
  GetOptional(j, "delete_marker", rule.expired_object_delete_marker);
  GetOptional(j, "noncurrent_days", rule.noncurrent_days);
  GetOptional(j, "newer_noncurrent", rule.newer_noncurrent_versions);
  GetOptional(j, "abort_days", rule.abort_incomplete_days);
  return rule;
}

}  // namespace

Status ValidateLifecycle(const LifecycleConfiguration& config) {
  if (config.rules.empty()) return Refused("MalformedXML", "A lifecycle configuration has no Rule");
  if (config.rules.size() > kMaxLifecycleRules) {
    return Refused("InvalidRequest", "A lifecycle configuration can have at most 1000 rules");
  }
  std::set<std::string> ids;
  for (const LifecycleRule& rule : config.rules) {
    IMGBATCH_RETURN_IF_ERROR(ValidateRule(rule));
    if (!ids.insert(rule.id).second) {
      return Refused("InvalidArgument",
                     "Rule ID must be unique. Found same ID for more than one rule");
    }
  }
  return Status::Ok();
}

void AssignLifecycleRuleIds(LifecycleConfiguration& config) {
  // S3 makes up a 48-character ID; base64 of 36 random bytes is as long.
  for (LifecycleRule& rule : config.rules) {
    if (rule.id.empty()) rule.id = Base64Encode(RandomBytes(36));
  }
}

bool LifecycleRuleMatches(const LifecycleRule& rule, const ObjectMeta& meta) {
  const LifecycleFilter& f = rule.filter;
  if (!meta.key.starts_with(f.prefix)) return false;
  if (f.size_greater_than && !(meta.size > *f.size_greater_than)) return false;
  if (f.size_less_than && !(meta.size < *f.size_less_than)) return false;
  return std::all_of(f.tags.begin(), f.tags.end(),
                     [&](const auto& tag) { return HasTag(meta.tags, tag); });
}

std::optional<int64_t> ExpiryTime(const LifecycleRule& rule, int64_t last_modified_ms) {
  if (rule.expiration_date_ms) return *rule.expiration_date_ms;
  if (rule.expiration_days) {
    return MidnightAtOrAfter(last_modified_ms + *rule.expiration_days * kDayMs);
  }
  return std::nullopt;
}

std::optional<int64_t> AbortTime(const LifecycleRule& rule, int64_t initiated_ms) {
  if (!rule.abort_incomplete_days) return std::nullopt;
  return MidnightAtOrAfter(initiated_ms + *rule.abort_incomplete_days * kDayMs);
}

std::optional<ScheduledAction> ObjectExpiration(const LifecycleConfiguration& config,
                                                const ObjectMeta& meta) {
  return Earliest(config, [&](const LifecycleRule& rule) -> std::optional<int64_t> {
    if (!LifecycleRuleMatches(rule, meta)) return std::nullopt;
    return ExpiryTime(rule, meta.last_modified_ms);
  });
}

std::optional<ScheduledAction> UploadAbort(const LifecycleConfiguration& config,
                                           const std::string& key, int64_t initiated_ms) {
  return Earliest(config, [&](const LifecycleRule& rule) -> std::optional<int64_t> {
    if (!key.starts_with(rule.filter.prefix)) return std::nullopt;
    return AbortTime(rule, initiated_ms);
  });
}

std::string EncodeLifecycle(const LifecycleConfiguration& config) {
  nlohmann::json rules = nlohmann::json::array();
  for (const LifecycleRule& rule : config.rules) rules.push_back(RuleToJson(rule));
  return nlohmann::json{{"version", 1}, {"rules", rules}}.dump();
}

std::optional<LifecycleConfiguration> DecodeLifecycle(const std::string& document) {
  try {
    nlohmann::json j = nlohmann::json::parse(document);
    if (j.at("version").get<int>() != 1) return std::nullopt;
    LifecycleConfiguration config;
    for (const auto& rule : j.at("rules")) config.rules.push_back(RuleFromJson(rule));
    return config;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace imgbatch::store
