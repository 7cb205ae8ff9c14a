// Bucket notification configuration (the QueueConfigurations of S3's
// PutBucketNotificationConfiguration) as values, validated the way S3 does,
// and matched against object events. The s3 adapter owns the XML; this
// module owns the rules. Pure values and functions; thread-safe.
// Reference: AWS S3 User Guide, "Configuring event notifications using object
// key name filtering" (overlap rules) and "Event notification types".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/object_store.h"

namespace imgbatch::notify {

struct QueueConfiguration {
  std::string id;  // generated when the client gives none
  std::string queue_arn;
  std::vector<std::string> events;  // "s3:ObjectCreated:*", "s3:ObjectRemoved:Delete", ...
  std::string prefix;               // filter rules; "" = no rule
  std::string suffix;
  friend bool operator==(const QueueConfiguration&, const QueueConfiguration&) = default;
};

struct NotificationConfiguration {
  std::vector<QueueConfiguration> queues;
  friend bool operator==(const NotificationConfiguration&,
                         const NotificationConfiguration&) = default;
};

// The S3 event name of a store event, without the "s3:" prefix
// ("ObjectCreated:Put").
std::string EventName(store::ObjectEventKind kind);
// Whether a configured event type ("s3:ObjectCreated:*") covers an event name.
bool EventTypeMatches(std::string_view configured, std::string_view event_name);
bool IsKnownEventType(std::string_view configured);

// S3's checks: known event types, at most one prefix and one suffix rule, ids
// unique, and no two configurations with overlapping event types whose
// prefixes overlap and whose suffixes overlap ("Configuration is ambiguously
// defined..."). Errors: kInvalidArgument with detail "InvalidArgument".
// Queue existence is checked by the caller (it knows the queues).
Status Validate(const NotificationConfiguration& config);

// Fills empty ids (S3 generates one per configuration).
void AssignIds(NotificationConfiguration& config);

// The configurations an event on `key` triggers, in configuration order.
std::vector<const QueueConfiguration*> Matching(const NotificationConfiguration& config,
                                                store::ObjectEventKind kind, std::string_view key);

// Stored form (JSON), round-tripping every field.
std::string ToJson(const NotificationConfiguration& config);
Result<NotificationConfiguration> FromJson(std::string_view json);

}  // namespace imgbatch::notify
