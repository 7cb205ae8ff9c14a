// Notifier: S3 bucket notifications to queues. It is the store's
// ObjectEventSink: for each committed object change it renders the AWS event
// and enqueues it *inside the same database transaction* as the object, so an
// acknowledged object always has its event and no event exists for an object
// that was not created. It also owns the bucket configurations
// (Put/GetBucketNotificationConfiguration semantics: validation, generated
// ids, the s3:TestEvent to new or changed destinations).
//
// Thread-safety: thread-safe. OnObjectEvent runs on the database writer
// thread and only touches the in-memory configuration cache and the
// transaction. Lifecycle: construct, LoadAll() at start-up, then set as the
// store's sink; destination and store outlive it.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "db/database.h"
#include "notify/event_json.h"
#include "notify/notification_config.h"
#include "store/object_store.h"

namespace imgbatch::notify {

// Where event messages go (the queue engine, adapted by the server).
class EventDestination {
 public:
  virtual ~EventDestination() = default;
  // Whether events can go to the queue (it exists and is not FIFO).
  virtual bool Exists(const std::string& queue_arn) = 0;
  // Adds a message inside the caller's transaction (visible once it commits).
  virtual Status EnqueueInTransaction(db::Txn& txn, const std::string& queue_arn,
                                      const std::string& body) = 0;
  // Sends a message on its own (durable when it returns).
  virtual Status Enqueue(const std::string& queue_arn, const std::string& body) = 0;
};

// Refuses configurations whose events the pipeline's own outputs would
// trigger again (set by the server from its output configuration).
using RecursionGuard =
    std::function<Status(const std::string& bucket, const NotificationConfiguration& config)>;

class Notifier final : public store::ObjectEventSink {
 public:
  static constexpr char kConfigName[] = "notification";

  Notifier(store::ObjectStore& store, EventDestination& destination, EventSource source,
           Clock& clock = SystemClock::Instance());

  void SetRecursionGuard(RecursionGuard guard);
  // Loads every bucket's stored configuration into the cache.
  Status LoadAll();

  Status OnObjectEvent(db::Txn& txn, const store::ObjectEvent& event) override;

  // Validates, stores and caches; sends s3:TestEvent to each destination
  // whose configuration is new or changed (not at every start). An empty
  // configuration removes notifications. Errors: kNotFound (NoSuchBucket),
  // kInvalidArgument (detail "InvalidArgument", AWS's messages).
  Status PutConfiguration(const std::string& bucket, NotificationConfiguration config,
                          const std::string& request_id);
  Result<NotificationConfiguration> GetConfiguration(const std::string& bucket);

  // The operator's "reprocess": an ObjectCreated:Put event, rendered as for
  // a fresh upload, for every object under prefix in bucket, sent to the
  // queues the bucket's configuration routes that key to. Objects no
  // configuration matches send nothing. Sent page by page as listed (each
  // message durable when sent); not atomic with anything -- the events are
  // re-deliveries of objects that already exist. Errors: kNotFound
  // (NoSuchBucket), the destination's errors.
  struct ReprocessCounts {
    int64_t objects = 0;   // objects listed under the prefix
    int64_t messages = 0;  // event messages sent
  };
  Result<ReprocessCounts> Reprocess(const std::string& bucket, const std::string& prefix,
                                    const store::Caller& caller);

  // Events not sent because their destination queue no longer exists, by
  // the destination's ARN, since the start (AWS drops them the same way; the
  // object is stored regardless).
  std::map<std::string, int64_t> DroppedEvents() const;

 private:
  void CountDropped(const std::string& arn, const Status& why);

  store::ObjectStore& store_;
  EventDestination& destination_;
  EventSource source_;
  Clock& clock_;
  RecursionGuard guard_;
  std::mutex change_mu_;  // held through a whole PutConfiguration
  mutable std::mutex mu_;
  std::map<std::string, NotificationConfiguration> configs_;  // by bucket
  std::map<std::string, int64_t> dropped_;                    // by destination ARN
};

}  // namespace imgbatch::notify
