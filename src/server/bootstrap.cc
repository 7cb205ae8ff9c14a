#include "server/bootstrap.h"

#include <map>
#include <nlohmann/json.hpp>

#include "common/hashing.h"
#include "queue/queue_config.h"
#include "s3/bucket_policy.h"
#include "s3/s3_service.h"
#include "server/data_dir.h"
#include "server/root_key.h"
#include "sqs/queue_policy.h"

namespace imgbatch::server {
namespace {

queue::AttributeMap QueueAttributes(const QueueSpec& q, const std::string& region,
                                    const std::string& account) {
  queue::AttributeMap a = {
      {"VisibilityTimeout", std::to_string(q.visibility_timeout)},
      {"MessageRetentionPeriod", std::to_string(q.message_retention)},
      {"ReceiveMessageWaitTimeSeconds", std::to_string(q.receive_wait)},
  };
  if (!q.policy_json.empty()) a["Policy"] = q.policy_json;
  if (!q.dead_letter_queue.empty()) {
    a["RedrivePolicy"] = nlohmann::json{{"deadLetterTargetArn",
                                         queue::QueueArn(region, account, q.dead_letter_queue)},
                                        {"maxReceiveCount", q.max_receive_count}}
                             .dump();
  }
  return a;
}

Status EnsureQueue(queue::QueueEngine& queues, const QueueSpec& q, const std::string& region,
                   const std::string& account) {
  if (!q.policy_json.empty()) {
    Status valid = sqs::ValidateQueuePolicy(q.policy_json);
    if (!valid.ok()) return InvalidArgument("queue '" + q.name + "' policy: " + valid.message());
  }
  auto attributes = QueueAttributes(q, region, account);
  if (queues.GetQueue(q.name).ok()) return queues.SetAttributes(q.name, attributes);
  return queues.CreateQueue(q.name, attributes, {}).status();
}

store::LifecycleRule StoreRule(const LifecycleRuleSpec& spec) {
  store::LifecycleRule rule;
  rule.id = spec.id;
  rule.filter.prefix = spec.prefix;
  rule.expiration_days = spec.expiration_days;
  rule.abort_incomplete_days = spec.abort_incomplete_days;
  return rule;
}

Status ApplyLifecycleRules(const Config& config, store::ObjectStore& store) {
  std::map<std::string, store::LifecycleConfiguration> by_bucket;
  for (const auto& rule : config.lifecycle.rules) {
    std::vector<store::LifecycleRule>& rules = by_bucket[rule.bucket].rules;
    rules.push_back(StoreRule(rule));
    // The same id at every start, so that an unchanged file changes nothing.
    if (rules.back().id.empty()) rules.back().id = "imgbatch-" + std::to_string(rules.size());
  }
  for (auto& [bucket, lifecycle] : by_bucket) {
    Status put = store.PutBucketLifecycle(bucket, std::move(lifecycle));
    if (!put.ok())
      return InvalidArgument("lifecycle rules of bucket '" + bucket + "': " + put.message());
  }
  return Status::Ok();
}

}  // namespace

Status ApplyBucketSettings(const Config& config, store::ObjectStore& store,
                           const std::string& account_id,
                           const std::function<bool(std::string_view)>& user_exists) {
  s3::BucketPolicies policies(store, account_id, s3::kDefaultOwnerId);
  // The bucket's public access block (BlockPublicPolicy) is not consulted: it
  // guards against clients, and the file is the operator's.
  for (const auto& spec : config.bucket_policies) {
    s3::PolicyScope scope{spec.bucket, account_id, s3::kDefaultOwnerId, user_exists};
    Result<auth::Policy> policy = s3::ParseBucketPolicy(spec.policy_json, scope);
    if (!policy.ok()) {
      return InvalidArgument("bucket '" + spec.bucket + "' policy: " + policy.status().message());
    }
    IMGBATCH_RETURN_IF_ERROR(policies.Put(spec.bucket, spec.policy_json));
  }
  return ApplyLifecycleRules(config, store);
}

Status ApplyConfig(const Config& config, store::ObjectStore& store, queue::QueueEngine& queues,
                   notify::Notifier& notifier, const std::string& region) {
  for (const auto& bucket : config.buckets) {
    Status st = store.CreateBucket(bucket, region);
    if (!st.ok() && st.code() != Code::kAlreadyExists) return st;
  }
  const std::string& account = queues.options().account;
  // Dead-letter queues first: a RedrivePolicy must name an existing queue.
  for (bool dead_letter_pass : {true, false}) {
    for (const auto& q : config.queues) {
      if (q.dead_letter_queue.empty() != dead_letter_pass) continue;
      IMGBATCH_RETURN_IF_ERROR(EnsureQueue(queues, q, region, account));
    }
  }
  std::map<std::string, notify::NotificationConfiguration> by_bucket;
  for (const auto& n : config.notifications) {
    by_bucket[n.bucket].queues.push_back(
        {n.id, queue::QueueArn(region, account, n.queue), n.events, n.prefix, n.suffix});
  }
  for (auto& [bucket, notification] : by_bucket) {
    IMGBATCH_RETURN_IF_ERROR(notifier.PutConfiguration(bucket, notification, "imgbatch-up"));
  }
  return Status::Ok();
}

namespace {

// Whether a notification sends the worker's queue ObjectRemoved events of its
// input bucket: the worker then deletes those inputs' outputs.
bool WorkerHearsOfRemovals(const Config& config) {
  const WorkerSpec& w = config.workers;
  for (const NotificationSpec& n : config.notifications) {
    if (n.bucket != w.input_bucket || n.queue != w.queue) continue;
    for (const std::string& event : n.events) {
      if (event.starts_with("s3:ObjectRemoved")) return true;
    }
  }
  return false;
}

}  // namespace

auth::Policy WorkerPolicy(const Config& config, const std::string& region,
                          const std::string& account) {
  const WorkerSpec& w = config.workers;
  auth::Policy p;
  auto s3 = [](const std::string& bucket, const std::string& suffix = "") {
    return "arn:aws:s3:::" + bucket + suffix;
  };
  p.statements.push_back({true, {"s3:GetObject"}, {s3(w.input_bucket, "/*")}});
  p.statements.push_back({true, {"s3:ListBucket"}, {s3(w.input_bucket)}});
  p.statements.push_back({true, {"s3:PutObject", "s3:GetObject"}, {s3(w.output_bucket, "/*")}});
  if (WorkerHearsOfRemovals(config)) {
    p.statements.push_back({true, {"s3:DeleteObject"}, {s3(w.output_bucket, "/*")}});
  }
  p.statements.push_back({true,
                          {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                           "sqs:GetQueueUrl", "sqs:GetQueueAttributes"},
                          {queue::QueueArn(region, account, w.queue)}});
  if (!w.dead_letter_queue.empty()) {
    p.statements.push_back({true,
                            {"sqs:SendMessage", "sqs:GetQueueUrl"},
                            {queue::QueueArn(region, account, w.dead_letter_queue)}});
  }
  return p;
}

Result<auth::AccessKey> LoadOrCreateKey(const std::string& data_dir, const std::string& file,
                                        const std::string& name) {
  std::string path = data_dir + "/" + file;
  auto key = ReadKeyFile(path);
  if (!key.ok() && key.status().code() == Code::kNotFound) key = CreateKeyFile(path);
  if (!key.ok()) return key.status();
  auth::AccessKey out;
  out.access_key_id = key->access_key_id;
  out.secret_access_key = key->secret_access_key;
  out.name = name;
  return out;
}

Result<std::string> LoadOrCreateToken(const std::string& data_dir) {
  std::string path = data_dir + "/dashboard-token";
  if (auto text = ReadSmallFile(path); text.ok() && text->size() >= 32) {
    return std::string(text->substr(0, text->find_first_of("\r\n")));
  }
  std::string token = RandomHex(24);
  IMGBATCH_RETURN_IF_ERROR(WriteFileAtomically(path, token + "\n", 0600));
  return token;
}

notify::RecursionGuard MakeRecursionGuard(const Config& config) {
  return [config](const std::string& bucket,
                  const notify::NotificationConfiguration& notification) -> Status {
    if (bucket != config.workers.output_bucket) return Status::Ok();
    for (const auto& q : notification.queues) {
      // Only the workers' own queue feeds outputs back in; another queue
      // (someone watching for finished outputs) is fine.
      if (!q.queue_arn.ends_with(":" + config.workers.queue)) continue;
      bool created = false;
      for (const auto& e : q.events) created = created || e.starts_with("s3:ObjectCreated");
      if (!created) continue;
      for (const auto& o : config.outputs) {
        if (o.prefix.starts_with(q.prefix) || q.prefix.starts_with(o.prefix)) {
          return Status(Code::kInvalidArgument,
                        "This configuration would re-trigger itself: the workers write '" +
                            o.prefix + "' into bucket '" + bucket + "', which the filter of '" +
                            q.id + "' matches")
              .WithDetail("InvalidArgument");
        }
      }
    }
    return Status::Ok();
  };
}

}  // namespace imgbatch::server
