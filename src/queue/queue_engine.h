// QueueEngine: SQS-style standard queues stored in the one SQLite database
// (db::Database). Messages are rows; an index on (queue, visible_at, seq)
// makes a receive an index range read whatever the backlog, and every state
// change (send, receive, delete, visibility, redrive) is one group-committed
// write, so an acknowledged call survives kill -9. See docs/design/queue.md.
//
// Long polls hold no thread: Receive() takes a completion callback; a waiter
// is parked per queue and completed from the engine's one timer thread when a
// message becomes available (send, visibility or delay expiry, change of
// visibility) or when its wait ends. The same thread expires retained
// messages and runs message move tasks.
//
// Thread-safety: all public methods are thread-safe. Callbacks run on the
// calling thread (immediate result), on the engine thread, or on the
// database's writer (or syncer) thread once the commit is durable; they must not block. Lifecycle:
// Open() starts the engine thread; the destructor stops it and completes parked waiters with an
// empty result. The Database and Clock must outlive the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "db/database.h"
#include "queue/message.h"
#include "queue/queue_config.h"

namespace imgbatch::queue {

inline constexpr int kMaxBatchEntries = 10;
inline constexpr int kMaxReceiveMessages = 10;
inline constexpr int64_t kPurgeIntervalMillis = 60'000;
inline constexpr int kMaxPeekMessages = 1000;

struct EngineOptions {
  std::string region = "us-east-1";
  std::string account = "000000000000";
  // AWS's quotas of messages in flight (received, neither deleted nor
  // visible again) per queue, approximate as AWS's are: at the quota a
  // standard queue's short poll gets OverLimit and its long poll waits (and
  // answers empty if nothing frees up); a FIFO queue's receives get nothing,
  // without an error. Tests lower them.
  int64_t max_in_flight = 120000;
  int64_t max_in_flight_fifo = 20000;
  // AWS's throughput quota of FIFO queues: calls per second per API method
  // (send, receive, delete; a batch is one call), per queue or, with
  // FifoThroughputLimit=perMessageGroupId, per message group for sends
  // (queue/call_rate.h). A call over it fails with detail "RequestThrottled"
  // and changes nothing. 0: no quota.
  int64_t fifo_calls_per_second = 300;
};

struct QueueInfo {
  std::string name;
  std::string arn;
  int64_t created_ms = 0;
  int64_t modified_ms = 0;
  bool fifo = false;
  bool content_based_deduplication = false;  // FIFO queues only
};

struct SendRequest {
  std::string body;
  std::optional<int> delay_seconds;  // queue default when absent
  MessageAttributes attributes;
  std::string sender_id;     // who sent it (access key id)
  std::string trace_header;  // AWSTraceHeader system attribute, if any
  // MessageGroupId: required by a FIFO queue, whose messages of one group
  // are delivered one batch at a time in send order; on a standard queue the
  // tenant of a fair queue ("" for none), returned as a system attribute and
  // delivered after quieter tenants' while it is noisy (queue/fair_share.h).
  std::string group_id;
  // MessageDeduplicationId (FIFO queues only): a send with an id seen in the
  // last 5 minutes is acknowledged as that message and not queued again.
  // With ContentBasedDeduplication it defaults to the body's SHA-256.
  std::string dedup_id;
};

struct SendResult {
  std::string message_id;
  std::string md5_of_body;
  std::string md5_of_attributes;  // "" without attributes
  std::string sequence_number;    // FIFO queues: the message's place in its queue ("" otherwise)
};

struct ReceiveOptions {
  int max_messages = 1;                   // 1..10
  std::optional<int> visibility_timeout;  // queue default when absent
  std::optional<int> wait_seconds;        // queue's ReceiveMessageWaitTimeSeconds when absent
  // Polled by the engine before it hands messages to a parked waiter: a
  // receiver whose client went away gets nothing (so no message is hidden
  // for nobody).
  std::function<bool()> abandoned;
  // Where a receive that got messages finishes once its commit is
  // acknowledged (durable for a FIFO queue or for a message sent in the
  // receive's own transaction; committed otherwise: docs/design/queue.md,
  // "Durability, per operation") and calls done (attributes decoded, MD5s,
  // receipt handles). Unset: on the
  // thread that completes the commit — the database writer, which every
  // write waits for. A server passes its connection's I/O thread. Must run
  // its argument exactly once; it may outlive the engine (it uses none).
  std::function<void(std::function<void()>)> complete_on;
  // FIFO queues: ReceiveRequestAttemptId. A receive retried with the id of
  // one in the last 5 minutes gets that receive's messages again (their
  // visibility timeout starting over) while all of them are still in flight
  // from it; otherwise it is a new receive. Ignored by standard queues, and
  // not kept for receives that waited (long polls served later) or across a
  // restart.
  std::string attempt_id;
};

struct ReceivedMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string md5_of_body;
  std::string md5_of_attributes;
  MessageAttributes attributes;
  std::string sender_id;
  std::string trace_header;
  std::string group_id;                // MessageGroupId, "" for none
  std::string dedup_id;                // FIFO queues: MessageDeduplicationId
  std::string sequence_number;         // FIFO queues: SequenceNumber
  std::string dead_letter_source_arn;  // set when the message came to a DLQ by redrive
  int64_t sent_ms = 0;
  int64_t first_receive_ms = 0;
  int receive_count = 0;
};

