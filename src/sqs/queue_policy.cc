#include "sqs/queue_policy.h"

#include <spdlog/spdlog.h>

namespace imgbatch::sqs {

Status ValidateQueuePolicy(std::string_view text) {
  if (text.empty()) return Status::Ok();
  Result<auth::Policy> policy = auth::Policy::FromJson(text, auth::PolicyKind::kResource);
  if (policy.ok()) return Status::Ok();
  return InvalidArgument("Invalid value for the parameter Policy. Reason: " +
                         policy.status().message())
      .WithDetail("InvalidAttributeValue");
}

std::shared_ptr<const auth::Policy> QueuePolicies::For(std::string_view queue,
                                                       std::shared_ptr<const std::string> text) {
  if (!text || text->empty()) return nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(queue);
    if (it != cache_.end() && (it->second.text == text || *it->second.text == *text)) {
      it->second.text = std::move(text);  // the same text in the queue's settings of now
      return it->second.policy;
    }
  }
  Result<auth::Policy> parsed = auth::Policy::FromJson(*text, auth::PolicyKind::kResource);
  std::shared_ptr<const auth::Policy> policy;
  if (parsed.ok()) {
    policy = std::make_shared<const auth::Policy>(std::move(*parsed));
  } else {
    spdlog::warn("sqs: the Policy of queue {} is not an IAM policy ({}); not enforced", queue,
                 parsed.status().message());
  }
  std::lock_guard lock(mu_);
  cache_.insert_or_assign(std::string(queue), Parsed{std::move(text), policy});
  return policy;
}

}  // namespace imgbatch::sqs
