// Internal to the sqs module: what every operation handler gets, parameter
// helpers shared by queue_ops.cc and message_ops.cc, and the operation table.
// Handlers are thin: read parameters, call the engine once, answer with the
// result (a Json, or for the message operations an Output that writes it when
// the reply is rendered). Not a public API.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/exchange.h"
#include "queue/queue_engine.h"
#include "sqs/authenticator.h"
#include "sqs/protocol.h"

namespace imgbatch::sqs {

struct Context {
  queue::QueueEngine& engine;
  const Request& request;
  Caller caller;
  std::string base_url;  // "http://127.0.0.1:4566"
  std::string account;
  std::shared_ptr<http::Exchange> exchange;

  const Json& params() const { return request.params; }
  std::string QueueUrl(std::string_view name) const {
    return base_url + "/" + account + "/" + std::string(name);
  }
};

// Every handler completes exactly once through reply, maybe later and from
// another thread: long polls, and the message operations, whose engine
// completes them on the database's writer thread once the commit is durable.
// That thread serializes every write, so what runs on it stays small: the
// message operations answer with an Output holding the engine's results, and
// the reply is written (and those results freed) on the connection's I/O
// thread (http::Exchange::RespondWith).
class Reply {
 public:
  explicit Reply(std::function<void(Result<Output>)> done) : done_(std::move(done)) {}
  // An error (never Ok).
  void operator()(Status error) const { done_(std::move(error)); }
  // A result the operation built as a Json (the queue operations).
  void operator()(Result<Json> result) const;
  // A result written when the reply is rendered (the message operations).
  void operator()(Output output) const { done_(std::move(output)); }

 private:
  std::function<void(Result<Output>)> done_;
};
using Operation = void (*)(Context& ctx, Reply reply);

// action -> handler; nullptr when unknown.
Operation FindOperation(std::string_view action);

// The queue name of the request's QueueUrl (MissingParameter when absent;
// QueueDoesNotExist when the URL names another account).
Result<std::string> QueueNameParam(const Context& ctx);
Result<std::string> QueueNameFromUrl(std::string_view url, std::string_view account);

// Parameter access accepting what both protocols send (query values are all
// strings; JSON has numbers).
Result<std::optional<std::string>> OptionalString(const Json& params, std::string_view name);
Result<std::string> RequiredString(const Json& params, std::string_view name);
Result<std::optional<int64_t>> OptionalInt(const Json& params, std::string_view name);
Result<std::map<std::string, std::string>> StringMap(const Json& params, std::string_view name);
Result<std::vector<std::string>> StringList(const Json& params, std::string_view name);

// A parameter value as an error message quotes it.
std::string ScalarForMessage(const Json& v);
Status InvalidParameterValue(std::string message);
Status MissingParameter(std::string_view name);

// The operations (queue_ops.cc, message_ops.cc).
void CreateQueue(Context& ctx, Reply reply);
void GetQueueUrl(Context& ctx, Reply reply);
void ListQueues(Context& ctx, Reply reply);
void DeleteQueue(Context& ctx, Reply reply);
void GetQueueAttributes(Context& ctx, Reply reply);
void SetQueueAttributes(Context& ctx, Reply reply);
void PurgeQueue(Context& ctx, Reply reply);
void ListDeadLetterSourceQueues(Context& ctx, Reply reply);
void TagQueue(Context& ctx, Reply reply);
void UntagQueue(Context& ctx, Reply reply);
void ListQueueTags(Context& ctx, Reply reply);
void AddPermission(Context& ctx, Reply reply);
void RemovePermission(Context& ctx, Reply reply);
void StartMessageMoveTask(Context& ctx, Reply reply);
void ListMessageMoveTasks(Context& ctx, Reply reply);
void CancelMessageMoveTask(Context& ctx, Reply reply);
void SendMessage(Context& ctx, Reply reply);
void SendMessageBatch(Context& ctx, Reply reply);
void ReceiveMessage(Context& ctx, Reply reply);
void DeleteMessage(Context& ctx, Reply reply);
void DeleteMessageBatch(Context& ctx, Reply reply);
void ChangeMessageVisibility(Context& ctx, Reply reply);
void ChangeMessageVisibilityBatch(Context& ctx, Reply reply);

}  // namespace imgbatch::sqs
