#include "notify/queue_destination.h"

namespace imgbatch::notify {

Result<std::string> QueueDestination::NameOf(const std::string& queue_arn) const {
  auto name =
      queue::QueueNameFromArn(queue_arn, engine_.options().region, engine_.options().account);
  if (!name) return NotFound("not a queue of this server: " + queue_arn);
  return *name;
}

// A FIFO queue is no destination, as on AWS: an event carries no
// MessageGroupId to send it with.
bool QueueDestination::Exists(const std::string& queue_arn) {
  auto name = NameOf(queue_arn);
  if (!name.ok()) return false;
  auto queue = engine_.GetQueue(*name);
  return queue.ok() && !queue->fifo;
}

Status QueueDestination::EnqueueInTransaction(db::Txn& txn, const std::string& queue_arn,
                                              const std::string& body) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string name, NameOf(queue_arn));
  queue::SendRequest request;
  request.body = body;
  request.sender_id = "S3";
  return engine_.SendInTransaction(txn, name, std::move(request)).status();
}

Status QueueDestination::Enqueue(const std::string& queue_arn, const std::string& body) {
  IMGBATCH_ASSIGN_OR_RETURN(std::string name, NameOf(queue_arn));
  queue::SendRequest request;
  request.body = body;
  request.sender_id = "S3";
  return engine_.Send(name, std::move(request)).status();
}

}  // namespace imgbatch::notify
