#include "notify/notification_config.h"

#include <nlohmann/json.hpp>
#include <set>

#include "common/hashing.h"

namespace imgbatch::notify {
namespace {

constexpr std::string_view kEventTypes[] = {
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
};

Status Invalid(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message)).WithDetail("InvalidArgument");
}

// Two prefix rules overlap when one is a prefix of the other ("" matches all);
// two suffix rules when one is a suffix of the other.
bool PrefixesOverlap(std::string_view a, std::string_view b) {
  return a.starts_with(b) || b.starts_with(a);
}
bool SuffixesOverlap(std::string_view a, std::string_view b) {
  return a.ends_with(b) || b.ends_with(a);
}

bool EventTypesOverlap(const QueueConfiguration& a, const QueueConfiguration& b) {
  for (const auto& x : a.events) {
    for (const auto& y : b.events) {
      std::string_view xs = x, ys = y;
      if (xs == ys) return true;
      // "s3:ObjectCreated:*" covers every "s3:ObjectCreated:..." type.
      auto family = [](std::string_view t) { return t.substr(0, t.rfind(':')); };
      if ((xs.ends_with(":*") || ys.ends_with(":*")) && family(xs) == family(ys)) return true;
    }
  }
  return false;
}

}  // namespace

std::string EventName(store::ObjectEventKind kind) {
  switch (kind) {
    case store::ObjectEventKind::kPut:
      return "ObjectCreated:Put";
    case store::ObjectEventKind::kPost:
      return "ObjectCreated:Post";
    case store::ObjectEventKind::kCopy:
      return "ObjectCreated:Copy";
    case store::ObjectEventKind::kCompleteMultipartUpload:
      return "ObjectCreated:CompleteMultipartUpload";
    case store::ObjectEventKind::kDelete:
      return "ObjectRemoved:Delete";
    case store::ObjectEventKind::kTaggingPut:
      return "ObjectTagging:Put";
    case store::ObjectEventKind::kTaggingDelete:
      return "ObjectTagging:Delete";
    case store::ObjectEventKind::kLifecycleExpiration:
      return "LifecycleExpiration:Delete";
  }
  return "";
}

bool IsKnownEventType(std::string_view configured) {
  for (std::string_view t : kEventTypes) {
    if (t == configured) return true;
  }
  return false;
}

bool EventTypeMatches(std::string_view configured, std::string_view event_name) {
  if (!configured.starts_with("s3:")) return false;
  configured.remove_prefix(3);
  if (configured == event_name) return true;
  if (configured.ends_with(":*")) {
    std::string_view family = configured.substr(0, configured.size() - 1);  // "ObjectCreated:"
    return event_name.starts_with(family);
  }
  return false;
}

Status Validate(const NotificationConfiguration& config) {
  std::set<std::string> ids;
  for (const auto& q : config.queues) {
    if (q.queue_arn.empty()) return Invalid("A QueueConfiguration has no Queue ARN");
    if (q.events.empty()) return Invalid("A QueueConfiguration has no Event");
    for (const auto& e : q.events) {
      if (!IsKnownEventType(e))
        return Invalid("The event is not supported for notifications: " + e);
    }
    if (!q.id.empty() && !ids.insert(q.id).second) {
      return Invalid("Same ID used for multiple configurations: " + q.id);
    }
  }
  for (size_t i = 0; i < config.queues.size(); ++i) {
    for (size_t j = i + 1; j < config.queues.size(); ++j) {
      const auto& a = config.queues[i];
      const auto& b = config.queues[j];
      if (EventTypesOverlap(a, b) && PrefixesOverlap(a.prefix, b.prefix) &&
          SuffixesOverlap(a.suffix, b.suffix)) {
        return Invalid(
            "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules "
            "if the prefixes are overlapping for the same event type.");
      }
    }
  }
  return Status::Ok();
}

void AssignIds(NotificationConfiguration& config) {
  for (auto& q : config.queues) {
    if (q.id.empty()) q.id = "notification-" + RandomHex(8);
  }
}

std::vector<const QueueConfiguration*> Matching(const NotificationConfiguration& config,
                                                store::ObjectEventKind kind, std::string_view key) {
  std::string name = EventName(kind);
  std::vector<const QueueConfiguration*> out;
  for (const auto& q : config.queues) {
    if (!key.starts_with(q.prefix) || !key.ends_with(q.suffix)) continue;
    for (const auto& e : q.events) {
      if (EventTypeMatches(e, name)) {
        out.push_back(&q);
        break;
      }
    }
  }
  return out;
}

std::string ToJson(const NotificationConfiguration& config) {
  nlohmann::json queues = nlohmann::json::array();
  for (const auto& q : config.queues) {
    queues.push_back({{"id", q.id},
                      {"queue_arn", q.queue_arn},
                      {"events", q.events},
                      {"prefix", q.prefix},
                      {"suffix", q.suffix}});
  }
  return nlohmann::json{{"queues", queues}}.dump();
}

Result<NotificationConfiguration> FromJson(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status(Code::kCorruption, "stored notification configuration is not JSON");
  }
  NotificationConfiguration config;
  try {
    for (const auto& q : doc.value("queues", nlohmann::json::array())) {
      config.queues.push_back({q.at("id").get<std::string>(), q.at("queue_arn").get<std::string>(),
                               q.at("events").get<std::vector<std::string>>(),
                               q.value("prefix", ""), q.value("suffix", "")});
    }
  } catch (const nlohmann::json::exception& e) {
    return Status(Code::kCorruption, std::string("stored notification configuration: ") + e.what());
  }
  return config;
}

}  // namespace imgbatch::notify
