// Queue-level operations: create, look up, list, delete, attributes, tags,
// purge, dead-letter sources and message move tasks.
#include <algorithm>
#include <array>
#include <set>

#include "common/hashing.h"
#include "common/strings.h"
#include "sqs/ops.h"
#include "sqs/queue_policy.h"

namespace imgbatch::sqs {
namespace {

constexpr int64_t kMaxListResults = 1000;

// Attribute names GetQueueAttributes accepts (FIFO and KMS ones are valid
// names that a standard queue without encryption keys simply does not return).
const std::set<std::string, std::less<>>& KnownQueueAttributes() {
  static const std::set<std::string, std::less<>> kNames = {"All",
                                                            "Policy",
                                                            "VisibilityTimeout",
                                                            "MaximumMessageSize",
                                                            "MessageRetentionPeriod",
                                                            "ApproximateNumberOfMessages",
                                                            "ApproximateNumberOfMessagesNotVisible",
                                                            "CreatedTimestamp",
                                                            "LastModifiedTimestamp",
                                                            "QueueArn",
                                                            "ApproximateNumberOfMessagesDelayed",
                                                            "DelaySeconds",
                                                            "ReceiveMessageWaitTimeSeconds",
                                                            "RedrivePolicy",
                                                            "FifoQueue",
                                                            "ContentBasedDeduplication",
                                                            "KmsMasterKeyId",
                                                            "KmsDataKeyReusePeriodSeconds",
                                                            "DeduplicationScope",
                                                            "FifoThroughputLimit",
                                                            "RedriveAllowPolicy",
                                                            "SqsManagedSseEnabled"};
  return kNames;
}

// Pages a sorted list of names: NextToken is the base64 of the last name sent.
Result<Json> PageOfUrls(const Context& ctx, const std::vector<std::string>& names,
                        std::string_view member) {
  IMGBATCH_ASSIGN_OR_RETURN(auto max_results, OptionalInt(ctx.params(), "MaxResults"));
  IMGBATCH_ASSIGN_OR_RETURN(auto token, OptionalString(ctx.params(), "NextToken"));
  if (max_results && (*max_results < 1 || *max_results > kMaxListResults)) {
    return InvalidParameterValue("Value " + std::to_string(*max_results) +
                                 " for parameter MaxResults is invalid. Reason: MaxResults must "
                                 "be an integer between 1 and 1000.");
  }
  auto begin = names.begin();
  if (token && !token->empty()) {
    auto after = Base64Decode(*token);
    if (!after) return InvalidParameterValue("Invalid NextToken value.");
    begin = std::upper_bound(names.begin(), names.end(), *after);
  }
  const int64_t limit = max_results.value_or(kMaxListResults);
  Json urls = Json::array();
  auto it = begin;
  for (; it != names.end() && static_cast<int64_t>(urls.size()) < limit; ++it) {
    urls.push_back(ctx.QueueUrl(*it));
  }
  Json result = Json::object();
  if (!urls.empty()) result[std::string(member)] = std::move(urls);
  if (max_results && it != names.end()) result["NextToken"] = Base64Encode(*(it - 1));
  return result;
}

Json MoveTaskJson(const queue::MoveTaskInfo& t) {
  Json j = Json::object();
  if (t.status == queue::MoveTaskStatus::kRunning) j["TaskHandle"] = t.task_handle;
  j["Status"] = queue::MoveTaskStatusName(t.status);
  j["SourceArn"] = t.source_arn;
  if (!t.destination_arn.empty()) j["DestinationArn"] = t.destination_arn;
  if (t.max_per_second) j["MaxNumberOfMessagesPerSecond"] = *t.max_per_second;
  j["ApproximateNumberOfMessagesMoved"] = t.moved;
  j["ApproximateNumberOfMessagesToMove"] = t.to_move;
  if (!t.failure_reason.empty()) j["FailureReason"] = t.failure_reason;
  j["StartedTimestamp"] = t.started_ms;
  return j;
}

// A Policy attribute must be an IAM resource policy: it is enforced
// (queue_policy.h).
Status ValidatePolicyAttribute(const std::map<std::string, std::string>& attributes) {
  auto policy = attributes.find("Policy");
  return policy == attributes.end() ? Status::Ok() : ValidateQueuePolicy(policy->second);
}

}  // namespace

Status InvalidParameterValue(std::string message) {
  return InvalidArgument(std::move(message)).WithDetail("InvalidParameterValue");
}

Status MissingParameter(std::string_view name) {
  return InvalidArgument("The request must contain the parameter " + std::string(name) + ".")
      .WithDetail("MissingParameter");
}

Result<std::optional<std::string>> OptionalString(const Json& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  return InvalidParameterValue("Value for parameter " + std::string(name) + " must be a string.");
}

Result<std::string> RequiredString(const Json& params, std::string_view name) {
  IMGBATCH_ASSIGN_OR_RETURN(auto value, OptionalString(params, name));
  if (!value) return MissingParameter(name);
  return std::move(*value);  // a message body or receipt handle: not copied twice
}

Result<std::optional<int64_t>> OptionalInt(const Json& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return std::optional<int64_t>();
  if (it->is_number_integer()) return std::optional<int64_t>(it->get<int64_t>());
  if (it->is_string()) {
    if (auto v = ParseInt(Trim(it->get<std::string>()))) return std::optional<int64_t>(*v);
  }
  return InvalidParameterValue("Value " + ScalarForMessage(*it) + " for parameter " +
                               std::string(name) + " is invalid. Reason: must be an integer.");
}

std::string ScalarForMessage(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  // A folded query parameter (DelaySeconds.1=%FF) is an object whose strings
  // may hold any bytes: dump() would throw on them.
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<std::map<std::string, std::string>> StringMap(const Json& params, std::string_view name) {
  std::map<std::string, std::string> out;
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return out;
  if (!it->is_object()) {
    return InvalidParameterValue("Value for parameter " + std::string(name) + " must be a map.");
  }
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) {
      out[k] = v.get<std::string>();
    } else {
      return InvalidParameterValue("Value for " + std::string(name) + "." + k +
                                   " must be a string.");
    }
  }
  return out;
}

