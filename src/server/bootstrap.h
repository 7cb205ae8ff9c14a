// Bootstrap: makes the declared resources exist at start-up — buckets with
// their policies and lifecycle rules, queues with their redrive and access
// policies, bucket notifications — idempotently
// (an unchanged configuration changes nothing and sends no TestEvent), and
// derives the keys the server hands out: the least-privilege worker key and
// the dashboard/API token. Called once from `up` before serving.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "auth/policy.h"
#include "common/status.h"
#include "notify/notifier.h"
#include "queue/queue_engine.h"
#include "server/config.h"
#include "store/object_store.h"

namespace imgbatch::server {

Status ApplyConfig(const Config& config, store::ObjectStore& store, queue::QueueEngine& queues,
                   notify::Notifier& notifier, const std::string& region);
// The declared bucket policies and lifecycle rules, each checked as
// PutBucketPolicy / PutBucketLifecycleConfiguration check theirs (an error
// names the bucket). After the keys are registered: a policy may name a key's
// user (user_exists). A bucket with declared rules gets exactly those.
Status ApplyBucketSettings(const Config& config, store::ObjectStore& store,
                           const std::string& account_id,
                           const std::function<bool(std::string_view)>& user_exists);

// DESIGN.md's worker policy: s3:GetObject + s3:ListBucket on the input
// bucket, s3:PutObject + s3:GetObject on the output bucket, receive / delete /
// change visibility / GetQueueUrl / GetQueueAttributes on the queue,
// SendMessage + GetQueueUrl on the dead-letter queue. Nothing else -- except
// s3:DeleteObject on the output bucket when a notification sends the worker's
// queue ObjectRemoved events (the worker then deletes removed inputs' outputs).
auth::Policy WorkerPolicy(const Config& config, const std::string& region,
                          const std::string& account);

// A key kept in <data_dir>/<file> (created 0600 on first use).
Result<auth::AccessKey> LoadOrCreateKey(const std::string& data_dir, const std::string& file,
                                        const std::string& name);
// The dashboard / API token, kept in <data_dir>/dashboard-token.
Result<std::string> LoadOrCreateToken(const std::string& data_dir);

// Refuses notification configurations on the output bucket that the
// workers' own outputs would trigger (for PutBucketNotificationConfiguration):
// ObjectCreated into the workers' queue with a filter an output key matches.
// Other queues may watch the outputs.
notify::RecursionGuard MakeRecursionGuard(const Config& config);

}  // namespace imgbatch::server