// A message as it stands, read without receiving it (the operator's DLQ
// peek): no receipt handle, no receive-count or visibility change.
struct PeekedMessage {
  std::string message_id;
  std::string body;
  MessageAttributes attributes;
  std::string sender_id;
  std::string dead_letter_source_arn;  // set when the message came to a DLQ by redrive
  int64_t sent_ms = 0;
  int receive_count = 0;
  bool visible = true;  // false while in flight or delayed
};

using ReceiveCallback = std::function<void(Result<std::vector<ReceivedMessage>>)>;
using SendBatchCallback = std::function<void(Result<std::vector<Result<SendResult>>>)>;
using StatusesCallback = std::function<void(Result<std::vector<Status>>)>;

// Exact counts at one instant.
struct QueueCounts {
  int64_t visible = 0;
  int64_t not_visible = 0;  // received and in flight
  int64_t delayed = 0;      // sent with a delay not yet over
};

enum class MoveTaskStatus { kRunning, kCompleted, kCancelling, kCancelled, kFailed };
const char* MoveTaskStatusName(MoveTaskStatus status);

struct MoveTaskInfo {
  std::string task_handle;
  MoveTaskStatus status = MoveTaskStatus::kRunning;
  std::string source_arn;
  std::string destination_arn;  // "" = each message back to its source
  std::optional<int> max_per_second;
  int64_t moved = 0;
  int64_t to_move = 0;
  std::string failure_reason;
  int64_t started_ms = 0;
};

class QueueEngine {
 public:
  // Applies the queue schema (db->Migrate("queue", ...)), loads queue
  // configurations and starts the engine thread.
  static Result<std::unique_ptr<QueueEngine>> Open(db::Database& db, Clock& clock,
                                                   EngineOptions options = {});
  static std::vector<db::Migration> Migrations();
  virtual ~QueueEngine() = default;

  // Queues. Errors: kNotFound (detail "QueueDoesNotExist"), kAlreadyExists
  // (detail "QueueAlreadyExists"), kInvalidArgument with the AWS code in detail.
  virtual Result<QueueInfo> CreateQueue(std::string_view name, const AttributeMap& attributes,
                                        const AttributeMap& tags) = 0;
  virtual Result<QueueInfo> GetQueue(std::string_view name) = 0;
  virtual Status DeleteQueue(std::string_view name) = 0;
  // Names in lexicographic order.
  virtual std::vector<std::string> ListQueues(std::string_view prefix) = 0;
  // Every attribute (settable ones, counters, QueueArn, timestamps).
  virtual Result<AttributeMap> GetAttributes(std::string_view name) = 0;
  virtual Status SetAttributes(std::string_view name, const AttributeMap& attributes) = 0;
  // Replaces the queue's Policy attribute by change(current policy, queue ARN),
  // atomically with respect to other changes of the queue's settings (what
  // AddPermission and RemovePermission need); change's error is returned.
  using PolicyChange =
      std::function<Result<std::string>(std::string_view policy, std::string_view queue_arn)>;
  virtual Status UpdatePolicy(std::string_view name, const PolicyChange& change) = 0;
  // The queue's Policy attribute (null when it has none or does not exist),
  // for authorizing each request: one lock, no copy (the text is shared with
  // the queue's settings of the moment, which are replaced whole on a change).
  virtual std::shared_ptr<const std::string> PolicyOf(std::string_view name) = 0;
  virtual Result<AttributeMap> ListTags(std::string_view name) = 0;
  virtual Status TagQueue(std::string_view name, const AttributeMap& tags) = 0;
  virtual Status UntagQueue(std::string_view name, const std::vector<std::string>& keys) = 0;
  virtual Result<QueueCounts> Counts(std::string_view name) = 0;
  // Names of queues whose RedrivePolicy targets this one.
  virtual Result<std::vector<std::string>> DeadLetterSources(std::string_view name) = 0;
  // kConflict with detail "PurgeQueueInProgress" within 60 s of the last purge.
  virtual Status Purge(std::string_view name) = 0;

