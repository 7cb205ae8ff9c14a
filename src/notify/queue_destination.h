// QueueDestination: notify's EventDestination over the queue engine — event
// messages for queue ARNs of this server's region and account.
// Thread-safety: thread-safe (the engine is).
#pragma once

#include "notify/notifier.h"
#include "queue/queue_engine.h"

namespace imgbatch::notify {

class QueueDestination final : public EventDestination {
 public:
  explicit QueueDestination(queue::QueueEngine& engine) : engine_(engine) {}
  bool Exists(const std::string& queue_arn) override;
  Status EnqueueInTransaction(db::Txn& txn, const std::string& queue_arn,
                              const std::string& body) override;
  Status Enqueue(const std::string& queue_arn, const std::string& body) override;

 private:
  Result<std::string> NameOf(const std::string& queue_arn) const;
  queue::QueueEngine& engine_;
};

}  // namespace imgbatch::notify
