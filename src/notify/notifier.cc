#include "notify/notifier.h"

#include <set>

#include <spdlog/spdlog.h>

namespace imgbatch::notify {

Notifier::Notifier(store::ObjectStore& store, EventDestination& destination, EventSource source,
                   Clock& clock)
    : store_(store), destination_(destination), source_(std::move(source)), clock_(clock) {}

void Notifier::SetRecursionGuard(RecursionGuard guard) {
  std::lock_guard lock(mu_);
  guard_ = std::move(guard);
}

Status Notifier::LoadAll() {
  IMGBATCH_ASSIGN_OR_RETURN(auto buckets, store_.ListBuckets());
  std::map<std::string, NotificationConfiguration> loaded;
  for (const auto& b : buckets) {
    auto doc = store_.GetBucketConfig(b.name, kConfigName);
    if (!doc.ok()) {
      if (doc.status().code() == Code::kNotFound) continue;
      return doc.status();
    }
    IMGBATCH_ASSIGN_OR_RETURN(loaded[b.name], FromJson(*doc));
  }
  std::lock_guard lock(mu_);
  configs_ = std::move(loaded);
  return Status::Ok();
}

Status Notifier::OnObjectEvent(db::Txn& txn, const store::ObjectEvent& event) {
  std::vector<std::pair<std::string, std::string>> messages;  // queue arn, body
  {
    std::lock_guard lock(mu_);
    auto it = configs_.find(event.meta.bucket);
    if (it == configs_.end()) return Status::Ok();
    for (const QueueConfiguration* q : Matching(it->second, event.kind, event.meta.key)) {
      messages.emplace_back(q->queue_arn, RenderRecord(event, q->id, source_));
    }
  }
  for (const auto& [arn, body] : messages) {
    Status sent = destination_.EnqueueInTransaction(txn, arn, body);
    // A queue deleted after the configuration named it: as on AWS, the
    // upload succeeds and its event is dropped (counted and logged), or one
    // deleted queue would make the bucket unwritable.
    if (sent.code() == Code::kNotFound) {
      CountDropped(arn, sent);
      continue;
    }
    // Any other failure fails the object's whole transaction: never an
    // object without its event.
    IMGBATCH_RETURN_IF_ERROR(sent);
  }
  return Status::Ok();
}

void Notifier::CountDropped(const std::string& arn, const Status& why) {
  int64_t n;
  {
    std::lock_guard lock(mu_);
    n = ++dropped_[arn];
  }
  // The first drop, then every thousandth: a busy bucket would flood the log.
  if (n == 1 || n % 1000 == 0) {
    spdlog::warn("notification: {} event(s) dropped for {}, whose queue does not exist ({})", n,
                 arn, why.ToString());
  }
}

std::map<std::string, int64_t> Notifier::DroppedEvents() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

Result<Notifier::ReprocessCounts> Notifier::Reprocess(const std::string& bucket,
                                                      const std::string& prefix,
                                                      const store::Caller& caller) {
  IMGBATCH_RETURN_IF_ERROR(store_.GetBucket(bucket).status());
  NotificationConfiguration config;
  {
    std::lock_guard lock(mu_);
    auto it = configs_.find(bucket);
    if (it != configs_.end()) config = it->second;
  }
  ReprocessCounts counts;
  store::ListRequest page;
  page.prefix = prefix;
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(store::ListResult listed, store_.ListObjects(bucket, page));
    for (const store::ObjectMeta& meta : listed.objects) {
      ++counts.objects;
      store::ObjectEvent event{store::ObjectEventKind::kPut, meta, caller, clock_.NowMillis()};
      for (const QueueConfiguration* q : Matching(config, event.kind, meta.key)) {
        IMGBATCH_RETURN_IF_ERROR(
            destination_.Enqueue(q->queue_arn, RenderRecord(event, q->id, source_)));
        ++counts.messages;
      }
    }
    if (!listed.truncated) break;
    page.start_after = listed.next_marker;
  }
  return counts;
}

Status Notifier::PutConfiguration(const std::string& bucket, NotificationConfiguration config,
                                  const std::string& request_id) {
  // One change at a time: the stored configuration and the cache that routes
  // events must end up the same when two PUTs race.
  std::lock_guard change(change_mu_);
  IMGBATCH_RETURN_IF_ERROR(store_.GetBucket(bucket).status());
  IMGBATCH_RETURN_IF_ERROR(Validate(config));
  std::vector<std::string> unknown;
  for (const auto& q : config.queues) {
    if (!destination_.Exists(q.queue_arn)) unknown.push_back(q.queue_arn);
  }
  if (!unknown.empty()) {
    std::string list;
    for (const auto& arn : unknown) list += (list.empty() ? "" : ", ") + arn;
    return Status(Code::kInvalidArgument,
                  "Unable to validate the following destination configurations: " + list)
        .WithDetail("InvalidArgument");
  }
  RecursionGuard guard;
  {
    std::lock_guard lock(mu_);
    guard = guard_;
  }
  if (guard) IMGBATCH_RETURN_IF_ERROR(guard(bucket, config));

  // Keep the ids of configurations that did not change; generate the rest.
  NotificationConfiguration previous;
  {
    std::lock_guard lock(mu_);
    if (auto it = configs_.find(bucket); it != configs_.end()) previous = it->second;
  }
  AssignIds(config);
  if (config.queues.empty()) {
    Status st = store_.DeleteBucketConfig(bucket, kConfigName);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  } else {
    IMGBATCH_RETURN_IF_ERROR(store_.PutBucketConfig(bucket, kConfigName, ToJson(config)));
  }
  {
    std::lock_guard lock(mu_);
    if (config.queues.empty())
      configs_.erase(bucket);
    else
      configs_[bucket] = config;
  }
  // S3 checks new or changed destinations with a test message.
  std::set<std::string> tested;
  for (const auto& q : config.queues) {
    bool unchanged = false;
    for (const auto& p : previous.queues) unchanged = unchanged || p == q;
    if (unchanged || !tested.insert(q.queue_arn).second) continue;
    IMGBATCH_RETURN_IF_ERROR(
        destination_.Enqueue(q.queue_arn, RenderTestEvent(bucket, clock_.NowMillis(), request_id)));
  }
  return Status::Ok();
}

Result<NotificationConfiguration> Notifier::GetConfiguration(const std::string& bucket) {
  IMGBATCH_RETURN_IF_ERROR(store_.GetBucket(bucket).status());
  std::lock_guard lock(mu_);
  auto it = configs_.find(bucket);
  if (it == configs_.end()) return NotificationConfiguration{};
  return it->second;
}

}  // namespace imgbatch::notify