  // Messages. Send is durable when it returns.
  virtual Result<SendResult> Send(std::string_view queue, SendRequest request) = 0;
  // One transaction; the outer Result fails only for queue-level errors.
  virtual Result<std::vector<Result<SendResult>>> SendBatch(std::string_view queue,
                                                            std::vector<SendRequest> requests) = 0;
  // SendBatch without blocking: done gets the same result, exactly once, on
  // the calling thread (nothing to write) or on the database's writer (or
  // syncer) thread once the messages are durable. For servers that run requests on their
  // I/O threads; done must not block.
  virtual void SendBatchAsync(std::string_view queue, std::vector<SendRequest> requests,
                              SendBatchCallback done) = 0;
  // Adds a message inside the caller's write transaction (notify's events,
  // committed with their object). Receivable once that transaction commits;
  // dropped with it if it rolls back.
  virtual Result<SendResult> SendInTransaction(db::Txn& txn, std::string_view queue,
                                               SendRequest request) = 0;
  // Completes done exactly once: when messages are there or the wait is
  // zero, once the receive is durable (on the database's writer or syncer thread; this call never
  // blocks for the commit), else when messages arrive or the wait ends
  // (empty vector).
  virtual void Receive(std::string_view queue, ReceiveOptions options, ReceiveCallback done) = 0;
  // Deleting with a superseded (but well-formed) receipt handle succeeds and
  // deletes nothing, as AWS documents. Malformed: detail "ReceiptHandleIsInvalid".
  virtual Status Delete(std::string_view queue, std::string_view receipt_handle) = 0;
  virtual Result<std::vector<Status>> DeleteBatch(std::string_view queue,
                                                  const std::vector<std::string>& handles) = 0;
  // DeleteBatch without blocking, completed like SendBatchAsync.
  virtual void DeleteBatchAsync(std::string_view queue, std::vector<std::string> handles,
                                StatusesCallback done) = 0;
  // Operator reads and actions (not SQS operations). Peek returns up to max
  // (1..kMaxPeekMessages) messages, oldest first, in flight or not, without
  // changing them; messages past their retention period are left out.
  virtual Result<std::vector<PeekedMessage>> Peek(std::string_view queue, int max) = 0;
  // Deletes one message by its id whatever its state (an in-flight
  // receiver's later DeleteMessage then deletes nothing, as for a superseded
  // handle). kNotFound with detail "MessageNotFound" when absent.
  virtual Status DeleteById(std::string_view queue, std::string_view message_id) = 0;

  virtual Status ChangeVisibility(std::string_view queue, std::string_view receipt_handle,
                                  int timeout_seconds) = 0;
  struct VisibilityChange {
    std::string receipt_handle;
    int timeout_seconds = 0;
  };
  virtual Result<std::vector<Status>> ChangeVisibilityBatch(
      std::string_view queue, const std::vector<VisibilityChange>& changes) = 0;

  // Message move tasks (redrive from a dead-letter queue). destination_arn ""
  // sends each message back to the queue it was dead-lettered from.
  virtual Result<std::string> StartMoveTask(std::string_view source_arn,
                                            std::string_view destination_arn,
                                            std::optional<int> max_per_second) = 0;
  virtual Result<std::vector<MoveTaskInfo>> ListMoveTasks(std::string_view source_arn,
                                                          int max_results) = 0;
  // Returns the number of messages moved so far.
  virtual Result<int64_t> CancelMoveTask(std::string_view task_handle) = 0;

  // Shutdown: completes every parked long poll with an empty result now, and
  // answers later receives without waiting (the server calls it before
  // stopping its listener so the drain does not wait out 20 s polls).
  virtual void ReleaseWaiters() = 0;
  // Long polls parked right now, across all queues (a metric: thousands may
  // wait at once, none holding a thread).
  virtual int64_t WaitingReceives() = 0;
  // FIFO deduplication ids remembered (those of the last five minutes), all
  // queues: each holds 25-45 bytes of server memory (queue/dedup_log.h).
  virtual int64_t DeduplicationIdsRemembered() = 0;
  // Fair queues: each standard queue whose sends carried a MessageGroupId
  // lately, with how many of its tenants were noisy at the last sample
  // (queue/fair_share.h), as AWS's ApproximateNumberOfNoisyGroups metric.
  virtual std::vector<std::pair<std::string, int64_t>> NoisyGroups() = 0;
  // Calls refused as RequestThrottled (EngineOptions::fifo_calls_per_second)
  // since the start, for each FIFO queue (a counter).
  virtual std::vector<std::pair<std::string, int64_t>> ThrottledCalls() = 0;
  // Wakes the engine thread to re-check deadlines now (tests that move a
  // ManualClock call this; the system clock needs no help).
  virtual void Poke() = 0;
  // Sweeps messages past their retention period and samples the fair
  // queues' tenants now (the engine thread does this on its own about once
  // a second).
  virtual Status ExpireMessages() = 0;

  virtual std::string QueueArnFor(std::string_view name) const = 0;
  virtual const EngineOptions& options() const = 0;
};

}  // namespace imgbatch::queue
