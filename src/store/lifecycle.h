// S3 lifecycle configuration as the store keeps and applies it: the rules of
// one bucket (expire current objects some days after they were written or
// from a date on; abort multipart uploads left incomplete), their validation
// with S3's error codes, when a rule expires an object, and the stored
// encoding. Pure functions; no I/O; thread-safe. The store's
// ApplyLifecycle runs them (object_store.h).
//
// Timing follows S3: an object written at T under "expire after N days" goes
// at the first midnight UTC at or after T + N days; a rule with a Date expires
// every object it matches from that midnight on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/object_store.h"

namespace imgbatch::store {

inline constexpr int64_t kDayMs = 86'400'000;
inline constexpr size_t kMaxLifecycleRules = 1000;
inline constexpr size_t kMaxLifecycleRuleIdBytes = 255;

// S3's rules for a configuration (kInvalidArgument with detail
// "InvalidArgument", "InvalidRequest", "MalformedXML" or "InvalidTag"): 1 to
// 1,000 rules with unique IDs of at most 255 bytes, each with an action;
// positive day counts; dates at midnight UTC; no tag filter on an abort
// rule; size bounds in order. Rules without an ID must be given one first
// (AssignLifecycleRuleIds).
Status ValidateLifecycle(const LifecycleConfiguration& config);
// Gives every rule without an ID a random one, as S3 does.
void AssignLifecycleRuleIds(LifecycleConfiguration& config);

// Whether the rule's filter selects an object (key, size and tags).
bool LifecycleRuleMatches(const LifecycleRule& rule, const ObjectMeta& meta);
// When the rule expires an object written at last_modified_ms (nullopt: the
// rule does not expire objects). Does not look at the filter or status.
std::optional<int64_t> ExpiryTime(const LifecycleRule& rule, int64_t last_modified_ms);
// When an upload initiated then is aborted by the rule, if it is.
std::optional<int64_t> AbortTime(const LifecycleRule& rule, int64_t initiated_ms);

// The earliest expiration of an object among the enabled rules that match it,
// and that rule's ID: what S3 reports in x-amz-expiration.
std::optional<ScheduledAction> ObjectExpiration(const LifecycleConfiguration& config,
                                                const ObjectMeta& meta);
// The earliest abort of an upload of `key` initiated then (x-amz-abort-date).
std::optional<ScheduledAction> UploadAbort(const LifecycleConfiguration& config,
                                           const std::string& key, int64_t initiated_ms);

// The stored form (JSON); Decode returns nullopt for a document it cannot read.
std::string EncodeLifecycle(const LifecycleConfiguration& config);
std::optional<LifecycleConfiguration> DecodeLifecycle(const std::string& document);

}  // namespace imgbatch::store