Result<std::vector<std::string>> StringList(const Json& params, std::string_view name) {
  std::vector<std::string> out;
  auto it = params.find(name);
  if (it == params.end() || it->is_null()) return out;
  if (!it->is_array()) {
    return InvalidParameterValue("Value for parameter " + std::string(name) + " must be a list.");
  }
  for (const auto& v : *it) {
    if (!v.is_string()) {
      return InvalidParameterValue("Values of " + std::string(name) + " must be strings.");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::string> QueueNameFromUrl(std::string_view url, std::string_view account) {
  std::string_view path = url;
  if (auto scheme = path.find("://"); scheme != std::string_view::npos) {
    path = path.substr(scheme + 3);
    auto slash = path.find('/');
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  auto not_found = [] {
    return NotFound("The specified queue does not exist.").WithDetail("QueueDoesNotExist");
  };
  // One or two non-empty segments, viewed in place (every message operation
  // reads its queue this way, twice per request with the policy check).
  std::array<std::string_view, 2> segments;
  size_t count = 0;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view segment = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (segment.empty()) continue;
    if (count == segments.size()) return not_found();
    segments[count++] = segment;
  }
  if (count == 0) return not_found();
  if (count == 2 && segments[0] != account && segments[0] != "queue") return not_found();
  return std::string(segments[count - 1]);
}

Result<std::string> QueueNameParam(const Context& ctx) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string url, RequiredString(ctx.params(), "QueueUrl"));
  return QueueNameFromUrl(url, ctx.account);
}

void CreateQueue(Context& ctx, Reply reply) {
  auto name = RequiredString(ctx.params(), "QueueName");
  if (!name.ok()) return reply(name.status());
  auto attributes = StringMap(ctx.params(), "Attributes");
  if (!attributes.ok()) return reply(attributes.status());
  // The JSON model spells it "tags"; query requests fold Tag.N into "Tags".
  auto tags = StringMap(ctx.params(), ctx.params().contains("tags") ? "tags" : "Tags");
  if (!tags.ok()) return reply(tags.status());
  if (Status policy = ValidatePolicyAttribute(*attributes); !policy.ok()) return reply(policy);
  auto info = ctx.engine.CreateQueue(*name, *attributes, *tags);
  if (!info.ok()) return reply(info.status());
  reply(Json{{"QueueUrl", ctx.QueueUrl(info->name)}});
}

void GetQueueUrl(Context& ctx, Reply reply) {
  auto name = RequiredString(ctx.params(), "QueueName");
  if (!name.ok()) return reply(name.status());
  auto owner = OptionalString(ctx.params(), "QueueOwnerAWSAccountId");
  if (!owner.ok()) return reply(owner.status());
  if (*owner && **owner != ctx.account) {
    return reply(NotFound("The specified queue does not exist.").WithDetail("QueueDoesNotExist"));
  }
  auto info = ctx.engine.GetQueue(*name);
  if (!info.ok()) return reply(info.status());
  reply(Json{{"QueueUrl", ctx.QueueUrl(info->name)}});
}

void ListQueues(Context& ctx, Reply reply) {
  auto prefix = OptionalString(ctx.params(), "QueueNamePrefix");
  if (!prefix.ok()) return reply(prefix.status());
  reply(PageOfUrls(ctx, ctx.engine.ListQueues(prefix->value_or("")), "QueueUrls"));
}

void DeleteQueue(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  Status st = ctx.engine.DeleteQueue(*name);
  if (!st.ok()) return reply(st);
  reply(Json::object());
}

void GetQueueAttributes(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto wanted = StringList(ctx.params(), "AttributeNames");
  if (!wanted.ok()) return reply(wanted.status());
  for (const auto& a : *wanted) {
    if (!KnownQueueAttributes().count(a)) {
      return reply(
          InvalidArgument("Unknown Attribute " + a + ".").WithDetail("InvalidAttributeName"));
    }
  }
  auto all = ctx.engine.GetAttributes(*name);
  if (!all.ok()) return reply(all.status());
  const bool everything = std::find(wanted->begin(), wanted->end(), "All") != wanted->end();
  Json attributes = Json::object();
  for (const auto& [k, v] : *all) {
    if (everything || std::find(wanted->begin(), wanted->end(), k) != wanted->end()) {
      attributes[k] = v;
    }
  }
  Json result = Json::object();
  if (!attributes.empty()) result["Attributes"] = std::move(attributes);
  reply(std::move(result));
}

void SetQueueAttributes(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  if (!ctx.params().contains("Attributes")) return reply(MissingParameter("Attributes"));
  auto attributes = StringMap(ctx.params(), "Attributes");
  if (!attributes.ok()) return reply(attributes.status());
  if (Status policy = ValidatePolicyAttribute(*attributes); !policy.ok()) return reply(policy);
  Status st = ctx.engine.SetAttributes(*name, *attributes);
  if (!st.ok()) return reply(st);
  reply(Json::object());
}

void PurgeQueue(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  Status st = ctx.engine.Purge(*name);
  if (!st.ok()) return reply(st);
  reply(Json::object());
}

void ListDeadLetterSourceQueues(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto sources = ctx.engine.DeadLetterSources(*name);
  if (!sources.ok()) return reply(sources.status());
  auto page = PageOfUrls(ctx, *sources, "queueUrls");
  if (page.ok() && !page->contains("queueUrls")) (*page)["queueUrls"] = Json::array();
  reply(std::move(page));
}

void TagQueue(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto tags = StringMap(ctx.params(), "Tags");
  if (!tags.ok()) return reply(tags.status());
  if (tags->empty()) return reply(MissingParameter("Tags"));
  Status st = ctx.engine.TagQueue(*name, *tags);
  if (!st.ok()) return reply(st);
  reply(Json::object());
}

void UntagQueue(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto keys = StringList(ctx.params(), "TagKeys");
  if (!keys.ok()) return reply(keys.status());
  if (keys->empty()) return reply(MissingParameter("TagKeys"));
  Status st = ctx.engine.UntagQueue(*name, *keys);
  if (!st.ok()) return reply(st);
  reply(Json::object());
}

void ListQueueTags(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto tags = ctx.engine.ListTags(*name);
  if (!tags.ok()) return reply(tags.status());
  Json result = Json::object();
  if (!tags->empty()) {
    Json t = Json::object();
    for (const auto& [k, v] : *tags) t[k] = v;
    result["Tags"] = std::move(t);
  }
  reply(std::move(result));
}

// The queue's access policy gets or loses a statement (enforced with every
// request on the queue, queue_policy.h; other accounts' principals never
// match a key here).
void AddPermission(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto label = RequiredString(ctx.params(), "Label");
  if (!label.ok()) return reply(label.status());
  auto accounts = StringList(ctx.params(), "AWSAccountIds");
  if (!accounts.ok()) return reply(accounts.status());
  auto actions = StringList(ctx.params(), "Actions");
  if (!actions.ok()) return reply(actions.status());
  const queue::Permission permission{*label, *accounts, *actions};
  Status st = ctx.engine.UpdatePolicy(*name, [&](std::string_view policy, std::string_view arn) {
    return queue::AddPermissionStatement(policy, arn, permission);
  });
  if (!st.ok()) return reply(st);
  reply(Json::object());
}

void RemovePermission(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto label = RequiredString(ctx.params(), "Label");
  if (!label.ok()) return reply(label.status());
  Status st = ctx.engine.UpdatePolicy(*name, [&](std::string_view policy, std::string_view) {
    return queue::RemovePermissionStatement(policy, *label);
  });
  if (!st.ok()) return reply(st);
  reply(Json::object());
}

void StartMessageMoveTask(Context& ctx, Reply reply) {
  auto source = RequiredString(ctx.params(), "SourceArn");
  if (!source.ok()) return reply(source.status());
  auto destination = OptionalString(ctx.params(), "DestinationArn");
  if (!destination.ok()) return reply(destination.status());
  auto rate = OptionalInt(ctx.params(), "MaxNumberOfMessagesPerSecond");
  if (!rate.ok()) return reply(rate.status());
  std::optional<int> per_second;
  if (*rate) per_second = static_cast<int>(std::clamp<int64_t>(**rate, -1, 100000));
  auto handle = ctx.engine.StartMoveTask(*source, destination->value_or(""), per_second);
  if (!handle.ok()) return reply(handle.status());
  reply(Json{{"TaskHandle", *handle}});
}

void ListMessageMoveTasks(Context& ctx, Reply reply) {
  auto source = RequiredString(ctx.params(), "SourceArn");
  if (!source.ok()) return reply(source.status());
  auto max = OptionalInt(ctx.params(), "MaxResults");
  if (!max.ok()) return reply(max.status());
  const int64_t n = max->value_or(1);
  auto tasks = ctx.engine.ListMoveTasks(*source, static_cast<int>(std::clamp<int64_t>(n, 0, 11)));
  if (!tasks.ok()) return reply(tasks.status());
  Json results = Json::array();
  for (const auto& t : *tasks) results.push_back(MoveTaskJson(t));
  reply(Json{{"Results", std::move(results)}});
}

void CancelMessageMoveTask(Context& ctx, Reply reply) {
  auto handle = RequiredString(ctx.params(), "TaskHandle");
  if (!handle.ok()) return reply(handle.status());
  auto moved = ctx.engine.CancelMoveTask(*handle);
  if (!moved.ok()) return reply(moved.status());
  reply(Json{{"ApproximateNumberOfMessagesMoved", *moved}});
}

}  // namespace imgbatch::sqs
