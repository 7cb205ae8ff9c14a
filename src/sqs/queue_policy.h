// Queue policies: the Policy attribute of a queue (SetQueueAttributes,
// AddPermission) as an IAM resource policy, decided with every request on the
// queue together with the caller's key policy (auth::KeyRegistry::Allowed).
//
// A Policy attribute must parse as one (InvalidAttributeValue otherwise).
// Principals of other accounts are kept, as AWS keeps AddPermission's: they
// never match a key of this server. A stored policy that does not parse was
// set before policies were checked, when none was enforced; it stays
// unenforced (and is logged once) rather than shutting the queue.
//
// Thread-safety: QueuePolicies is thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/policy.h"
#include "common/status.h"
#include "common/strings.h"

namespace imgbatch::sqs {

// InvalidAttributeValue unless text is empty or an IAM resource policy.
Status ValidateQueuePolicy(std::string_view text);

class QueuePolicies {
 public:
  // The parsed form of a queue's Policy attribute (QueueEngine::PolicyOf);
  // null for none (or an unreadable one, see above). Parsed once per queue
  // and text; while the engine hands out the same text, not even compared.
  std::shared_ptr<const auth::Policy> For(std::string_view queue,
                                          std::shared_ptr<const std::string> text);

 private:
  struct Parsed {
    std::shared_ptr<const std::string> text;
    std::shared_ptr<const auth::Policy> policy;
  };
  std::mutex mu_;
  // Looked up by the request's queue name as is (no string per request).
  std::unordered_map<std::string, Parsed, StringViewHash, std::equal_to<>> cache_;
};

}  // namespace imgbatch::sqs
