#include "queue/queue_engine.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include <absl/container/flat_hash_map.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/hashing.h"
#include "common/strings.h"
#include "queue/call_rate.h"
#include "queue/dedup_log.h"
#include "queue/fair_share.h"
#include "queue/queue_sql.h"
#include "queue/receipt.h"

namespace imgbatch::queue {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int64_t kSweepIntervalMillis = 1000;
constexpr int64_t kMaxEngineSleepMillis = 1000;
constexpr int kMoveChunk = 1000;
constexpr int kExpireChunk = 1000;
// Seqs reserved ahead in sqlite_sequence at a time (EngineImpl::ReserveSeqs).
constexpr int64_t kSeqReservation = 65536;
constexpr int kMaxTags = 50;
constexpr size_t kMaxTagKeyLength = 128;
constexpr size_t kMaxTagValueLength = 256;
constexpr int kMaxMoveTasksListed = 10;
// Finished move tasks beyond the newest this many are forgotten (memory and
// database); running ones are always kept.
constexpr size_t kMaxMoveTasksRemembered = 100;

Status QueueNotFound() {
  return NotFound("The specified queue does not exist.").WithDetail("QueueDoesNotExist");
}

Status InvalidReceiptHandle(std::string_view handle) {
  return InvalidArgument("The input receipt handle \"" + std::string(handle) +
                         "\" is not a valid receipt handle.")
      .WithDetail("ReceiptHandleIsInvalid");
}

Status InvalidParameter(std::string message) {
  return InvalidArgument(std::move(message)).WithDetail("InvalidParameterValue");
}

Status ExpiredReceiptHandle(std::string_view handle) {
  return InvalidParameter("Value " + std::string(handle) +
                          " for parameter ReceiptHandle is invalid. Reason: The receipt handle "
                          "has expired.");
}

// SQS's policy quotas, for a Policy given in a request (not in Apply, which
// also reads stored attributes back: a policy stored before the quotas were
// checked must not cost its queue the rest of its settings).
Status CheckGivenPolicy(const AttributeMap& attributes) {
  auto policy = attributes.find("Policy");
  return policy == attributes.end() ? Status::Ok() : CheckPolicyQuotas(policy->second);
}

// A FIFO queue's call over its throughput quota (AWS: RequestThrottled, HTTP
// 403, which SDKs retry with backoff).
Status Throttled(std::string_view queue, std::string_view method, int64_t quota) {
  return Status(Code::kUnavailable,
                "Request is throttled: " + std::string(method) + " calls on FIFO queue " +
                    std::string(queue) + " are over its quota of " + std::to_string(quota) +
                    " per second. Retry with backoff, or send, receive and delete in batches.")
      .WithDetail("RequestThrottled");
}

// A standard queue's short poll at the in-flight quota (AWS: OverLimit,
// HTTP 403, which SDKs do not retry).
Status InFlightOverLimit(std::string_view queue, int64_t quota) {
  return Status(Code::kInvalidArgument,
                "Too many messages in flight on queue " + std::string(queue) + ": about " +
                    std::to_string(quota) +
                    " received and not deleted. Delete the messages you have processed, or "
                    "receive with long polling to wait for room.")
      .WithDetail("OverLimit");
}

// INSERT of n messages of one queue in one statement (a SendMessageBatch):
// ?1 queue id, ?2 sent_ms, then kInsertParamsPerRow parameters per row from
// kInsertFirstRowParam: seq, message_id, body, attributes, sender_id,
// trace_header, visible_at_ms, body_md5, group_id, dedup_id (left unbound,
// so NULL, for a standard queue's message: see queue_messages_fifo). The seq is the engine's
// (EngineImpl::NextRow): the message id carries it (MessageIdForSeq).
// first_receive_ms and last_receive_ms start as sent_ms, not 0: they mean
// something only once receive_count > 0, and a timestamp-wide value now lets
// the first receive's UPDATE rewrite the row at the same size, in place
// (0 and 1 take no bytes in a record, a millisecond timestamp 6).
constexpr int kInsertFirstRowParam = 3;
// How many of a FIFO queue's oldest messages a receive looks through for
// message groups with something to deliver (AWS documents 120,000; reading
// them is index-only, ~20,000 is a few milliseconds of the writer's time).
constexpr int64_t kFifoScanRows = 20000;
// AWS returns as many messages of one group as it can before others (so that
// other consumers get the other groups): after the first deliverable row a
// receive looks this many rows further for more of the groups it found.
constexpr int64_t kFifoGroupLookahead = 1000;
// Fair receives (EngineImpl::ReadVisibleFair), while a standard queue has
// noisy tenants: a receive steps over at most kFairQuietScanRows of their
// rows looking for quiet tenants' (further on at the next receive, from
// where it stopped), reads at most kFairTimedRows timed rows, and chooses
// among the noisy tenants in the kFairNoisyWindow oldest fresh rows (with
// one noisy tenant there is no choice to make: it reads only as many as it
// wants).
constexpr int64_t kFairQuietScanRows = 1000;
constexpr int64_t kFairTimedRows = 100;
constexpr int64_t kFairNoisyWindow = 100;
constexpr int kInsertParamsPerRow = 10;

// A new row's seq and the message id that names it.
struct IdentifiedRow {
  int64_t seq;
  std::string message_id;
};

const std::string& InsertMessagesSql(size_t n) {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out(kMaxBatchEntries + 1);
    for (int rows = 1; rows <= kMaxBatchEntries; ++rows) {
      std::string text =
          "INSERT INTO queue_messages(queue_id, sent_ms, first_receive_ms, last_receive_ms, "
          "seq, message_id, body, attributes, sender_id, trace_header, visible_at_ms, body_md5, "
          "group_id, dedup_id) "
          "VALUES ";
      for (int i = 0; i < rows; ++i) {
        const int p = kInsertFirstRowParam + i * kInsertParamsPerRow;
        if (i > 0) text += ", ";
        text += "(?1, ?2, ?2, ?2";
        for (int k = 0; k < kInsertParamsPerRow; ++k) text += ", ?" + std::to_string(p + k);
        text += ")";
      }
      out[rows] = std::move(text);
    }
    return out;
  }();
  return texts.at(n);
}

std::string EncodeAttributeMap(const AttributeMap& m) {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [k, v] : m) doc[k] = v;
  return doc.dump();
}

AttributeMap DecodeAttributeMap(std::string_view text) {
  AttributeMap m;
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object()) return m;
  for (const auto& [k, v] : doc.items()) {
    if (v.is_string()) m[k] = v.get<std::string>();
  }
  return m;
}

// What a send must and must not carry for its queue's type.
Status ValidateQueueTypeRules(const SendRequest& r, const QueueConfig& config) {
  if (!config.fifo) {
    if (!r.dedup_id.empty()) {
      return InvalidParameter(
          "The request include parameter MessageDeduplicationId that is not valid for this "
          "queue type");
    }
    return Status::Ok();
  }
  if (r.group_id.empty()) {
    return InvalidArgument("The request must contain the parameter MessageGroupId.")
        .WithDetail("MissingParameter");
  }
  if (r.delay_seconds) {
    return InvalidParameter("Value " + std::to_string(*r.delay_seconds) +
                            " for parameter DelaySeconds is invalid. Reason: The request include "
                            "parameter that is not valid for this queue type.");
  }
  if (r.dedup_id.empty() && !config.content_based_deduplication) {
    return InvalidParameter(
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly");
  }
  return ValidateIdText("MessageDeduplicationId", r.dedup_id);
}

// Tags are served back verbatim in XML and JSON replies: only characters
// both can carry (the query protocol's form decoding yields any bytes), and
// lengths in characters, as AWS counts them.
Status ValidateTags(const AttributeMap& tags) {
  for (const auto& [k, v] : tags) {
    const std::optional<size_t> key_length = CountXmlCharacters(k);
    const std::optional<size_t> value_length = CountXmlCharacters(v);
    if (!key_length || !value_length) {
      return InvalidParameter(
          "Tag keys and values must be Unicode text (#x9 | #xA | #xD | "
          "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF).");
    }
    if (*key_length == 0 || *key_length > kMaxTagKeyLength || *value_length > kMaxTagValueLength) {
      return InvalidParameter("Tag keys must be 1-128 characters and values at most 256.");
    }
  }
  return Status::Ok();
}

}  // namespace

const char* MoveTaskStatusName(MoveTaskStatus status) {
  switch (status) {
    case MoveTaskStatus::kRunning:
      return "RUNNING";
    case MoveTaskStatus::kCompleted:
      return "COMPLETED";
    case MoveTaskStatus::kCancelling:
      return "CANCELLING";
    case MoveTaskStatus::kCancelled:
      return "CANCELLED";
    case MoveTaskStatus::kFailed:
      return "FAILED";
  }
  return "FAILED";
}

namespace {

MoveTaskStatus MoveTaskStatusFromName(std::string_view name) {
  for (MoveTaskStatus s : {MoveTaskStatus::kRunning, MoveTaskStatus::kCompleted,
                           MoveTaskStatus::kCancelling, MoveTaskStatus::kCancelled}) {
    if (name == MoveTaskStatusName(s)) return s;
  }
  return MoveTaskStatus::kFailed;
}

// What a move step returns to roll itself back when the task was cancelled
// while the step ran (the cancellation's commit came first).
constexpr std::string_view kTaskNotRunning = "TaskNotRunning";

// A message a receive took, as read in the write transaction; finished into
// a ReceivedMessage (attributes decoded, MD5s, receipt handle) after the
// commit (FinishReceived).
// A FIFO message's SequenceNumber: its seq, which grows with every send, as
// the fixed-width decimal AWS's look like (seqs stay below 2^58 < 10^18).
std::string SequenceNumberOf(int64_t seq) {
  std::string digits = std::to_string(seq);
  return std::string(20 - std::min<size_t>(20, digits.size()), '0') + digits;
}

struct TakenMessage {
  ReceivedMessage m;  // read columns, receive_count/first_receive_ms updated
  int64_t seq = 0;
  std::string attributes;  // EncodeAttributes form
  std::string body_md5;    // as stored at send; empty in rows older than migration 5
  std::string dlq_source;
  int64_t receive_ms = 0;  // this receive's time (the row's last_receive_ms): in its handle
};

// What a client gets for messages taken in a receive transaction. Runs
// after the commit: the decoding, the MD5s and the receipt handles need no
// transaction, nor the db writer thread every write waits for
// (ReceiveOptions::complete_on), nor the engine.
std::vector<ReceivedMessage> FinishReceived(int64_t queue_id, const EngineOptions& options,
                                            const ReceiptCodec& receipts,
                                            std::vector<TakenMessage> taken) {
  std::vector<ReceivedMessage> out;
  out.reserve(taken.size());
  for (TakenMessage& t : taken) {
    ReceivedMessage& m = t.m;
    auto attributes = DecodeAttributes(t.attributes);
    if (attributes.ok()) m.attributes = std::move(*attributes);
    m.md5_of_body = t.body_md5.empty() ? Md5OfBody(m.body) : std::move(t.body_md5);
    m.md5_of_attributes = Md5OfAttributes(m.attributes);
    if (!t.dlq_source.empty()) {
      m.dead_letter_source_arn = QueueArn(options.region, options.account, t.dlq_source);
    }
    m.receipt_handle = receipts.Encode(Receipt{queue_id, t.seq, m.receive_count, t.receive_ms});
    if (!m.dedup_id.empty()) m.sequence_number = SequenceNumberOf(t.seq);
    out.push_back(std::move(m));
  }
  return out;
}

struct Waiter {
  int max_messages = 1;
  int visibility_timeout = 0;
  int64_t deadline_ms = 0;  // Clock::MonotonicMillis
  std::function<bool()> abandoned;
  ReceiveCallback done;
  std::vector<TakenMessage> got;  // filled during a serve pass
  uint64_t place = 0;             // in its queue's line (WaiterLine)
  std::string attempt_id;         // FIFO ReceiveRequestAttemptId, remembered when served
};

// A queue's parked long polls: served oldest first, timed out by deadline.
// Each step is O(log n) and a serve takes only as many as it may fill, so
// that thousands can wait on one queue without every send or timeout
// walking them all.
class WaiterLine {
 public:
  bool empty() const { return by_place_.empty(); }
  size_t size() const { return by_place_.size(); }
  // Whether a waiter asked for VisibilityTimeout 0: it takes messages
  // without putting them in flight, so the in-flight quota does not hold it.
  bool AnyHidesNothing() const { return !hiding_nothing_.empty(); }
  void Park(Waiter w) {
    w.place = next_place_++;
    PutBack(std::move(w));
  }
  // Back where it stood (one TakeOldest took that a serve could not fill).
  void PutBack(Waiter w) {
    if (w.visibility_timeout == 0) hiding_nothing_.insert(w.place);
    by_deadline_.emplace(w.deadline_ms, w.place);
    by_place_.emplace(w.place, std::move(w));
  }
  Waiter TakeOldest() { return Take(by_place_.begin()); }
  // The oldest with VisibilityTimeout 0 (AnyHidesNothing() must hold): at
  // the in-flight quota the only ones a serve can fill.
  Waiter TakeOldestHidingNothing() { return Take(by_place_.find(*hiding_nothing_.begin())); }
  // Those whose deadline is at or before `now`.
  void TakeExpired(int64_t now, std::vector<Waiter>& out) {
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      out.push_back(Take(by_place_.find(by_deadline_.begin()->second)));
    }
  }
  int64_t NextDeadline() const {
    return by_deadline_.empty() ? std::numeric_limits<int64_t>::max() : by_deadline_.begin()->first;
  }
  void TakeAll(std::vector<Waiter>& out) {
    for (auto& [place, w] : by_place_) out.push_back(std::move(w));
    by_place_.clear();
    by_deadline_.clear();
    hiding_nothing_.clear();
  }

 private:
  Waiter Take(std::map<uint64_t, Waiter>::iterator it) {
    Waiter w = std::move(it->second);
    hiding_nothing_.erase(w.place);
    by_deadline_.erase({w.deadline_ms, w.place});
    by_place_.erase(it);
    return w;
  }

  uint64_t next_place_ = 0;
  std::set<uint64_t> hiding_nothing_;  // places of the waiters with visibility_timeout 0
  std::map<uint64_t, Waiter> by_place_;
  std::set<std::pair<int64_t, uint64_t>> by_deadline_;
};

// In-memory state of one queue, guarded by EngineImpl::mu_ (the row data
// lives in SQLite).
struct QueueState {
  int64_t id = 0;
  std::string name;
  // Replaced whole when the settings change, never changed in place: a
  // request holds the one it started with without copying its strings (the
  // Policy may be 8 KB, and every send and receive reads the settings).
  std::shared_ptr<const QueueConfig> config = std::make_shared<const QueueConfig>();
  bool fifo = false;  // config->fifo, fixed at creation: read without the lock
  // FIFO receives by ReceiveRequestAttemptId, for kDeduplicationIntervalMs:
  // what each took as (seq, receive count); attempt_order has them oldest
  // first, for pruning.
  struct ReceiveAttempt {
    int64_t expires_ms = 0;
    std::vector<std::pair<int64_t, int>> taken;
  };
  std::map<std::string, ReceiveAttempt, std::less<>> attempts;
  std::deque<std::pair<int64_t, std::string>> attempt_order;
  int64_t created_ms = 0;
  int64_t modified_ms = 0;
  int64_t last_purge_ms = 0;
  AttributeMap tags;
  // All rows of the queue, once every committed change is applied (for a
  // moment it may be off, even below 0: EngineImpl::Apply).
  int64_t message_count = 0;
  // Messages in flight, an estimate for the in-flight quota
  // (EngineOptions::max_in_flight): receives add what they hide, deletes
  // and visibility given back take off what they release, and the sweep
  // counts them afresh while the estimate is past half the quota
  // (visibility running out lowers the real number without an event).
  // Changed only inside writes, so in commit order; read without the lock.
  // A write that rolls back leaves it off by its change until a recount.
  std::atomic<int64_t> in_flight{0};
  // Earliest time a hidden message may become visible (a lower bound; only
  // used to wake parked waiters).
  int64_t next_visible_ms = kNever;
  // Every fresh row (sql::kReceiveFresh) has a higher seq. Read and moved
  // only inside writes (serialized by the writer's connection), so it needs
  // no lock; a write that took rows and then rolled back marks it stale
  // (from its completion), and the next receive starts again from 0.
  int64_t fresh_cursor = 0;
  std::atomic<bool> fresh_cursor_stale{false};
  // Fair queues (queue/fair_share.h): a standard queue's tenants, and the
  // noisy ones at the last sample (null when none), both guarded by mu_;
  // has_noisy says whether `noisy` is set, read by receives without the lock.
  FairShare tenants;
  std::shared_ptr<const NoisyTenants> noisy;
  std::atomic<bool> has_noisy{false};
  // While some tenant is noisy: every fresh row of a quiet tenant up to here
  // was taken (EngineImpl::ReadVisibleFair). Like fresh_cursor, used only
  // inside writes; back to 0 when a tenant stops being noisy (its rows
  // behind the cursor are quiet ones now).
  int64_t quiet_cursor = 0;
  std::atomic<bool> quiet_cursor_stale{false};
  // What fair receives gave each noisy tenant since the sample they use
  // (given_since, a NoisyTenants::sample), added to its in-flight count
  // there so that receives between samples spread too. Inside writes only.
  uint64_t given_since = 0;
  std::vector<std::pair<std::string, int64_t>> given;
  uint64_t send_generation = 0;
  WaiterLine waiters;
  // Messages made receivable since the last serve of the waiters (by sends;
  // other wakes leave it 0): how many waiters a serve starts with.
  int64_t wake_messages = 0;
  std::atomic<bool> deleted{false};
  // FIFO queues: calls per API method (and message group) for the
  // throughput quota (EngineOptions::fifo_calls_per_second). Own lock.
  CallRate calls;
  std::atomic<int64_t> throttled_calls{0};
};
using QueuePtr = std::shared_ptr<QueueState>;

struct MoveTask {
  MoveTaskInfo info;
  int64_t row_id = 0;  // queue_move_tasks.id
  int64_t source_id = 0;
  std::string source_name;
  std::string destination_name;  // "" = original sources
  int64_t max_seq = 0;           // messages present at start
  int64_t cursor = 0;            // last seq handled
  int64_t next_run_ms = 0;       // Clock::MonotonicMillis
};

// Count changes made inside a transaction, applied to the in-memory totals
// only once the transaction committed.
struct CountDeltas {
  std::map<QueuePtr, int64_t> by_queue;
  void Add(const QueuePtr& q, int64_t d) {
    if (d != 0) by_queue[q] += d;
  }
};

class EngineImpl final : public QueueEngine {
 public:
  EngineImpl(db::Database& db, Clock& clock, EngineOptions options)
      : db_(db), clock_(clock), options_(std::move(options)) {}

  ~EngineImpl() override {
    WaitForAsyncWrites();
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    ReleaseWaiters();
  }

  void ReleaseWaiters() override {
    std::vector<Waiter> left;
    {
      std::lock_guard lock(mu_);
      waits_released_ = true;
      for (auto& [name, q] : queues_) q->waiters.TakeAll(left);
    }
    for (auto& w : left) w.done(std::vector<ReceivedMessage>{});
  }

  Status Load() {
    IMGBATCH_RETURN_IF_ERROR(db_.Migrate("queue", Migrations()));
    IMGBATCH_RETURN_IF_ERROR(DropLegacyIdIndexOnceEmpty());
    IMGBATCH_RETURN_IF_ERROR(LoadReceiptKey());
    return db_.Read([&](db::Conn& conn) -> Status {
      IMGBATCH_RETURN_IF_ERROR(dedup_.Load(conn));
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement st,
          conn.Prepare("SELECT id, name, created_ms, modified_ms, attributes, last_purge_ms "
                       "FROM queues"));
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        auto q = std::make_shared<QueueState>();
        q->id = st.ColumnInt(0);
        q->name = st.ColumnText(1);
        q->created_ms = st.ColumnInt(2);
        q->modified_ms = st.ColumnInt(3);
        QueueConfig config;
        Status applied = config.Apply(DecodeAttributeMap(st.ColumnText(4)));
        q->fifo = config.fifo;
        q->config = std::make_shared<const QueueConfig>(std::move(config));
        if (!applied.ok())
          spdlog::warn("queue {}: stored attributes: {}", q->name, applied.message());
        q->last_purge_ms = st.ColumnInt(5);
        by_id_[q->id] = q;
        queues_[q->name] = q;
      }
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement tags,
                                conn.Prepare("SELECT queue_id, key, value FROM queue_tags"));
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, tags.Step());
        if (!row) break;
        if (auto it = by_id_.find(tags.ColumnInt(0)); it != by_id_.end()) {
          it->second->tags[tags.ColumnText(1)] = tags.ColumnText(2);
        }
      }
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement counts,
          conn.Prepare("SELECT queue_id, count(*), min(visible_at_ms) FROM queue_messages "
                       "GROUP BY queue_id"));
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, counts.Step());
        if (!row) break;
        if (auto it = by_id_.find(counts.ColumnInt(0)); it != by_id_.end()) {
          it->second->message_count = counts.ColumnInt(1);
          it->second->next_visible_ms = counts.ColumnInt(2);
        }
      }
      // Messages still in flight from before the restart count against the
      // in-flight quota.
      std::vector<QueuePtr> with_messages;
      for (const auto& [id, q] : by_id_) {
        if (q->message_count > 0) with_messages.push_back(q);
      }
      IMGBATCH_RETURN_IF_ERROR(CountInFlight(conn, with_messages, clock_.NowMillis()));
      // The newest row (highest seq) has the highest sent_ms so far.
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement newest,
          conn.Prepare("SELECT sent_ms FROM queue_messages ORDER BY seq DESC LIMIT 1"));
      IMGBATCH_ASSIGN_OR_RETURN(bool any, newest.Step());
      if (any) last_sent_ms_ = newest.ColumnInt(0);
      // Seqs go on from the highest ever given (sqlite_sequence outlives the
      // rows), or from the highest row if something inserted without one.
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement highest,
          conn.Prepare("SELECT max(coalesce((SELECT seq FROM sqlite_sequence "
                       "WHERE name = 'queue_messages'), 0), "
                       "coalesce((SELECT max(seq) FROM queue_messages), 0))"));
      IMGBATCH_ASSIGN_OR_RETURN(bool has_highest, highest.Step());
      if (has_highest) last_seq_ = highest.ColumnInt(0);
      seq_reserved_ = last_seq_;
      IMGBATCH_RETURN_IF_ERROR(LoadReceiveAttempts(conn));
      return LoadMoveTasks(conn);
    });
  }

  // The database's receipt key: made from OpenSSL's random bytes by the
  // first start that finds none (a new database, or one from before keyed
  // handles), read back by every later one. Unkeyed handles given before it
  // act only on receives recorded before legacy_before_ms; once no row holds
  // one, which in a new database is at once, that is 0 and none acts.
  Status LoadReceiptKey() {
    constexpr size_t kKeyBytes = 16;
    std::string key;
    int64_t legacy_before = 0;
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement insert,
          txn.Prepare("INSERT OR IGNORE INTO queue_receipt_key (id, key, legacy_before_ms) "
                      "VALUES (1, ?1, ?2)"));
      IMGBATCH_RETURN_IF_ERROR(
          insert.BindBlob(1, RandomBytes(kKeyBytes)).Bind(2, clock_.NowMillis()).Run());
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement read,
          txn.Prepare("SELECT key, legacy_before_ms FROM queue_receipt_key WHERE id = 1"));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, read.Step());
      if (row) {
        key = read.ColumnText(0);
        legacy_before = read.ColumnInt(1);
      }
      read.Reset();
      if (legacy_before == 0) return Status::Ok();
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement any, txn.Prepare(sql::kAnyReceiveBefore));
      IMGBATCH_ASSIGN_OR_RETURN(row, any.Bind(1, legacy_before).Step());
      const bool legacy_may_act = row && any.ColumnInt(0) != 0;
      any.Reset();
      if (legacy_may_act) return Status::Ok();
      legacy_before = 0;
      return txn.Exec("UPDATE queue_receipt_key SET legacy_before_ms = 0");
    }));
    if (key.size() != kKeyBytes) {
      return Internal("queue_receipt_key holds no 16-byte key; the database is damaged");
    }
    receipts_ = std::make_shared<const ReceiptCodec>(std::move(key), legacy_before);
    return Status::Ok();
  }

  // The receive attempts SaveAttempt stored that have not expired.
  Status LoadReceiveAttempts(db::Conn& conn) {
    const int64_t now = clock_.NowMillis();
    IMGBATCH_ASSIGN_OR_RETURN(
        db::Statement st,
        conn.Prepare("SELECT queue_id, attempt_id, taken, expires_ms FROM queue_receive_attempts "
                     "ORDER BY id"));
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      attempts_stored_ = true;
      auto q = by_id_.find(st.ColumnInt(0));
      std::optional<std::vector<std::pair<int64_t, int>>> taken = ParseAttempt(st.ColumnText(2));
      if (q == by_id_.end() || !taken || st.ColumnInt(3) <= now) continue;
      RememberAttempt(q->second, st.ColumnText(1), std::move(*taken), st.ColumnInt(3), now);
    }
    return Status::Ok();
  }

  // queue_messages_legacy_id (migration 6) holds the rows whose ids do not
  // carry their seq; the engine makes no more of them. While any is left
  // each insert and delete evaluates the index's WHERE term (~4k
  // instructions per message sent and deleted): at the first start with
  // none left, the index goes, and DeleteById answers such ids itself.
  Status DropLegacyIdIndexOnceEmpty() {
    return db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement index,
          txn.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                      "name = 'queue_messages_legacy_id'"));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, index.Step());
      const bool exists = row && index.ColumnInt(0) > 0;
      index.Reset();
      if (!exists) {
        legacy_ids_ = false;
        return Status::Ok();
      }
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement any,
          txn.Prepare("SELECT EXISTS (SELECT 1 FROM queue_messages INDEXED BY "
                      "queue_messages_legacy_id WHERE substr(message_id, 15, 1) <> '8')"));
      IMGBATCH_ASSIGN_OR_RETURN(row, any.Step());
      legacy_ids_ = row && any.ColumnInt(0) != 0;
      any.Reset();  // DROP INDEX refuses while a statement is mid-row
      if (legacy_ids_) return Status::Ok();
      return txn.Exec("DROP INDEX queue_messages_legacy_id");
    });
  }

  // Running tasks resume from their last committed step (the engine thread
  // picks them up at once); finished ones are there for ListMoveTasks.
  Status LoadMoveTasks(db::Conn& conn) {
    IMGBATCH_ASSIGN_OR_RETURN(
        db::Statement st,
        conn.Prepare("SELECT id, task_handle, source_queue_id, source_name, source_arn, "
                     "destination_arn, destination_name, max_per_second, status, failure_reason, "
                     "moved, to_move, max_seq, cursor, started_ms FROM queue_move_tasks "
                     "ORDER BY id"));
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      auto t = std::make_shared<MoveTask>();
      t->row_id = st.ColumnInt(0);
      t->info.task_handle = st.ColumnText(1);
      t->source_id = st.ColumnInt(2);
      t->source_name = st.ColumnText(3);
      t->info.source_arn = st.ColumnText(4);
      t->info.destination_arn = st.ColumnText(5);
      t->destination_name = st.ColumnText(6);
      if (!st.ColumnIsNull(7)) t->info.max_per_second = static_cast<int>(st.ColumnInt(7));
      t->info.status = MoveTaskStatusFromName(st.ColumnText(8));
      t->info.failure_reason = st.ColumnText(9);
      t->info.moved = st.ColumnInt(10);
      t->info.to_move = st.ColumnInt(11);
      t->max_seq = st.ColumnInt(12);
      t->cursor = st.ColumnInt(13);
      t->info.started_ms = st.ColumnInt(14);
      tasks_.push_back(std::move(t));
    }
    return Status::Ok();
  }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }

  // ---- queues ------------------------------------------------------------

  Result<QueueInfo> CreateQueue(std::string_view name, const AttributeMap& attributes,
                                const AttributeMap& tags) override {
    IMGBATCH_RETURN_IF_ERROR(ValidateQueueName(name));
    QueueConfig config;
    IMGBATCH_RETURN_IF_ERROR(config.Apply(attributes));
    IMGBATCH_RETURN_IF_ERROR(CheckGivenPolicy(attributes));
    IMGBATCH_RETURN_IF_ERROR(ValidateQueueType(name, config));
    IMGBATCH_RETURN_IF_ERROR(ValidateTags(tags));
    if (tags.size() > kMaxTags) return InvalidParameter("Too many tags (at most 50).");
    std::lock_guard create_lock(create_mu_);
    if (QueuePtr existing = Find(name)) {
      QueueConfig given;
      (void)given.Apply(attributes);
      const AttributeMap have = ConfigOf(existing)->ToMap();
      const AttributeMap want = given.ToMap();
      for (const auto& [attr, value] : attributes) {
        auto h = have.find(attr);
        auto w = want.find(attr);
        const std::string hv = h == have.end() ? "" : h->second;
        const std::string wv = w == want.end() ? "" : w->second;
        if (hv != wv) {
          return AlreadyExists(
                     "A queue already exists with the same name and a different value "
                     "for attribute " +
                     attr)
              .WithDetail("QueueAlreadyExists");
        }
      }
      return Info(existing);
    }
    IMGBATCH_RETURN_IF_ERROR(CheckRedrive(name, config));
    auto q = std::make_shared<QueueState>();
    q->name = std::string(name);
    q->config = std::make_shared<const QueueConfig>(config);
    q->fifo = config.fifo;
    q->created_ms = q->modified_ms = clock_.NowMillis();
    q->tags = tags;
    const std::string stored = EncodeAttributeMap(config.ToMap());
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement st,
          txn.Prepare("INSERT INTO queues(name, created_ms, modified_ms, attributes) "
                      "VALUES (?1, ?2, ?3, ?4)"));
      IMGBATCH_RETURN_IF_ERROR(
          st.Bind(1, q->name).Bind(2, q->created_ms).Bind(3, q->modified_ms).Bind(4, stored).Run());
      q->id = st.last_insert_rowid();
      return WriteTags(txn, q->id, tags);
    }));
    {
      std::lock_guard lock(mu_);
      queues_[q->name] = q;
      by_id_[q->id] = q;
    }
    return Info(q);
  }

  Result<QueueInfo> GetQueue(std::string_view name) override {
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    return Info(q);
  }

  Status DeleteQueue(std::string_view name) override {
    std::lock_guard create_lock(create_mu_);
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    Status st = db_.Write([&](db::Txn& txn) -> Status {
      for (const char* sql :
           {"DELETE FROM queue_messages WHERE queue_id = ?1",
            "DELETE FROM queue_receive_attempts WHERE queue_id = ?1",
            "DELETE FROM queue_tags WHERE queue_id = ?1", "DELETE FROM queues WHERE id = ?1"}) {
        IMGBATCH_ASSIGN_OR_RETURN(db::Statement del, txn.Prepare(sql));
        IMGBATCH_RETURN_IF_ERROR(del.Bind(1, q->id).Run());
      }
      // Its deduplication ids stay until they expire: queue ids are never
      // reused (AUTOINCREMENT), so no queue sees them, and deleting them
      // now would scan the whole log (it has no index by queue) while
      // every queue's writes wait.
      q->deleted = true;  // later writes of this queue (same writer thread) see it
      return Status::Ok();
    });
    if (!st.ok()) {
      q->deleted = false;
      return st;
    }
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mu_);
      queues_.erase(q->name);
      by_id_.erase(q->id);
      q->waiters.TakeAll(waiters);
    }
    for (auto& w : waiters) w.done(QueueNotFound());
    return Status::Ok();
  }

  std::vector<std::string> ListQueues(std::string_view prefix) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    for (auto it = queues_.lower_bound(prefix); it != queues_.end(); ++it) {
      if (!std::string_view(it->first).starts_with(prefix)) break;
      names.push_back(it->first);
    }
    return names;
  }

  Result<AttributeMap> GetAttributes(std::string_view name) override {
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    IMGBATCH_ASSIGN_OR_RETURN(QueueCounts counts, CountsOf(q));
    AttributeMap m;
    int64_t created = 0, modified = 0;
    {
      std::lock_guard lock(mu_);
      m = q->config->ToMap();
      created = q->created_ms;
      modified = q->modified_ms;
    }
    m["QueueArn"] = QueueArnFor(q->name);
    m["CreatedTimestamp"] = std::to_string(created / 1000);
    m["LastModifiedTimestamp"] = std::to_string(modified / 1000);
    m["ApproximateNumberOfMessages"] = std::to_string(counts.visible);
    m["ApproximateNumberOfMessagesNotVisible"] = std::to_string(counts.not_visible);
    m["ApproximateNumberOfMessagesDelayed"] = std::to_string(counts.delayed);
    return m;
  }

  Status SetAttributes(std::string_view name, const AttributeMap& attributes) override {
    std::lock_guard settings(settings_mu_);
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    // A standard queue does not know the attribute, whatever its value
    // (AWS's answer, recorded); a FIFO queue stays one.
    if (!q->fifo && attributes.contains("FifoQueue")) {
      return InvalidArgument("Unknown Attribute FifoQueue.").WithDetail("InvalidAttributeName");
    }
    QueueConfig next = *ConfigOf(q);
    IMGBATCH_RETURN_IF_ERROR(next.Apply(attributes));
    IMGBATCH_RETURN_IF_ERROR(CheckGivenPolicy(attributes));
    if (next.fifo != q->fifo) {
      return InvalidArgument(
                 "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not "
                 "supported.")
          .WithDetail("InvalidAttributeValue");
    }
    IMGBATCH_RETURN_IF_ERROR(CheckRedrive(name, next));
    return StoreConfig(q, next);
  }

  Status UpdatePolicy(std::string_view name, const PolicyChange& change) override {
    std::lock_guard settings(settings_mu_);
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    QueueConfig next = *ConfigOf(q);
    IMGBATCH_ASSIGN_OR_RETURN(next.policy, change(next.policy, QueueArnFor(q->name)));
    return StoreConfig(q, next);
  }

  std::shared_ptr<const std::string> PolicyOf(std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = queues_.find(name);
    if (it == queues_.end() || it->second->config->policy.empty()) return nullptr;
    const std::shared_ptr<const QueueConfig>& config = it->second->config;
    return std::shared_ptr<const std::string>(config, &config->policy);  // shares the config
  }

  Result<AttributeMap> ListTags(std::string_view name) override {
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    std::lock_guard lock(mu_);
    return q->tags;
  }

  Status TagQueue(std::string_view name, const AttributeMap& tags) override {
    std::lock_guard settings(settings_mu_);
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    IMGBATCH_RETURN_IF_ERROR(ValidateTags(tags));
    AttributeMap merged;
    {
      std::lock_guard lock(mu_);
      merged = q->tags;
    }
    for (const auto& [k, v] : tags) merged[k] = v;
    if (merged.size() > kMaxTags) return InvalidParameter("Too many tags (at most 50).");
    return ReplaceTags(q, merged);
  }

  Status UntagQueue(std::string_view name, const std::vector<std::string>& keys) override {
    std::lock_guard settings(settings_mu_);
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    AttributeMap remaining;
    {
      std::lock_guard lock(mu_);
      remaining = q->tags;
    }
    for (const auto& k : keys) remaining.erase(k);
    return ReplaceTags(q, remaining);
  }

  Result<QueueCounts> Counts(std::string_view name) override {
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    return CountsOf(q);
  }

  int64_t WaitingReceives() override {
    std::lock_guard lock(mu_);
    int64_t waiting = 0;
    for (const auto& entry : queues_) waiting += static_cast<int64_t>(entry.second->waiters.size());
    return waiting;
  }

  int64_t DeduplicationIdsRemembered() override { return dedup_.remembered(); }

  Result<std::vector<std::string>> DeadLetterSources(std::string_view name) override {
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    const std::string arn = QueueArnFor(q->name);
    std::vector<std::string> sources;
    std::lock_guard lock(mu_);
    for (const auto& [n, other] : queues_) {
      if (other->config->redrive && other->config->redrive->dead_letter_target_arn == arn) {
        sources.push_back(n);
      }
    }
    return sources;
  }

  Status Purge(std::string_view name) override {
    QueuePtr q = Find(name);
    if (!q) return QueueNotFound();
    const int64_t now = clock_.NowMillis();
    {
      std::lock_guard lock(mu_);
      if (q->last_purge_ms != 0 && now - q->last_purge_ms < kPurgeIntervalMillis) {
        return Status(Code::kConflict, "Only one PurgeQueue operation on " + q->name +
                                           " is allowed every 60 seconds.")
            .WithDetail("PurgeQueueInProgress");
      }
    }
    int64_t removed = 0;
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement del,
                                txn.Prepare("DELETE FROM queue_messages WHERE queue_id = ?1"));
      IMGBATCH_RETURN_IF_ERROR(del.Bind(1, q->id).Run());
      removed = del.changes();
      q->in_flight = 0;
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement mark,
                                txn.Prepare("UPDATE queues SET last_purge_ms = ?2 WHERE id = ?1"));
      return mark.Bind(1, q->id).Bind(2, now).Run();
    }));
    std::lock_guard lock(mu_);
    q->message_count -= removed;
    q->last_purge_ms = now;
    return Status::Ok();
  }

  // ---- messages ----------------------------------------------------------

  Result<SendResult> Send(std::string_view queue, SendRequest request) override {
    std::vector<SendRequest> one;
    one.push_back(std::move(request));
    IMGBATCH_ASSIGN_OR_RETURN(auto results, SendBatch(queue, std::move(one)));
    return std::move(results.front());
  }

  Result<std::vector<Result<SendResult>>> SendBatch(std::string_view queue,
                                                    std::vector<SendRequest> requests) override {
    return AwaitCompletion<Result<std::vector<Result<SendResult>>>>([&](SendBatchCallback done) {
      SendBatchAsync(queue, std::move(requests), std::move(done));
    });
  }

  // What one SendMessageBatch entry becomes in the write.
  struct SendRow {
    size_t index;  // into the requests and results
    std::string body_md5;
    std::string attributes;
    int64_t delay_ms;
    bool duplicate = false;    // FIFO: its deduplication id was seen; not queued
    uint64_t fingerprint = 0;  // FIFO: DedupLog::Fingerprint, taken off the writer
  };
  // Owned by a send's write and its completion.
  struct SendBatchState {
    std::vector<SendRequest> requests;
    std::vector<Result<SendResult>> results;
    std::vector<SendRow> rows;
    int64_t sent_ms = 0;  // taken in the writer (see NextSentMillis)
  };

  void SendBatchAsync(std::string_view queue, std::vector<SendRequest> requests,
                      SendBatchCallback done) override {
    QueuePtr q = Find(queue);
    if (!q) return done(QueueNotFound());
    const std::shared_ptr<const QueueConfig> held = ConfigOf(q);
    const QueueConfig& config = *held;
    if (q->fifo) {
      std::vector<std::string> groups;  // counted only per message group
      if (config.throughput_per_group) {
        for (const SendRequest& r : requests) groups.push_back(r.group_id);
      }
      Status quota = TakeFifoCall(q, "SendMessage", config.throughput_per_group, groups);
      if (!quota.ok()) return done(std::move(quota));
    }
    auto batch = std::make_shared<SendBatchState>();
    batch->requests = std::move(requests);
    for (size_t i = 0; i < batch->requests.size(); ++i) {
      SendRequest& r = batch->requests[i];
      Status valid = ValidateSend(r, config);
      if (!valid.ok()) {
        batch->results.emplace_back(std::move(valid));
        continue;
      }
      if (config.fifo && r.dedup_id.empty()) r.dedup_id = Sha256Hex(r.body);  // content-based
      const int delay = r.delay_seconds.value_or(config.delay_seconds);
      // The message id is made in the write, once the row's seq is known.
      SendResult sent{"", Md5OfBody(r.body), Md5OfAttributes(r.attributes), ""};
      batch->rows.push_back(
          SendRow{i, sent.md5_of_body, EncodeAttributes(r.attributes), delay * 1000LL});
      if (config.fifo) {
        batch->rows.back().fingerprint =
            dedup_.Fingerprint(q->id, DedupScope(r, config.dedup_per_group), r.dedup_id);
      }
      batch->results.emplace_back(std::move(sent));
    }
    if (batch->rows.empty()) return done(std::move(batch->results));
    const bool fifo = config.fifo;
    const bool dedup_per_group = config.dedup_per_group;
    WriteAsync(
        [this, q, batch, fifo, dedup_per_group](db::Txn& txn) -> Status {
          if (q->deleted) return QueueNotFound();
          batch->sent_ms = NextSentMillis();
          IMGBATCH_RETURN_IF_ERROR(ReserveSeqs(txn, batch->rows.size()));
          return fifo ? InsertFifoRows(txn, q, *batch, dedup_per_group)
                      : InsertRows(txn, q, *batch);
        },
        [this, q, batch, fifo, done = std::move(done)](Status st) {
          if (!st.ok()) {
            if (fifo) dedup_.MarkStale();  // its ids may be in the index, not the table
            return done(std::move(st));
          }
          std::vector<int64_t> visible_ats;
          for (const SendRow& row : batch->rows) {
            if (!row.duplicate) visible_ats.push_back(batch->sent_ms + row.delay_ms);
          }
          if (!fifo) NoteTenants(q, *batch);
          AfterSend(q, visible_ats, batch->sent_ms);
          done(std::move(batch->results));
        },
        // One INSERT, which undoes itself if it fails: no savepoint needed
        // (a seq reservation before it may stay: a higher mark is harmless).
        !fifo && batch->rows.size() <= static_cast<size_t>(kMaxBatchEntries)
            ? db::Database::CallerUndo::kNone
            : db::Database::CallerUndo::kSavepoint);
  }

  // The tenants of a standard queue's sends that carry a MessageGroupId
  // (fair queues): when each last sent. No lock for a batch without one.
  void NoteTenants(const QueuePtr& q, const SendBatchState& batch) {
    const auto grouped = [&](const SendRow& row) {
      return !batch.requests[row.index].group_id.empty();
    };
    if (std::none_of(batch.rows.begin(), batch.rows.end(), grouped)) return;
    std::lock_guard lock(mu_);
    for (const SendRow& row : batch.rows) {
      q->tenants.NoteSend(batch.requests[row.index].group_id, batch.sent_ms);
    }
  }

  // A standard queue's send: one multi-row INSERT per kMaxBatchEntries rows.
  Status InsertRows(db::Txn& txn, const QueuePtr& q, SendBatchState& batch) {
    const int64_t now = batch.sent_ms;
    for (size_t first = 0; first < batch.rows.size(); first += kMaxBatchEntries) {
      const size_t n = std::min(batch.rows.size() - first, static_cast<size_t>(kMaxBatchEntries));
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(InsertMessagesSql(n)));
      st.Bind(1, q->id).Bind(2, now);
      for (size_t i = 0; i < n; ++i) {
        const SendRow& row = batch.rows[first + i];
        const SendRequest& r = batch.requests[row.index];
        IMGBATCH_ASSIGN_OR_RETURN(IdentifiedRow id, NextRow(now));
        // Bound from where it lives until the completion (BindView).
        std::string& message_id = batch.results[row.index]->message_id;
        message_id = std::move(id.message_id);
        BindMessageRow(st, i, id.seq, message_id, row.body_md5, r, row.attributes,
                       now + row.delay_ms);
      }
      IMGBATCH_RETURN_IF_ERROR(st.Run());
    }
    return Status::Ok();
  }

  // A FIFO queue's send, row by row: a deduplication id seen in the last
  // five minutes (in its scope) answers with the message it named, and
  // queues nothing; a new one is remembered with the row it queues.
  Status InsertFifoRows(db::Txn& txn, const QueuePtr& q, SendBatchState& batch,
                        bool dedup_per_group) {
    const int64_t now = batch.sent_ms;
    for (SendRow& row : batch.rows) {
      const SendRequest& r = batch.requests[row.index];
      SendResult& result = *batch.results[row.index];
      const DedupLog::Key key{q->id, DedupScope(r, dedup_per_group), r.dedup_id, row.fingerprint};
      IMGBATCH_ASSIGN_OR_RETURN(std::optional<DedupLog::Remembered> seen,
                                dedup_.Find(txn, key, now));
      row.duplicate = seen.has_value();
      if (seen) {
        result.message_id = std::move(seen->message_id);
        result.sequence_number = SequenceNumberOf(seen->seq);
        continue;
      }
      IMGBATCH_ASSIGN_OR_RETURN(IdentifiedRow id, NextRow(now));
      result.message_id = std::move(id.message_id);
      result.sequence_number = SequenceNumberOf(id.seq);
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement insert, txn.Prepare(InsertMessagesSql(1)));
      insert.Bind(1, q->id).Bind(2, now);
      BindMessageRow(insert, 0, id.seq, result.message_id, row.body_md5, r, row.attributes,
                     now + row.delay_ms);
      IMGBATCH_RETURN_IF_ERROR(insert.Run());
      IMGBATCH_RETURN_IF_ERROR(
          dedup_.Remember(txn, key, result.message_id, id.seq, now + kDeduplicationIntervalMs));
    }
    return Status::Ok();
  }

  // The deduplication scope of a FIFO send: its message group under
  // DeduplicationScope messageGroup, else the whole queue ("").
  static std::string_view DedupScope(const SendRequest& r, bool dedup_per_group) {
    return dedup_per_group ? std::string_view(r.group_id) : std::string_view();
  }

  Result<SendResult> SendInTransaction(db::Txn& txn, std::string_view queue,
                                       SendRequest request) override {
    QueuePtr q = Find(queue);
    if (!q) return QueueNotFound();
    const std::shared_ptr<const QueueConfig> held = ConfigOf(q);
    const QueueConfig& config = *held;
    const int64_t now = NextSentMillis();  // txn is the writer's
    IMGBATCH_RETURN_IF_ERROR(ValidateSend(request, config));
    const int delay = request.delay_seconds.value_or(config.delay_seconds);
    IMGBATCH_RETURN_IF_ERROR(ReserveSeqs(txn, 1));
    IMGBATCH_ASSIGN_OR_RETURN(const IdentifiedRow id, NextRow(now));
    SendResult sent{id.message_id, Md5OfBody(request.body), Md5OfAttributes(request.attributes),
                    ""};
    const int64_t visible_at = now + delay * 1000LL;
    IMGBATCH_RETURN_IF_ERROR(InsertMessage(txn, q, request, id, sent.md5_of_body,
                                           EncodeAttributes(request.attributes), now, visible_at));
    // In-memory counts and waiters change only once the row is durable.
    txn.OnCommit([this, q, visible_at, now, group = config.fifo ? "" : request.group_id] {
      if (!group.empty()) {
        std::lock_guard lock(mu_);
        q->tenants.NoteSend(group, now);
      }
      AfterSend(q, {visible_at}, now);
    });
    return sent;
  }

  Status InsertMessage(db::Txn& txn, const QueuePtr& q, const SendRequest& r,
                       const IdentifiedRow& id, const std::string& body_md5,
                       const std::string& attributes, int64_t now, int64_t visible_at) {
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(InsertMessagesSql(1)));
    st.Bind(1, q->id).Bind(2, now);
    BindMessageRow(st, 0, id.seq, id.message_id, body_md5, r, attributes, visible_at);
    return st.Run();
  }

  // Keeps sqlite_sequence at or above the seqs the next n rows will take, so
  // that their INSERTs leave it alone: AUTOINCREMENT rewrites its row (one
  // more page in the commit) only when a row's seq passes the stored value.
  // One UPDATE per kSeqReservation seqs instead, in the sender's own
  // transaction; a restart starts after the reservation (Load), skipping
  // what was left of it. If that transaction rolls back, the stored value
  // stays lower than seq_reserved_ says, and AUTOINCREMENT itself keeps it
  // at the highest row, as before: only the page saving is lost until the
  // next reservation. Only inside a write (the writer thread).
  Status ReserveSeqs(db::Txn& txn, size_t n) {
    NoteSeqsOfThisTransaction(txn);
    const int64_t highest = last_seq_.load() + static_cast<int64_t>(n);
    if (highest <= seq_reserved_) return Status::Ok();
    const int64_t mark = highest + kSeqReservation;
    IMGBATCH_ASSIGN_OR_RETURN(
        db::Statement update,
        txn.Prepare("UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'queue_messages'"));
    IMGBATCH_RETURN_IF_ERROR(update.Bind(1, mark).Run());
    if (update.changes() == 0) {  // no row inserted yet since the table was made
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement insert,
          txn.Prepare("INSERT INTO sqlite_sequence(name, seq) VALUES ('queue_messages', ?1)"));
      IMGBATCH_RETURN_IF_ERROR(insert.Bind(1, mark).Run());
    }
    seq_reserved_ = mark;
    return Status::Ok();
  }

  // Remembers the first seq the transaction gives (every send reserves seqs
  // before it takes them), so a receive can tell a row sent in its own
  // transaction (SentInThisTransaction). Only inside a write.
  void NoteSeqsOfThisTransaction(const db::Txn& txn) {
    if (txn.TransactionNumber() == seq_transaction_) return;
    seq_transaction_ = txn.TransactionNumber();
    first_seq_of_transaction_ = last_seq_.load() + 1;
  }

  // Whether any of the taken rows was sent in this transaction: not durable
  // before the transaction's sync, however early the receive is completed.
  bool SentInThisTransaction(const db::Txn& txn, const std::vector<TakenMessage>& taken) const {
    if (txn.TransactionNumber() != seq_transaction_) return false;
    return std::any_of(taken.begin(), taken.end(),
                       [&](const TakenMessage& t) { return t.seq >= first_seq_of_transaction_; });
  }

  // The next seq and its id; only inside a write (the writer thread). A seq
  // is never given twice, also when its group rolls back (a gap is fine;
  // AUTOINCREMENT keeps the highest inserted in sqlite_sequence for Load).
  Result<IdentifiedRow> NextRow(int64_t sent_ms) {
    const int64_t seq = last_seq_.fetch_add(1) + 1;
    auto id = MessageIdForSeq(sent_ms, seq);
    if (!id) return Internal("message sequence exhausted at " + std::to_string(seq));
    return IdentifiedRow{seq, std::move(*id)};
  }

  // Binds row `row` (0-based) of an InsertMessagesSql statement, without
  // copies (BindView): every string must outlive the statement's Run().
  static void BindMessageRow(db::Statement& st, size_t row, int64_t seq,
                             const std::string& message_id, const std::string& body_md5,
                             const SendRequest& r, const std::string& attributes,
                             int64_t visible_at) {
    const int p = kInsertFirstRowParam + static_cast<int>(row) * kInsertParamsPerRow;
    st.Bind(p, seq)
        .BindView(p + 1, message_id)
        .BindBlobView(p + 2, r.body)
        .BindBlobView(p + 3, attributes)
        .BindView(p + 4, r.sender_id)
        .BindView(p + 5, r.trace_header)
        .Bind(p + 6, visible_at)
        .BindView(p + 7, body_md5)
        .BindView(p + 8, r.group_id);
    if (!r.dedup_id.empty()) st.BindView(p + 9, r.dedup_id);
  }

  // Counts the new messages and wakes parked receivers (or the engine thread
  // for a new delay deadline).
  void AfterSend(const QueuePtr& q, const std::vector<int64_t>& visible_ats, int64_t now) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      q->message_count += static_cast<int64_t>(visible_ats.size());
      ++q->send_generation;
      int64_t receivable = 0;
      for (int64_t visible_at : visible_ats) {
        if (visible_at <= now) {
          wake = true;
          ++receivable;
        } else {
          q->next_visible_ms = std::min(q->next_visible_ms, visible_at);
        }
      }
      if (!q->waiters.empty()) {
        q->wake_messages += receivable;
        // At the in-flight quota a serve would find no room and put every
        // waiter back: a write per send for nothing. The delete, visibility
        // change or recount that makes room wakes them (wake_messages kept).
        if (wake && CanServe(q)) wake_.insert(q);
        wake = true;  // new delay deadline to consider
      } else {
        // Nobody parked: the engine thread has nothing to do for this send
        // (waking it per send cost a context switch on every request).
        wake = false;
      }
    }
    if (wake) cv_.notify_all();
  }

  void Receive(std::string_view queue, ReceiveOptions options, ReceiveCallback done) override {
    QueuePtr q = Find(queue);
    if (!q) return done(QueueNotFound());
    if (options.max_messages < 1 || options.max_messages > kMaxReceiveMessages) {
      return done(InvalidParameter(
          "Value " + std::to_string(options.max_messages) +
          " for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, "
          "if provided."));
    }
    const std::shared_ptr<const QueueConfig> held = ConfigOf(q);
    const QueueConfig& config = *held;
    const int visibility = options.visibility_timeout.value_or(config.visibility_timeout);
    if (visibility < 0 || visibility > kMaxVisibilityTimeout) {
      return done(InvalidParameter("Value " + std::to_string(visibility) +
                                   " for parameter VisibilityTimeout is invalid. Reason: Must be "
                                   "between 0 and 43200, if provided."));
    }
    int wait = options.wait_seconds.value_or(config.receive_wait_seconds);
    if (wait < 0 || wait > kMaxWaitSeconds) {
      return done(InvalidParameter("Value " + std::to_string(wait) +
                                   " for parameter WaitTimeSeconds is invalid. Reason: Must be >= "
                                   "0 and <= 20, if provided."));
    }
    if (Status quota = TakeFifoCall(q, "ReceiveMessage", config.throughput_per_group);
        !quota.ok()) {
      return done(std::move(quota));
    }
    uint64_t generation = 0;
    bool maybe_messages = true;
    {
      std::lock_guard lock(mu_);
      if (waits_released_) wait = 0;  // shutting down: answer now
      generation = q->send_generation;
      maybe_messages = q->message_count > 0;
    }
    if (!maybe_messages && wait == 0) return done(std::vector<ReceivedMessage>{});
    // At the quota a FIFO queue's receive and a long poll get nothing from
    // ReceiveInTxn (the long poll waits for room); a short poll is refused.
    if (!q->fifo && wait == 0 && visibility > 0 && InFlightRoom(q) <= 0) {
      return done(InFlightOverLimit(q->name, InFlightQuota(q)));
    }
    Waiter w;
    w.max_messages = options.max_messages;
    w.visibility_timeout = visibility;
    w.deadline_ms = clock_.MonotonicMillis() + wait * 1000LL;
    w.abandoned = std::move(options.abandoned);
    w.done = std::move(done);
    if (q->fifo) w.attempt_id = options.attempt_id;
    if (!maybe_messages) return Park(q, std::move(w), generation);
    ReceiveNowAsync(q, w.max_messages, visibility, q->fifo ? options.attempt_id : std::string(),
                    std::move(options.complete_on),
                    [this, q, wait, generation,
                     w = std::move(w)](Result<std::vector<ReceivedMessage>> got) mutable {
                      if (!got.ok() || !got->empty() || wait == 0) return w.done(std::move(got));
                      Park(q, std::move(w), generation);
                    });
  }

  // Parks a long poll until messages arrive or its deadline (engine thread).
  // `generation` is the queue's send generation seen before the receive
  // looked: a send since then may have been missed, so serve at once.
  void Park(const QueuePtr& q, Waiter w, uint64_t generation) {
    bool deleted = false;
    {
      std::lock_guard lock(mu_);
      deleted = q->deleted;
      if (!deleted && !waits_released_) {
        q->waiters.Park(std::move(w));
        if (q->send_generation != generation) wake_.insert(q);
        cv_.notify_all();
        return;
      }
    }
    // Deleted meanwhile, or shutting down (answer now with nothing).
    if (deleted) return w.done(QueueNotFound());
    w.done(std::vector<ReceivedMessage>{});
  }

  Status Delete(std::string_view queue, std::string_view receipt_handle) override {
    IMGBATCH_ASSIGN_OR_RETURN(auto results, DeleteBatch(queue, {std::string(receipt_handle)}));
    return results.front();
  }

  Result<std::vector<Status>> DeleteBatch(std::string_view queue,
                                          const std::vector<std::string>& handles) override {
    return AwaitCompletion<Result<std::vector<Status>>>(
        [&](StatusesCallback done) { DeleteBatchAsync(queue, handles, std::move(done)); });
  }

  void DeleteBatchAsync(std::string_view queue, std::vector<std::string> handles,
                        StatusesCallback done) override {
    QueuePtr q = Find(queue);
    if (!q) return done(QueueNotFound());
    if (q->fifo) {
      Status quota = TakeFifoCall(q, "DeleteMessage", ConfigOf(q)->throughput_per_group);
      if (!quota.ok()) return done(std::move(quota));
    }
    // Owned by the write and its completion.
    struct Batch {
      std::vector<std::string> handles;
      std::vector<Status> results;
      std::vector<std::pair<size_t, Receipt>> valid;
      int64_t removed = 0;
      bool was_at_quota = false;  // long polls may be waiting for room
    };
    auto batch = std::make_shared<Batch>();
    batch->results.resize(handles.size());
    for (size_t i = 0; i < handles.size(); ++i) {
      auto r = receipts_->Decode(handles[i]);
      if (!r || r->queue_id != q->id) {
        batch->results[i] = InvalidReceiptHandle(handles[i]);
      } else {
        batch->valid.emplace_back(i, *r);
      }
    }
    if (batch->valid.empty()) return done(std::move(batch->results));
    batch->handles = std::move(handles);
    const int64_t now = clock_.NowMillis();
    WriteAsync(
        [this, q, batch, now](db::Txn& txn) -> Status {
          batch->removed = 0;
          // One single-row statement per receipt. Each entry's outcome is its
          // own: a statement that fails undoes only itself (SQLite's
          // statement rollback), so this caller never ends half done and
          // needs no savepoint (CallerUndo::kNone). After a failure the
          // entries left are not tried (the error may have ended the
          // transaction) and report that error.
          IMGBATCH_ASSIGN_OR_RETURN(
              db::Statement keyed,
              txn.Prepare(q->fifo ? sql::kDeleteInFlightReceipt : sql::kDeleteReceipt));
          if (q->fifo) keyed.Bind(5, now);
          Status failed;
          for (const auto& [index, receipt] : batch->valid) {
            const int64_t removed_before = batch->removed;
            if (failed.ok()) failed = DeleteByReceipt(txn, keyed, receipt, batch->removed);
            if (failed.ok() && q->fifo && batch->removed == removed_before) {
              auto queued = RowExists(txn, receipt);
              if (!queued.ok()) failed = queued.status();
              if (queued.ok() && *queued) {
                batch->results[index] = ExpiredReceiptHandle(batch->handles[index]);
              }
            }
            if (!failed.ok()) batch->results[index] = failed;
          }
          // A delete with the latest receipt handle almost always removes a
          // message in flight; a recount corrects the rest.
          batch->was_at_quota = ReleaseInFlight(q, batch->removed);
          return Status::Ok();
        },
        [this, q, batch, done = std::move(done)](Status st) {
          if (!st.ok()) return done(std::move(st));
          {
            std::lock_guard lock(mu_);
            q->message_count -= batch->removed;
          }
          if (batch->removed > 0 && (q->fifo || batch->was_at_quota)) WakeWaiters(q);
          done(std::move(batch->results));
        },
        db::Database::CallerUndo::kNone);
  }

  // Whether receipt r names the latest receive of a row that now has this
  // receive count and last receive time (what kDeleteReceipt and
  // kDeleteLegacyReceipt ask of the row).
  bool IsLatestReceive(const Receipt& r, int64_t count, int64_t last_receive_ms) const {
    if (count != r.receive_count) return false;
    return r.legacy ? last_receive_ms < receipts_->legacy_before_ms()
                    : last_receive_ms == r.receive_ms;
  }

  // Whether the row receipt r names is still queued (a FIFO delete that
  // removed nothing: its receipt expired, or the message is gone).
  static Result<bool> RowExists(db::Txn& txn, const Receipt& r) {
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kRowExists));
    return st.Bind(1, r.queue_id).Bind(2, r.seq).Step();
  }

  // Deletes the message a receipt names if that receive is still its latest;
  // counts it in removed. `keyed` is kDeleteReceipt (a FIFO queue's
  // kDeleteInFlightReceipt, with ?5 bound), prepared once for a
  // whole batch (a cache lookup per entry is writer time). A legacy receipt
  // names no receive time: it may only delete a message last received
  // before handles were keyed.
  Status DeleteByReceipt(db::Txn& txn, db::Statement& keyed, const Receipt& r,
                         int64_t& removed) const {
    db::Statement st = keyed;
    if (r.legacy) {
      IMGBATCH_ASSIGN_OR_RETURN(st, txn.Prepare(sql::kDeleteLegacyReceipt));
    }
    const Status run = st.Bind(1, r.queue_id)
                           .Bind(2, r.seq)
                           .Bind(3, r.receive_count)
                           .Bind(4, r.legacy ? receipts_->legacy_before_ms() : r.receive_ms)
                           .Run();
    if (run.ok()) removed += st.changes();
    st.Reset();
    return run;
  }

  Result<std::vector<PeekedMessage>> Peek(std::string_view queue, int max) override {
    QueuePtr q = Find(queue);
    if (!q) return QueueNotFound();
    if (max < 1 || max > kMaxPeekMessages) {
      return InvalidParameter("max must be between 1 and " + std::to_string(kMaxPeekMessages) +
                              ".");
    }
    const std::shared_ptr<const QueueConfig> held = ConfigOf(q);
    const QueueConfig& config = *held;
    const int64_t now = clock_.NowMillis();
    std::vector<PeekedMessage> out;
    IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
      out.clear();
      // (queue_id, sent_ms) index: oldest first, expired ones skipped.
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, conn.Prepare(sql::kPeek));
      st.Bind(1, q->id).Bind(2, now - config.retention_period * 1000LL).Bind(3, int64_t{max});
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        PeekedMessage m;
        m.message_id = st.ColumnText(0);
        m.body = st.ColumnText(1);
        if (auto attributes = DecodeAttributes(st.ColumnText(2)); attributes.ok()) {
          m.attributes = std::move(*attributes);
        }
        m.sender_id = st.ColumnText(3);
        if (std::string source = st.ColumnText(4); !source.empty()) {
          m.dead_letter_source_arn = QueueArnFor(source);
        }
        m.sent_ms = st.ColumnInt(5);
        m.receive_count = static_cast<int>(st.ColumnInt(6));
        m.visible = st.ColumnInt(7) <= now;
        out.push_back(std::move(m));
      }
      return Status::Ok();
    }));
    return out;
  }

  Status DeleteById(std::string_view queue, std::string_view message_id) override {
    QueuePtr q = Find(queue);
    if (!q) return QueueNotFound();
    const int64_t now = clock_.NowMillis();
    int64_t removed = 0;
    bool was_at_quota = false;  // long polls may be waiting for room
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      removed = 0;
      was_at_quota = false;
      if (q->deleted) return QueueNotFound();
      // A rowid lookup for ids that carry their seq, an index lookup
      // (queue_messages_legacy_id) for older ones: a scan here would hold the
      // one writer, and so every send and receive, for a whole large DLQ.
      const std::optional<int64_t> seq = SeqOfMessageId(message_id);
      if (!seq && !legacy_ids_) return Status::Ok();  // no such row can exist
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement del,
                                txn.Prepare(seq ? sql::kDeleteBySeqId : sql::kDeleteByLegacyId));
      del.Bind(1, q->id).Bind(2, message_id).Bind(4, now);
      if (seq) del.Bind(3, *seq);
      int64_t in_flight = 0;
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, del.Step());
        if (!row) break;
        ++removed;
        in_flight += del.ColumnInt(0);
      }
      // A message in flight (mostly: one in a DLQ that an operator looked
      // at) leaves the estimate, as a delete by receipt does.
      was_at_quota = ReleaseInFlight(q, in_flight);
      return Status::Ok();
    }));
    if (removed == 0) {
      return NotFound("No message with id " + std::string(message_id) + " in queue " + q->name +
                      ".")
          .WithDetail("MessageNotFound");
    }
    {
      std::lock_guard lock(mu_);
      q->message_count -= removed;
    }
    if (was_at_quota && InFlightRoom(q) > 0) WakeWaiters(q);
    WakeHeldGroups(q);
    return Status::Ok();
  }

  Status ChangeVisibility(std::string_view queue, std::string_view receipt_handle,
                          int timeout_seconds) override {
    IMGBATCH_ASSIGN_OR_RETURN(
        auto results, ChangeVisibilityBatch(
                          queue, {VisibilityChange{std::string(receipt_handle), timeout_seconds}}));
    return results.front();
  }

  Result<std::vector<Status>> ChangeVisibilityBatch(
      std::string_view queue, const std::vector<VisibilityChange>& changes) override {
    QueuePtr q = Find(queue);
    if (!q) return QueueNotFound();
    const int64_t now = clock_.NowMillis();
    std::vector<Status> results(changes.size());
    std::vector<std::pair<size_t, Receipt>> valid;
    for (size_t i = 0; i < changes.size(); ++i) {
      const auto& c = changes[i];
      auto r = receipts_->Decode(c.receipt_handle);
      if (!r || r->queue_id != q->id) {
        results[i] = InvalidReceiptHandle(c.receipt_handle);
      } else if (c.timeout_seconds < 0 || c.timeout_seconds > kMaxVisibilityTimeout) {
        results[i] = InvalidParameter("Value " + std::to_string(c.timeout_seconds) +
                                      " for parameter VisibilityTimeout is invalid. Reason: Must "
                                      "be between 0 and 43200.");
      } else {
        valid.emplace_back(i, *r);
      }
    }
    if (valid.empty()) return results;
    int64_t earliest = kNever;
    int64_t released = 0;      // made visible now: in flight no more
    int64_t hidden_again = 0;  // visible after their timeout, hidden again by the change
    bool was_at_quota = false;
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      earliest = kNever;
      released = 0;
      hidden_again = 0;
      for (const auto& [index, r] : valid) {
        IMGBATCH_ASSIGN_OR_RETURN(
            db::Statement find,
            txn.Prepare("SELECT receive_count, visible_at_ms, last_receive_ms FROM queue_messages "
                        "WHERE seq = ?1 AND queue_id = ?2"));
        const int timeout = changes[index].timeout_seconds;
        const std::string& handle = changes[index].receipt_handle;
        IMGBATCH_ASSIGN_OR_RETURN(bool row, find.Bind(1, r.seq).Bind(2, r.queue_id).Step());
        if (!row) {
          results[index] =
              InvalidParameter("Value " + handle +
                               " for parameter ReceiptHandle is invalid. Reason: Message does "
                               "not exist or is not available for visibility timeout change.");
          continue;
        }
        const int64_t count = find.ColumnInt(0);
        const int64_t visible_at = find.ColumnInt(1);
        const int64_t last_receive = find.ColumnInt(2);
        if (!IsLatestReceive(r, count, last_receive)) {
          results[index] = ExpiredReceiptHandle(handle);
          continue;
        }
        // A standard queue's message whose timeout ran out, named by its
        // latest receipt (no one received it since), takes the change: AWS
        // answers 200 and hides it again (recorded against AWS,
        // docs/compat.md). One its consumer gave back (visibility 0, which
        // leaves it visible since its receive) is not in flight, as the API
        // Reference has it; nor is a FIFO message visible again: it is its
        // group's to hand out, in order.
        const bool in_flight = visible_at > now;
        const bool given_back = visible_at <= last_receive;
        if (!in_flight && (q->fifo || given_back)) {
          results[index] = Status(Code::kConflict, "The specified message isn't in flight.")
                               .WithDetail("MessageNotInflight");
          continue;
        }
        // The 12 h cap runs from the receive, counted in whole seconds as the API
        // is: 43200 right after a receive is allowed, as on AWS.
        if ((now - last_receive) / 1000 + timeout > kMaxVisibilityTimeout) {
          results[index] = InvalidParameter(
              "Value " + std::to_string(timeout) +
              " for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for "
              "the message is beyond the limit [43200 seconds]");
          continue;
        }
        // Given back (0): visible since its receive, which marks it so.
        const int64_t new_visible = timeout == 0 ? last_receive : now + timeout * 1000LL;
        IMGBATCH_ASSIGN_OR_RETURN(
            db::Statement update,
            txn.Prepare("UPDATE queue_messages SET visible_at_ms = ?2 WHERE seq = ?1"));
        IMGBATCH_RETURN_IF_ERROR(update.Bind(1, r.seq).Bind(2, new_visible).Run());
        earliest = std::min(earliest, new_visible);
        if (in_flight && timeout == 0) ++released;
        if (!in_flight && timeout > 0) ++hidden_again;
      }
      was_at_quota = ReleaseInFlight(q, released - hidden_again);
      return Status::Ok();
    }));
    if (earliest != kNever) NoteVisibleAt(q, earliest);
    if (released > 0 && was_at_quota) WakeWaiters(q);
    return results;
  }

  // ---- move tasks --------------------------------------------------------

  // The move task errors' codes and words are AWS's, as recorded against
  // it (docs/compat.md, "Message move tasks").
  static Status NoSuchQueueIn(std::string_view parameter) {
    return NotFound("The resource that you specified for the " + std::string(parameter) +
                    " parameter doesn't exist.")
        .WithDetail("ResourceNotFoundException");
  }

  Result<std::string> StartMoveTask(std::string_view source_arn, std::string_view destination_arn,
                                    std::optional<int> max_per_second) override {
    auto source_name = QueueNameFromArn(source_arn, options_.region, options_.account);
    QueuePtr source = source_name ? Find(*source_name) : nullptr;
    if (!source) return NoSuchQueueIn("SourceArn");
    std::string destination_name;
    if (!destination_arn.empty()) {
      auto d = QueueNameFromArn(destination_arn, options_.region, options_.account);
      QueuePtr destination = d ? Find(*d) : nullptr;
      if (!destination) return NoSuchQueueIn("DestinationArn");
      // Moving a queue's messages into itself would only forget where they
      // were dead-lettered from (our words: AWS's answer is not known).
      if (destination == source) {
        return InvalidParameter("The source and destination queues must be different queues.");
      }
      if (destination->fifo != source->fifo) {
        return InvalidParameter(
            "The destination queue must be of the same type (FIFO or standard) as the source "
            "queue.");
      }
      destination_name = *d;
    }
    if (max_per_second && (*max_per_second < 1 || *max_per_second > 500)) {
      return InvalidParameter("MaxNumberOfMessagesPerSecond must be between 1 and 500.");
    }
    IMGBATCH_ASSIGN_OR_RETURN(auto sources, DeadLetterSources(source->name));
    if (sources.empty()) {
      return InvalidParameter("Source queue must be configured as a Dead Letter Queue.");
    }
    // One running task per source: the check and the insert below must not
    // interleave with another start.
    std::lock_guard start_lock(move_start_mu_);
    if (RunningTaskFor(source->id)) {
      return InvalidParameter(
          "There is already a task running. Only one active task is allowed for a source queue "
          "arn at a given time.");
    }
    int64_t max_seq = 0, count = 0;
    IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement st,
          conn.Prepare("SELECT coalesce(max(seq), 0), count(*) FROM queue_messages "
                       "WHERE queue_id = ?1"));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Bind(1, source->id).Step());
      if (row) {
        max_seq = st.ColumnInt(0);
        count = st.ColumnInt(1);
      }
      return Status::Ok();
    }));
    auto task = std::make_shared<MoveTask>();
    task->info.task_handle = Base64Encode(
        nlohmann::json{{"taskId", NewMessageId()}, {"sourceArn", std::string(source_arn)}}.dump());
    task->info.source_arn = std::string(source_arn);
    task->info.destination_arn = std::string(destination_arn);
    task->info.max_per_second = max_per_second;
    task->info.to_move = count;
    task->info.started_ms = clock_.NowMillis();
    task->source_id = source->id;
    task->source_name = source->name;
    task->destination_name = destination_name;
    task->max_seq = max_seq;
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement ins,
          txn.Prepare("INSERT INTO queue_move_tasks(task_handle, source_queue_id, source_name, "
                      "source_arn, destination_arn, destination_name, max_per_second, status, "
                      "to_move, max_seq, started_ms) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'RUNNING', ?8, ?9, ?10)"));
      std::optional<int64_t> rate;
      if (max_per_second) rate = *max_per_second;
      IMGBATCH_RETURN_IF_ERROR(ins.Bind(1, task->info.task_handle)
                                   .Bind(2, task->source_id)
                                   .Bind(3, task->source_name)
                                   .Bind(4, task->info.source_arn)
                                   .Bind(5, task->info.destination_arn)
                                   .Bind(6, task->destination_name)
                                   .Bind(7, rate)
                                   .Bind(8, task->info.to_move)
                                   .Bind(9, task->max_seq)
                                   .Bind(10, task->info.started_ms)
                                   .Run());
      task->row_id = ins.last_insert_rowid();
      // Keep the history small: finished tasks older than the newest
      // kMaxMoveTasksRemembered go.
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement prune,
          txn.Prepare("DELETE FROM queue_move_tasks WHERE status <> 'RUNNING' AND id NOT IN "
                      "(SELECT id FROM queue_move_tasks ORDER BY id DESC LIMIT ?1)"));
      return prune.Bind(1, static_cast<int64_t>(kMaxMoveTasksRemembered)).Run();
    }));
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(task);
      for (size_t i = 0; i + kMaxMoveTasksRemembered < tasks_.size();) {
        if (tasks_[i]->info.status != MoveTaskStatus::kRunning) {
          tasks_.erase(tasks_.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          ++i;
        }
      }
    }
    cv_.notify_all();
    return task->info.task_handle;
  }

  Result<std::vector<MoveTaskInfo>> ListMoveTasks(std::string_view source_arn,
                                                  int max_results) override {
    auto name = QueueNameFromArn(source_arn, options_.region, options_.account);
    if (!name || !Find(*name)) return NoSuchQueueIn("SourceArn");
    if (max_results < 1 || max_results > kMaxMoveTasksListed) {
      return InvalidParameter("MaxResults must be between 1 and 10.");
    }
    std::vector<MoveTaskInfo> out;
    std::lock_guard lock(mu_);
    for (auto it = tasks_.rbegin();
         it != tasks_.rend() && static_cast<int>(out.size()) < max_results; ++it) {
      if ((*it)->info.source_arn == source_arn) out.push_back((*it)->info);
    }
    return out;
  }

  Result<int64_t> CancelMoveTask(std::string_view task_handle) override {
    // A handle is base64 of {"taskId", "sourceArn"}: one that is not, or
    // names no queue, is told apart from a task that is not known.
    const auto decoded = Base64Decode(task_handle);
    const nlohmann::json fields =
        decoded ? nlohmann::json::parse(*decoded, nullptr, false) : nlohmann::json();
    if (!fields.is_object() || !fields.contains("taskId") || !fields.contains("sourceArn") ||
        !fields["sourceArn"].is_string()) {
      return InvalidParameter("Value for parameter TaskHandle is invalid.");
    }
    auto source_name =
        QueueNameFromArn(fields["sourceArn"].get<std::string>(), options_.region, options_.account);
    if (!source_name || !Find(*source_name)) return NoSuchQueueIn("SourceArn");
    std::shared_ptr<MoveTask> task;
    {
      std::lock_guard lock(mu_);
      for (auto& t : tasks_) {
        if (t->info.task_handle == task_handle) task = t;
      }
    }
    if (!task) return NotFound("Task does not exist.").WithDetail("ResourceNotFoundException");
    const Status not_active =
        InvalidParameter("Only active tasks can be cancelled.").WithDetail("UnsupportedOperation");
    int64_t moved = 0;
    // Serialized with the task's steps by the writer: a step that commits
    // first is counted, one that comes after sees the task cancelled and
    // rolls back.
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement cancel,
          txn.Prepare("UPDATE queue_move_tasks SET status = 'CANCELLED' "
                      "WHERE id = ?1 AND status = 'RUNNING' RETURNING moved"));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, cancel.Bind(1, task->row_id).Step());
      if (!row) return not_active;
      moved = cancel.ColumnInt(0);
      return Status::Ok();
    }));
    MarkFinished(task, MoveTaskStatus::kCancelled, "");
    return moved;
  }

  void Poke() override { cv_.notify_all(); }

  Status ExpireMessages() override {
    const int64_t now = clock_.NowMillis();
    IMGBATCH_RETURN_IF_ERROR(ForgetDeduplicationIds(now));
    IMGBATCH_RETURN_IF_ERROR(ForgetReceiveAttempts(now));
    IMGBATCH_RETURN_IF_ERROR(SampleTenants(now));
    IMGBATCH_RETURN_IF_ERROR(RecountInFlight(now));
    std::vector<std::pair<QueuePtr, int64_t>> cutoffs;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, q] : queues_) {
        if (q->message_count > 0) {
          cutoffs.emplace_back(q, now - q->config->retention_period * 1000LL);
        }
      }
    }
    if (cutoffs.empty()) return Status::Ok();
    CountDeltas deltas;
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      deltas = {};
      for (const auto& [q, cutoff] : cutoffs) {
        // The expired messages are the oldest by seq (kExpireOldest): chunks
        // from the front until one is not wholly expired.
        while (true) {
          IMGBATCH_ASSIGN_OR_RETURN(db::Statement del, txn.Prepare(sql::kExpireOldest));
          IMGBATCH_RETURN_IF_ERROR(
              del.Bind(1, q->id).Bind(2, cutoff).Bind(3, int64_t{kExpireChunk}).Run());
          deltas.Add(q, -del.changes());
          if (del.changes() < kExpireChunk) break;
        }
      }
      // The engine thread sweeps concurrently with callers: adjust the
      // counters as part of the commit, so no Write() returns between the
      // rows disappearing and the counts following them.
      txn.OnCommit([this, deltas] { Apply(deltas); });
      return Status::Ok();
    }));
    return Status::Ok();
  }

  // Fair queues: counts each standard queue's messages in flight by tenant
  // (on a read connection; the count grows with the messages in flight, not
  // with the backlog) and recomputes its noisy tenants. Only queues whose
  // sends carried a MessageGroupId in the last five minutes, or whose tenants
  // still weigh in the average, are read.
  Status SampleTenants(int64_t now) {
    std::vector<QueuePtr> sampled;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, q] : queues_) {
        if (!q->fifo && q->tenants.following()) sampled.push_back(q);
      }
    }
    for (const QueuePtr& q : sampled) {
      absl::flat_hash_map<std::string, int64_t> by_group;
      int64_t total = 0;
      IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
        by_group.clear();
        total = 0;
        IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, conn.Prepare(sql::kInFlightGroups));
        st.Bind(1, q->id).Bind(2, now);
        while (true) {
          IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) return Status::Ok();
          ++total;
          if (std::string group = st.ColumnText(0); !group.empty()) ++by_group[std::move(group)];
        }
      }));
      std::vector<std::pair<std::string, int64_t>> in_flight(by_group.begin(), by_group.end());
      std::lock_guard lock(mu_);
      std::shared_ptr<NoisyTenants> noisy = q->tenants.Sample(in_flight, total, now);
      if (noisy) noisy->sample = ++noisy_samples_;
      // A tenant no longer noisy: its rows behind the quiet cursor are quiet
      // ones now, so fair receives look for them again from the start.
      if (q->noisy) {
        for (const auto& t : q->noisy->tenants) {
          if (!noisy || !noisy->Find(t.group)) q->quiet_cursor_stale = true;
        }
      }
      q->noisy = std::move(noisy);
      q->has_noisy = q->noisy != nullptr;
    }
    return Status::Ok();
  }

  // The noisy tenants of a standard queue at the last sample, or null.
  std::shared_ptr<const NoisyTenants> NoisyOf(const QueuePtr& q) {
    if (!q->has_noisy) return nullptr;
    std::lock_guard lock(mu_);
    return q->noisy;
  }

  std::vector<std::pair<std::string, int64_t>> NoisyGroups() override {
    std::vector<std::pair<std::string, int64_t>> out;
    std::lock_guard lock(mu_);
    for (const auto& [name, q] : queues_) {
      if (q->fifo || !q->tenants.following()) continue;
      out.emplace_back(name, q->noisy ? static_cast<int64_t>(q->noisy->tenants.size()) : 0);
    }
    return out;
  }

  std::vector<std::pair<std::string, int64_t>> ThrottledCalls() override {
    std::vector<std::pair<std::string, int64_t>> out;
    std::lock_guard lock(mu_);
    for (const auto& [name, q] : queues_) {
      if (q->fifo) out.emplace_back(name, q->throttled_calls.load(std::memory_order_relaxed));
    }
    return out;
  }

  // Drops the FIFO deduplication ids older than the interval; skipped while
  // none is stored.
  Status ForgetDeduplicationIds(int64_t now) {
    if (!dedup_.maybe_stored()) return Status::Ok();
    Status st = db_.Write([&](db::Txn& txn) { return dedup_.ForgetExpired(txn, now); });
    if (!st.ok()) dedup_.MarkStale();
    return st;
  }

  // Drops the stored receive attempts that expired: a prefix of the table
  // (appended in time order), found from its head. Skipped while none is
  // stored. The in-memory copies are pruned by RememberAttempt.
  Status ForgetReceiveAttempts(int64_t now) {
    if (!attempts_stored_) return Status::Ok();
    return db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement first_live,
          txn.Prepare("SELECT id FROM queue_receive_attempts WHERE expires_ms > ?1 ORDER BY id "
                      "LIMIT 1"));
      IMGBATCH_ASSIGN_OR_RETURN(bool live, first_live.Bind(1, now).Step());
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement del, txn.Prepare(live ? "DELETE FROM queue_receive_attempts WHERE id < ?1"
                                              : "DELETE FROM queue_receive_attempts"));
      if (live) del.Bind(1, first_live.ColumnInt(0));
      IMGBATCH_RETURN_IF_ERROR(del.Run());
      attempts_stored_ = live;
      return Status::Ok();
    });
  }

  std::string QueueArnFor(std::string_view name) const override {
    return QueueArn(options_.region, options_.account, name);
  }
  const EngineOptions& options() const override { return options_; }

 private:
  // A send's sent_ms: the clock, but never below the previous send's, so
  // that seq order (the order of inserts) is sent_ms order in every queue
  // (kExpireOldest, kPeek rely on it) even if the wall clock steps back.
  // Called inside write transactions.
  int64_t NextSentMillis() {
    const int64_t now = clock_.NowMillis();
    int64_t last = last_sent_ms_.load();
    while (last < now && !last_sent_ms_.compare_exchange_weak(last, now)) {
    }
    return std::max(now, last);
  }

  // FIFO queues' throughput quota (queue/call_rate.h) for one call of
  // `method`: Ok, or RequestThrottled. With FifoThroughputLimit=
  // perMessageGroupId it counts per message group, so only calls that name
  // their groups (sends) count. Standard queues have no quota.
  Status TakeFifoCall(const QueuePtr& q, std::string_view method, bool per_group,
                      const std::vector<std::string>& groups = {}) {
    const int64_t quota = options_.fifo_calls_per_second;
    if (!q->fifo || quota <= 0) return Status::Ok();
    std::vector<std::string> keys;
    if (!per_group) {
      keys.emplace_back(method);
    } else {
      for (const std::string& group : groups) {
        if (!group.empty()) keys.push_back(std::string(method) + '/' + group);
      }
    }
    if (keys.empty() || q->calls.TryTake(std::move(keys), quota, clock_.MonotonicMillis())) {
      return Status::Ok();
    }
    q->throttled_calls.fetch_add(1, std::memory_order_relaxed);
    return Throttled(q->name, per_group ? std::string(method) + " (per message group)" : method,
                     quota);
  }

  QueuePtr Find(std::string_view name) {
    std::lock_guard lock(mu_);
    auto it = queues_.find(name);
    return it == queues_.end() ? nullptr : it->second;
  }

  std::shared_ptr<const QueueConfig> ConfigOf(const QueuePtr& q) {
    std::lock_guard lock(mu_);
    return q->config;
  }

  QueueInfo Info(const QueuePtr& q) {
    std::lock_guard lock(mu_);
    return QueueInfo{q->name,       QueueArnFor(q->name),
                     q->created_ms, q->modified_ms,
                     q->fifo,       q->config->content_based_deduplication};
  }

  // Count changes are applied after their commit, each by its own thread,
  // so two may land in the other order than their commits (a move task's
  // step and a purge of its destination). Added whole, never clamped, they
  // sum to the rows once both are in; Counts clamps what it shows.
  void Apply(const CountDeltas& deltas) {
    std::lock_guard lock(mu_);
    for (const auto& [q, d] : deltas.by_queue) q->message_count += d;
  }

  // Records that a message of q becomes visible at t; wakes the engine when
  // that is earlier than what parked waiters were waiting for.
  void NoteVisibleAt(const QueuePtr& q, int64_t t) {
    bool notify = false;
    {
      std::lock_guard lock(mu_);
      if (t < q->next_visible_ms) {
        q->next_visible_ms = t;
        notify = !q->waiters.empty();
      }
    }
    if (notify) cv_.notify_all();
  }

  // The dead-letter target must exist and allow this source.
  Status CheckRedrive(std::string_view name, const QueueConfig& config) {
    if (!config.redrive) return Status::Ok();
    const std::string& target = config.redrive->dead_letter_target_arn;
    auto dlq_name = QueueNameFromArn(target, options_.region, options_.account);
    QueuePtr dlq = dlq_name ? Find(*dlq_name) : nullptr;
    if (!dlq) {
      return InvalidParameter("Value " + config.redrive_policy +
                              " for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                              "target does not exist.");
    }
    if (dlq->fifo != config.fifo) {
      return InvalidParameter("Value " + config.redrive_policy +
                              " for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                              "target must be of the same type (FIFO or standard) as the source "
                              "queue.");
    }
    if (!RedriveAllowed(ConfigOf(dlq)->redrive_allow_policy, QueueArnFor(name))) {
      return InvalidParameter("Value " + config.redrive_policy +
                              " for parameter RedrivePolicy is invalid. Reason: Dead-letter "
                              "queue's RedriveAllowPolicy does not allow this source queue.");
    }
    return Status::Ok();
  }

  Status ValidateSend(const SendRequest& r, const QueueConfig& config) {
    if (r.delay_seconds && (*r.delay_seconds < 0 || *r.delay_seconds > kMaxDelaySeconds)) {
      return InvalidParameter("Value " + std::to_string(*r.delay_seconds) +
                              " for parameter DelaySeconds is invalid. Reason: DelaySeconds must "
                              "be >= 0 and <= 900.");
    }
    if (r.body.empty()) {
      return InvalidArgument("The request must contain the parameter MessageBody.")
          .WithDetail("MissingParameter");
    }
    IMGBATCH_RETURN_IF_ERROR(ValidateBody(r.body));
    IMGBATCH_RETURN_IF_ERROR(ValidateAttributes(r.attributes));
    // Served back as the AWSTraceHeader system attribute, in XML and JSON.
    if (!CountXmlCharacters(r.trace_header)) {
      return InvalidParameter("Message system attribute AWSTraceHeader must be Unicode text.");
    }
    IMGBATCH_RETURN_IF_ERROR(ValidateIdText("MessageGroupId", r.group_id));
    IMGBATCH_RETURN_IF_ERROR(ValidateQueueTypeRules(r, config));
    const size_t size = MessageSize(r.body, r.attributes);
    if (size > static_cast<size_t>(config.maximum_message_size)) {
      return InvalidParameter(
          "One or more parameters are invalid. Reason: Message must be "
          "shorter than " +
          std::to_string(config.maximum_message_size) + " bytes.");
    }
    return Status::Ok();
  }

  Status WriteTags(db::Txn& txn, int64_t queue_id, const AttributeMap& tags) {
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement del,
                              txn.Prepare("DELETE FROM queue_tags WHERE queue_id = ?1"));
    IMGBATCH_RETURN_IF_ERROR(del.Bind(1, queue_id).Run());
    for (const auto& [k, v] : tags) {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement ins,
          txn.Prepare("INSERT INTO queue_tags(queue_id, key, value) VALUES (?1, ?2, ?3)"));
      IMGBATCH_RETURN_IF_ERROR(ins.Bind(1, queue_id).Bind(2, k).Bind(3, v).Run());
    }
    return Status::Ok();
  }

  // Writes a queue's new configuration (the caller holds settings_mu_, so
  // that read-modify-writes of one queue's settings do not lose each other).
  Status StoreConfig(const QueuePtr& q, const QueueConfig& next) {
    const int64_t now = clock_.NowMillis();
    const std::string stored = EncodeAttributeMap(next.ToMap());
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      if (q->deleted) return QueueNotFound();
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement st,
          txn.Prepare("UPDATE queues SET attributes = ?2, modified_ms = ?3 WHERE id = ?1"));
      return st.Bind(1, q->id).Bind(2, stored).Bind(3, now).Run();
    }));
    {
      std::lock_guard lock(mu_);
      q->config = std::make_shared<const QueueConfig>(next);
      q->modified_ms = now;
    }
    cv_.notify_all();  // a longer retention or shorter delay changes deadlines
    return Status::Ok();
  }

  Status ReplaceTags(const QueuePtr& q, const AttributeMap& tags) {
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) -> Status {
      if (q->deleted) return QueueNotFound();
      return WriteTags(txn, q->id, tags);
    }));
    std::lock_guard lock(mu_);
    q->tags = tags;
    return Status::Ok();
  }

  Result<QueueCounts> CountsOf(const QueuePtr& q) {
    const int64_t now = clock_.NowMillis();
    QueueCounts counts;
    int64_t total = 0;
    IMGBATCH_RETURN_IF_ERROR(db_.Read([&](db::Conn& conn) -> Status {
      counts = {};
      // Visible = total (kept in memory) - hidden. The hidden ones are
      // counted at this instant, so visibility and delay expiry need no
      // bookkeeping; the count reads only the covering index range of
      // hidden messages (no table rows, no sort).
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, conn.Prepare(sql::kCountHidden));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Bind(1, q->id).Bind(2, now).Step());
      if (row) {
        const int64_t hidden = st.ColumnInt(0);
        counts.not_visible = st.ColumnInt(1);
        counts.delayed = hidden - counts.not_visible;
      }
      return Status::Ok();
    }));
    {
      std::lock_guard lock(mu_);
      total = q->message_count;
    }
    counts.visible = std::max<int64_t>(0, total - counts.not_visible - counts.delayed);
    return counts;
  }

  // Where a message of q goes instead of being delivered again, if anywhere.
  QueuePtr DeadLetterTarget(const QueueConfig& config) {
    if (!config.redrive) return nullptr;
    auto name =
        QueueNameFromArn(config.redrive->dead_letter_target_arn, options_.region, options_.account);
    return name ? Find(*name) : nullptr;
  }

  // A row a receive may take, with the visibility time it is ordered by.
  struct Visible {
    int64_t visible_at_ms;
    TakenMessage row;
  };

  // Reads the rows of a bound sql::kReceive or sql::kReceiveFresh (same
  // columns), to the end (LIMIT), so no read cursor stays open, leaving out
  // the seqs in `skip`.
  static Status ReadVisibleRows(db::Statement& st, const std::vector<int64_t>& skip,
                                std::vector<Visible>& out) {
    while (true) {
      IMGBATCH_ASSIGN_OR_RETURN(bool more, st.Step());
      if (!more) return Status::Ok();
      if (std::find(skip.begin(), skip.end(), st.ColumnInt(0)) != skip.end()) continue;
      Visible v;
      TakenMessage& row = v.row;
      row.seq = st.ColumnInt(0);
      row.m.message_id = st.ColumnText(1);
      row.m.body = st.ColumnText(2);
      row.attributes = st.ColumnText(3);
      row.m.sender_id = st.ColumnText(4);
      row.m.trace_header = st.ColumnText(5);
      row.m.sent_ms = st.ColumnInt(6);
      row.m.receive_count = static_cast<int>(st.ColumnInt(7));
      row.m.first_receive_ms = st.ColumnInt(8);
      row.dlq_source = st.ColumnText(9);
      row.body_md5 = st.ColumnText(10);
      v.visible_at_ms = st.ColumnInt(11);
      row.m.group_id = st.ColumnText(12);
      row.m.dedup_id = st.ColumnText(13);
      row.receive_ms = st.ColumnInt(14);
      out.push_back(std::move(v));
    }
  }

  // Up to `want` of q's visible rows, oldest visibility first (then seq):
  // timed rows from queue_messages_visible merged with fresh rows after q's
  // cursor, leaving out the rows this call delivered already (timed rows
  // again, which may come first: the timed read takes that many more; a
  // fresh row is never among them). Moves the cursor past the fresh rows
  // taken, or to the newest seq given when none is left after them.
  Status ReadVisible(db::Txn& txn, const QueuePtr& q, int64_t now, int want,
                     const std::vector<int64_t>& delivered, std::vector<TakenMessage>& rows) {
    if (q->fresh_cursor_stale.exchange(false)) q->fresh_cursor = 0;
    std::vector<Visible> timed, fresh;
    {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kReceive));
      st.Bind(1, q->id).Bind(2, now).Bind(3, static_cast<int64_t>(want + delivered.size()));
      IMGBATCH_RETURN_IF_ERROR(ReadVisibleRows(st, delivered, timed));
    }
    {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kReceiveFresh));
      st.Bind(1, q->id).Bind(2, q->fresh_cursor).Bind(3, int64_t{want});
      IMGBATCH_RETURN_IF_ERROR(ReadVisibleRows(st, {}, fresh));
    }
    const bool no_more_fresh = static_cast<int>(fresh.size()) < want;
    size_t t = 0, f = 0;
    while (static_cast<int>(rows.size()) < want && (t < timed.size() || f < fresh.size())) {
      const bool take_fresh =
          t == timed.size() ||
          (f < fresh.size() && std::pair(fresh[f].visible_at_ms, fresh[f].row.seq) <
                                   std::pair(timed[t].visible_at_ms, timed[t].row.seq));
      rows.push_back(std::move(take_fresh ? fresh[f++].row : timed[t++].row));
    }
    // Fresh rows come in seq order and are taken as a prefix: the ones
    // stepped over before the last taken are timed (found by the index).
    if (f > 0) q->fresh_cursor = fresh[f - 1].row.seq;
    // Every row up to the newest seq given is in this transaction's view
    // (seqs are given inside writes, which are serialized).
    if (f == fresh.size() && no_more_fresh) {
      q->fresh_cursor = std::max(q->fresh_cursor, last_seq_.load());
    }
    return Status::Ok();
  }

  // Up to `want` of a FIFO queue's rows a receive may take: of each message
  // group, its first rows in seq (= send) order until one that is hidden (in
  // flight or delayed), which holds the rest of its group back; the group
  // with the oldest such row first and as many of its rows as there are,
  // then the next group's, as AWS does. Rows this call delivered already are
  // left out without holding their group (with VisibilityTimeout 0 they stay
  // visible). Looks through the queue's first kFifoScanRows rows, as AWS
  // looks through a window of the oldest messages for groups to serve, and
  // kFifoGroupLookahead rows past the first deliverable one.
  Status ReadVisibleFifo(db::Txn& txn, const QueuePtr& q, int64_t now, int want,
                         const std::vector<int64_t>& delivered, std::vector<TakenMessage>& rows) {
    std::vector<int64_t> picked;
    {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement scan, txn.Prepare(sql::kFifoScan));
      scan.Bind(1, q->id).Bind(2, kFifoScanRows);
      std::set<std::string, std::less<>> held;
      // Deliverable rows by group, the groups in the order of their first.
      std::vector<std::pair<std::string, std::vector<int64_t>>> groups;
      int64_t found = 0;
      for (int64_t lookahead = kFifoGroupLookahead; lookahead > 0;) {
        IMGBATCH_ASSIGN_OR_RETURN(bool more, scan.Step());
        if (!more) break;
        if (found > 0) --lookahead;
        const int64_t seq = scan.ColumnInt(0);
        std::string group = scan.ColumnText(1);
        if (held.contains(group)) continue;
        if (std::find(delivered.begin(), delivered.end(), seq) != delivered.end()) continue;
        if (scan.ColumnInt(2) > now) {
          held.insert(std::move(group));
          continue;
        }
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const auto& g) { return g.first == group; });
        if (it == groups.end()) {
          if (found >= want) continue;  // the receive is full without this group
          it = groups.insert(groups.end(), {std::move(group), {}});
        }
        it->second.push_back(seq);
        ++found;
        if (static_cast<int>(groups.front().second.size()) >= want) break;
      }
      for (const auto& [group, seqs] : groups) {
        for (int64_t seq : seqs) {
          if (static_cast<int>(picked.size()) < want) picked.push_back(seq);
        }
      }
    }
    return ReadPicked(txn, q, picked, rows);
  }

  // Reads the rows a FIFO or fair receive chose by seq, whole, in that order.
  static Status ReadPicked(db::Txn& txn, const QueuePtr& q, const std::vector<int64_t>& picked,
                           std::vector<TakenMessage>& rows) {
    std::vector<Visible> read;
    for (int64_t seq : picked) {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kReceiveBySeq));
      st.Bind(1, seq).Bind(2, q->id);
      IMGBATCH_RETURN_IF_ERROR(ReadVisibleRows(st, {}, read));
    }
    for (Visible& v : read) rows.push_back(std::move(v.row));
    return Status::Ok();
  }

  static bool Contains(const std::vector<int64_t>& seqs, int64_t seq) {
    return std::find(seqs.begin(), seqs.end(), seq) != seqs.end();
  }

  // A row a fair receive may take, read without the message.
  struct Candidate {
    int64_t seq = 0;
    int64_t visible_at_ms = 0;
    std::string group;
  };

  // Reads the rows of a sql::kFairTimed or sql::kFairFresh bound with LIMIT
  // `limit`, leaving out the seqs in `skip`, until `enough` says so; true
  // when there are no more rows (not merely `limit` read). `last_seq`: the
  // last seq read (skipped ones included).
  template <typename Enough>
  static Result<bool> ReadCandidates(db::Statement& st, int64_t limit,
                                     const std::vector<int64_t>& skip, int64_t& last_seq,
                                     std::vector<Candidate>& out, Enough enough) {
    for (int64_t read = 0; !enough(); ++read) {
      IMGBATCH_ASSIGN_OR_RETURN(bool more, st.Step());
      if (!more) return read < limit;
      last_seq = st.ColumnInt(0);
      if (Contains(skip, last_seq)) continue;
      out.push_back({last_seq, st.ColumnInt(2), st.ColumnText(1)});
    }
    return false;
  }

  // Where a cursor over fresh rows goes after a fair receive read `read` (in
  // seq order, up to `read_to`) and took `picked`: just before the first row
  // read and left, else as far as the read went, or to the newest seq given
  // if the read ran out of rows (every row up to it is in this write's view).
  int64_t CursorPastTaken(const std::vector<Candidate>& read, const std::vector<int64_t>& picked,
                          int64_t read_to, bool ran_out) const {
    for (const Candidate& c : read) {
      if (!Contains(picked, c.seq)) return c.seq - 1;
    }
    return ran_out ? std::max(read_to, last_seq_.load()) : read_to;
  }

  // ReadVisible for a standard queue with noisy tenants (queue/fair_share.h),
  // as AWS's fair queues deliver: the quiet tenants' rows first, oldest
  // visibility first; then the noisy tenants', the one with the fewest in
  // flight first (counting what this receive gives it), then oldest.
  //
  // Quiet rows may sit behind a noisy tenant's whole backlog, so they are
  // looked for from q->quiet_cursor, which moves past every row stepped over
  // (each is stepped over once, not at every receive) and stops before the
  // first quiet row left; at most kFairQuietScanRows a receive. Noisy rows
  // are chosen among the oldest fresh rows (a window, see kFairNoisyWindow) and the timed
  // rows read. Rows taken out of order are no longer fresh, so the fresh
  // cursor only has to stop before the first row left, as ReadVisible's does.
  Status ReadVisibleFair(db::Txn& txn, const QueuePtr& q, int64_t now, int want,
                         const std::vector<int64_t>& delivered, const NoisyTenants& noisy,
                         std::vector<TakenMessage>& rows) {
    if (q->fresh_cursor_stale.exchange(false)) q->fresh_cursor = 0;
    if (q->quiet_cursor_stale.exchange(false)) q->quiet_cursor = 0;
    const size_t wanted = static_cast<size_t>(want);
    std::vector<Candidate> timed, quiet_fresh;
    int64_t last_seq = 0;
    {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kFairTimed));
      const int64_t limit = kFairTimedRows + want + static_cast<int64_t>(delivered.size());
      st.Bind(1, q->id).Bind(2, now).Bind(3, limit);
      IMGBATCH_RETURN_IF_ERROR(
          ReadCandidates(st, limit, delivered, last_seq, timed, [] { return false; }).status());
    }
    bool quiet_scan_ended = false;
    const int64_t quiet_from = std::max(q->quiet_cursor, q->fresh_cursor);
    int64_t quiet_scanned_to = quiet_from;
    {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kFairFresh));
      st.Bind(1, q->id).Bind(2, quiet_from).Bind(3, kFairQuietScanRows);
      std::vector<Candidate> scanned;
      IMGBATCH_ASSIGN_OR_RETURN(
          quiet_scan_ended,
          ReadCandidates(st, kFairQuietScanRows, {}, quiet_scanned_to, scanned, [&] {
            if (!scanned.empty() && noisy.Find(scanned.back().group)) scanned.pop_back();
            return scanned.size() >= wanted;
          }));
      quiet_fresh = std::move(scanned);
    }
    // Quiet rows, oldest visibility first.
    std::vector<Candidate> quiet = quiet_fresh;
    for (const Candidate& c : timed) {
      if (!noisy.Find(c.group)) quiet.push_back(c);
    }
    std::sort(quiet.begin(), quiet.end(), [](const Candidate& a, const Candidate& b) {
      return std::pair(a.visible_at_ms, a.seq) < std::pair(b.visible_at_ms, b.seq);
    });
    std::vector<int64_t> picked;
    for (const Candidate& c : quiet) {
      if (picked.size() == wanted) break;
      picked.push_back(c.seq);
    }
    // The noisy rows the scan stepped over are left for PickNoisy, which
    // reads from the fresh cursor: the quiet cursor passes them.
    q->quiet_cursor = CursorPastTaken(quiet_fresh, picked, quiet_scanned_to, quiet_scan_ended);
    if (picked.size() < wanted) {
      IMGBATCH_RETURN_IF_ERROR(PickNoisy(txn, q, want, noisy, timed, picked));
    }
    return ReadPicked(txn, q, picked, rows);
  }

  // ReadVisibleFair's second part: fills `picked` up to `want` from the
  // oldest fresh rows (a window from the fresh cursor) and the timed rows
  // read, the tenant with the fewest in flight first, and moves the fresh
  // cursor to just before the first fresh row left.
  Status PickNoisy(db::Txn& txn, const QueuePtr& q, int want, const NoisyTenants& noisy,
                   const std::vector<Candidate>& timed, std::vector<int64_t>& picked) {
    std::vector<Candidate> window;
    int64_t window_end = q->fresh_cursor;
    bool window_ended = false;
    {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kFairFresh));
      const int64_t limit = noisy.tenants.size() == 1 ? int64_t{want} : kFairNoisyWindow;
      st.Bind(1, q->id).Bind(2, q->fresh_cursor).Bind(3, limit);
      // Quiet rows taken above are still fresh in this transaction's view.
      IMGBATCH_ASSIGN_OR_RETURN(window_ended, ReadCandidates(st, limit, picked, window_end, window,
                                                             [] { return false; }));
    }
    std::vector<const Candidate*> left;
    for (const Candidate& c : window) left.push_back(&c);
    for (const Candidate& c : timed) {
      if (!Contains(picked, c.seq)) left.push_back(&c);
    }
    // In flight per tenant: at the sample, plus what receives gave it
    // since. A row of a tenant that is not noisy (not taken above: it was
    // not among the rows looked at) comes before any noisy one.
    if (q->given_since != noisy.sample) {
      q->given_since = noisy.sample;
      q->given.clear();
    }
    auto& given = q->given;
    const auto in_flight = [&](const Candidate& c) -> int64_t {
      const NoisyTenants::Tenant* t = noisy.Find(c.group);
      if (!t) return -1;
      int64_t n = t->in_flight;
      for (const auto& [group, count] : given) {
        if (group == c.group) n += count;
      }
      return n;
    };
    while (static_cast<int>(picked.size()) < want && !left.empty()) {
      auto best = std::min_element(left.begin(), left.end(), [&](const auto* a, const auto* b) {
        return std::tuple(in_flight(*a), a->visible_at_ms, a->seq) <
               std::tuple(in_flight(*b), b->visible_at_ms, b->seq);
      });
      const Candidate& c = **best;
      picked.push_back(c.seq);
      if (noisy.Find(c.group)) {
        auto g = std::find_if(given.begin(), given.end(),
                              [&](const auto& e) { return e.first == c.group; });
        if (g == given.end()) {
          given.emplace_back(c.group, 1);
        } else {
          ++g->second;
        }
      }
      left.erase(best);
    }
    // Every fresh row up to the cursor is taken (here, or above: those were
    // left out of the window).
    q->fresh_cursor = CursorPastTaken(window, picked, window_end, window_ended);
    return Status::Ok();
  }

  // Receives up to max messages of q inside txn: skips (deletes) expired
  // messages, dead-letters those past maxReceiveCount, hides the rest for
  // visibility seconds with a new receipt handle.
  Status ReceiveInTxn(db::Txn& txn, const QueuePtr& q, const QueueConfig& config,
                      const QueuePtr& dlq, int max, int visibility, int64_t now,
                      std::vector<TakenMessage>& out, CountDeltas& deltas) {
    if (q->deleted) return QueueNotFound();
    if (visibility > 0) {  // only these put messages in flight
      const int64_t room = InFlightRoom(q);
      if (room <= 0) return Status::Ok();
      max = static_cast<int>(std::min<int64_t>(max, room));
    }
    const int64_t expired_before = now - config.retention_period * 1000LL;
    const bool redrive = dlq && !dlq->deleted && dlq != q;
    const int64_t hidden_until = now + visibility * 1000LL;
    const int64_t receive_ms = ReceiveMillis(now);
    // Delivered in this call: with VisibilityTimeout 0 they stay at the front
    // of the visible range, and a further round must not deliver them twice.
    // (At most max entries: a vector searched linearly.)
    std::vector<int64_t> delivered;
    delivered.reserve(static_cast<size_t>(max));
    out.reserve(static_cast<size_t>(max));
    const std::shared_ptr<const NoisyTenants> noisy = config.fifo ? nullptr : NoisyOf(q);
    while (static_cast<int>(out.size()) < max) {
      std::vector<TakenMessage> rows;
      rows.reserve(static_cast<size_t>(max));
      const int want = max - static_cast<int>(out.size());
      if (config.fifo) {
        IMGBATCH_RETURN_IF_ERROR(ReadVisibleFifo(txn, q, now, want, delivered, rows));
      } else if (noisy) {
        IMGBATCH_RETURN_IF_ERROR(ReadVisibleFair(txn, q, now, want, delivered, *noisy, rows));
      } else {
        IMGBATCH_RETURN_IF_ERROR(ReadVisible(txn, q, now, want, delivered, rows));
      }
      if (rows.empty()) break;
      // All rows of this round that are delivered are hidden by one UPDATE
      // (kHideReceived: up to kMaxReceiveMessages rowids). Measured: one
      // single-row UPDATE per message costs more (15k vs 13k instructions).
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement hide, txn.Prepare(sql::kHideReceived));
      hide.Bind(1, hidden_until).Bind(2, now).Bind(3, receive_ms);
      int hidden = 0;
      bool skipped = false;
      for (TakenMessage& row : rows) {
        if (row.m.sent_ms <= expired_before) {
          IMGBATCH_ASSIGN_OR_RETURN(db::Statement del,
                                    txn.Prepare("DELETE FROM queue_messages WHERE seq = ?1"));
          IMGBATCH_RETURN_IF_ERROR(del.Bind(1, row.seq).Run());
          deltas.Add(q, -1);
          skipped = true;
          continue;
        }
        if (redrive && row.m.receive_count >= config.redrive->max_receive_count) {
          IMGBATCH_ASSIGN_OR_RETURN(
              db::Statement move,
              txn.Prepare("UPDATE queue_messages SET queue_id = ?2, visible_at_ms = ?3, "
                          "dlq_source = ?4 WHERE seq = ?1"));
          IMGBATCH_RETURN_IF_ERROR(
              move.Bind(1, row.seq).Bind(2, dlq->id).Bind(3, now).Bind(4, q->name).Run());
          deltas.Add(q, -1);
          deltas.Add(dlq, +1);
          skipped = true;
          continue;
        }
        hide.Bind(sql::kHideReceivedFirstSeq + hidden++, row.seq);
        if (row.m.receive_count == 0) row.m.first_receive_ms = now;
        row.m.receive_count += 1;
        row.receive_ms = receive_ms;
        delivered.push_back(row.seq);
        out.push_back(std::move(row));
      }
      if (hidden > 0) IMGBATCH_RETURN_IF_ERROR(hide.Run());
      // Nothing expired or dead-lettered: every visible row was read, there
      // are no more.
      if (!skipped) break;
    }
    // Counted at once, so that the next receive of this transaction sees
    // them; if it rolls back the estimate is high until the sweep recounts.
    if (visibility > 0) q->in_flight += static_cast<int64_t>(out.size());
    return Status::Ok();
  }

  // The time a receive at `now` records as the rows' last_receive_ms and
  // names in its handles: never before legacy_before_ms, even on a wall
  // clock stepped back since, so that no unkeyed handle can act on a receive
  // made since (IsLatestReceive). Only handles and that check read it; the
  // ApproximateFirstReceiveTimestamp clients see is `now` itself.
  int64_t ReceiveMillis(int64_t now) const { return std::max(now, receipts_->legacy_before_ms()); }

  int64_t InFlightQuota(const QueuePtr& q) const {
    return q->fifo ? options_.max_in_flight_fifo : options_.max_in_flight;
  }

  // How many more messages q may put in flight now (<= 0: none).
  int64_t InFlightRoom(const QueuePtr& q) const {
    return InFlightQuota(q) - std::max<int64_t>(0, q->in_flight.load());
  }

  // Whether a serve of q's parked long polls could give any of them
  // something: there is room under the quota, or one asked for
  // VisibilityTimeout 0, which puts nothing in flight. With mu_ held.
  bool CanServe(const QueuePtr& q) const {
    return InFlightRoom(q) > 0 || q->waiters.AnyHidesNothing();
  }

  // Takes `released` messages off q's in-flight estimate, inside the write
  // that released them (deleted, made visible). True when q was at its
  // quota: after the commit its long polls, held for room, must be woken.
  bool ReleaseInFlight(const QueuePtr& q, int64_t released) {
    const bool was_at_quota = InFlightRoom(q) <= 0;
    q->in_flight -= released;
    return was_at_quota;
  }

  // Counts afresh the messages in flight of each queue whose estimate is
  // past half its quota: visibility that ran out (and writes rolled back)
  // leave the estimate high, and only near the quota does that matter.
  // Counted inside a write, where no receive or delete changes the
  // estimate meanwhile (an index range as long as the messages in flight,
  // ~60,000 or more, once a second).
  Status RecountInFlight(int64_t now) {
    std::vector<QueuePtr> near_quota;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, q] : queues_) {
        if (q->in_flight.load() * 2 >= InFlightQuota(q)) near_quota.push_back(q);
      }
    }
    if (near_quota.empty()) return Status::Ok();
    std::vector<QueuePtr> at_quota;  // their long polls may be waiting for room
    IMGBATCH_RETURN_IF_ERROR(db_.Write([&](db::Txn& txn) {
      at_quota.clear();
      for (const QueuePtr& q : near_quota) {
        if (InFlightRoom(q) <= 0) at_quota.push_back(q);
      }
      return CountInFlight(txn, near_quota, now);
    }));
    for (const QueuePtr& q : at_quota) {
      if (InFlightRoom(q) > 0) WakeWaiters(q);
    }
    return Status::Ok();
  }

  // Sets each queue's in-flight estimate to the number counted now, over
  // the hidden range of queue_messages_visible (sql::kCountHidden).
  static Status CountInFlight(db::Conn& conn, const std::vector<QueuePtr>& queues, int64_t now) {
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, conn.Prepare(sql::kCountHidden));
    for (const QueuePtr& q : queues) {
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Bind(1, q->id).Bind(2, now).Step());
      q->in_flight = row ? st.ColumnInt(1) : 0;
      st.Reset();
    }
    return Status::Ok();
  }

  // One receive of up to max messages, completed (on the database's writer
  // or syncer thread) with what it took or the write's error: from a FIFO
  // queue once durable; from a standard queue once committed, before the
  // WAL's sync (db::Database::Ack::kCommitted). A standard queue delivers at
  // least once: a receive undone by a power loss during that sync (about a
  // millisecond) only makes its messages visible again, as a lapsed
  // visibility timeout would, and kill -9 loses nothing committed. A FIFO
  // queue's receive hides its message group from other consumers
  // (exactly-once processing), so it waits for the sync like every send and
  // delete. docs/design/queue.md, "Durability, per operation".
  void ReceiveNowAsync(const QueuePtr& q, int max, int visibility, std::string attempt_id,
                       std::function<void(std::function<void()>)> complete_on,
                       ReceiveCallback done) {
    struct Pass {
      std::shared_ptr<const QueueConfig> config;
      QueuePtr dlq;
      std::vector<TakenMessage> out;
      CountDeltas deltas;
      std::optional<std::vector<std::pair<int64_t, int>>> retried;  // an earlier attempt's
      bool replayed = false;
      std::string attempt_id;
    };
    auto pass = std::make_shared<Pass>();
    pass->config = ConfigOf(q);
    pass->dlq = DeadLetterTarget(*pass->config);
    const int64_t now = clock_.NowMillis();
    if (!attempt_id.empty()) pass->retried = FindAttempt(q, attempt_id, now);
    pass->attempt_id = std::move(attempt_id);
    WriteAsync(
        [this, q, pass, max, visibility, now](db::Txn& txn) -> Status {
          pass->out.clear();
          pass->deltas = {};
          pass->replayed = false;
          if (pass->retried) {
            IMGBATCH_ASSIGN_OR_RETURN(
                pass->replayed, ReplayInTxn(txn, q, *pass->retried, visibility, now, pass->out));
            if (pass->replayed) return Status::Ok();
          }
          IMGBATCH_RETURN_IF_ERROR(ReceiveInTxn(txn, q, *pass->config, pass->dlq, max, visibility,
                                                now, pass->out, pass->deltas));
          // A message sent earlier in this transaction is handed out only
          // once its send is durable: acknowledged at the commit, a power
          // loss in the sync could take it away after a consumer had it.
          if (SentInThisTransaction(txn, pass->out)) txn.RequireDurableAck();
          return SaveAttempt(txn, q, pass->attempt_id, pass->out, now);
        },
        [this, q, pass, visibility, now, complete_on = std::move(complete_on),
         done = std::move(done)](Status st) mutable {
          if (!st.ok()) {
            q->fresh_cursor_stale = true;  // what it took is fresh again
            return done(std::move(st));
          }
          std::string attempt_id = std::move(pass->attempt_id);
          if (!attempt_id.empty() && !pass->replayed && !pass->out.empty()) {
            RecordAttempt(q, attempt_id, pass->out, now);
          }
          AfterReceive(q, pass->dlq, pass->deltas,
                       pass->out.empty() ? kNever : now + visibility * 1000LL);
          // Nothing taken: done may park a long poll (engine work), here.
          if (pass->out.empty() || !complete_on) {
            return done(FinishReceived(q->id, options_, *receipts_, std::move(pass->out)));
          }
          complete_on([queue_id = q->id, options = options_, receipts = receipts_,
                       taken = std::move(pass->out), done = std::move(done)]() mutable {
            done(FinishReceived(queue_id, options, *receipts, std::move(taken)));
          });
        },
        // No savepoint: a receive's error before any change (queue deleted)
        // leaves nothing to undo, and any statement that fails undoes
        // itself; one failing after an earlier statement of the receive
        // changed rows fails the receive's whole group (db's kNone rule),
        // which is rare (I/O errors) and safe: nothing of it is acknowledged.
        db::Database::CallerUndo::kNone,
        q->fifo ? db::Database::Ack::kDurable : db::Database::Ack::kCommitted);
  }

  // The messages of a FIFO receive attempt still remembered, or nullopt.
  std::optional<std::vector<std::pair<int64_t, int>>> FindAttempt(const QueuePtr& q,
                                                                  std::string_view attempt_id,
                                                                  int64_t now) {
    std::lock_guard lock(mu_);
    auto it = q->attempts.find(attempt_id);
    if (it == q->attempts.end() || it->second.expires_ms <= now) return std::nullopt;
    return it->second.taken;
  }

  // Stores what a FIFO receive attempt took, in the receive's transaction,
  // for Load to read back after a restart (RecordAttempt keeps it in memory
  // once durable).
  Status SaveAttempt(db::Txn& txn, const QueuePtr& q, std::string_view attempt_id,
                     const std::vector<TakenMessage>& taken, int64_t now) {
    if (attempt_id.empty() || taken.empty()) return Status::Ok();
    std::string text;
    for (const TakenMessage& t : taken) {
      if (!text.empty()) text.push_back(',');
      text.append(std::to_string(t.seq)).push_back(':');
      text.append(std::to_string(t.m.receive_count));
    }
    IMGBATCH_ASSIGN_OR_RETURN(
        db::Statement insert,
        txn.Prepare("INSERT INTO queue_receive_attempts(queue_id, attempt_id, taken, expires_ms) "
                    "VALUES (?1, ?2, ?3, ?4)"));
    IMGBATCH_RETURN_IF_ERROR(insert.Bind(1, q->id)
                                 .BindView(2, attempt_id)
                                 .Bind(3, text)
                                 .Bind(4, now + kDeduplicationIntervalMs)
                                 .Run());
    attempts_stored_ = true;
    return Status::Ok();
  }

  // SaveAttempt's "seq:count,..." back as pairs; nullopt if malformed.
  static std::optional<std::vector<std::pair<int64_t, int>>> ParseAttempt(std::string_view text) {
    std::vector<std::pair<int64_t, int>> taken;
    for (std::string_view item : Split(text, ',')) {
      const size_t colon = item.find(':');
      if (colon == std::string_view::npos) return std::nullopt;
      std::optional<int64_t> seq = ParseInt(item.substr(0, colon));
      std::optional<int64_t> count = ParseInt(item.substr(colon + 1));
      if (!seq || !count) return std::nullopt;
      taken.emplace_back(*seq, static_cast<int>(*count));
    }
    return taken;
  }

  // Remembers what a FIFO receive attempt took, forgetting expired attempts.
  void RecordAttempt(const QueuePtr& q, const std::string& attempt_id,
                     const std::vector<TakenMessage>& taken, int64_t now) {
    std::vector<std::pair<int64_t, int>> pairs;
    for (const TakenMessage& t : taken) pairs.emplace_back(t.seq, t.m.receive_count);
    RememberAttempt(q, attempt_id, std::move(pairs), now + kDeduplicationIntervalMs, now);
  }

  void RememberAttempt(const QueuePtr& q, const std::string& attempt_id,
                       std::vector<std::pair<int64_t, int>> taken, int64_t expires_ms,
                       int64_t now) {
    QueueState::ReceiveAttempt attempt{expires_ms, std::move(taken)};
    std::lock_guard lock(mu_);
    while (!q->attempt_order.empty() && q->attempt_order.front().first <= now) {
      auto old = q->attempts.find(q->attempt_order.front().second);
      if (old != q->attempts.end() && old->second.expires_ms <= now) q->attempts.erase(old);
      q->attempt_order.pop_front();
    }
    q->attempt_order.emplace_back(attempt.expires_ms, attempt_id);
    q->attempts[attempt_id] = std::move(attempt);
  }

  // A FIFO receive retried with its ReceiveRequestAttemptId: the same rows
  // again if each is still in flight from that receive (same receive count,
  // still hidden, still in this queue), their visibility timeout starting
  // over; false, with nothing changed, otherwise.
  Result<bool> ReplayInTxn(db::Txn& txn, const QueuePtr& q,
                           const std::vector<std::pair<int64_t, int>>& taken, int visibility,
                           int64_t now, std::vector<TakenMessage>& out) {
    std::vector<Visible> read;
    for (const auto& [seq, receive_count] : taken) {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kReceiveBySeq));
      st.Bind(1, seq).Bind(2, q->id);
      const size_t before = read.size();
      IMGBATCH_RETURN_IF_ERROR(ReadVisibleRows(st, {}, read));
      if (read.size() == before || read.back().row.m.receive_count != receive_count ||
          read.back().visible_at_ms <= now) {
        return false;
      }
    }
    for (Visible& v : read) {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement hide,
          txn.Prepare("UPDATE queue_messages SET visible_at_ms = ?1 WHERE seq = ?2"));
      IMGBATCH_RETURN_IF_ERROR(hide.Bind(1, now + visibility * 1000LL).Bind(2, v.row.seq).Run());
      out.push_back(std::move(v.row));
    }
    return true;
  }

  // db::Database::WriteAsync, counted: completions use this engine, so the
  // destructor waits until the last one ran.
  void WriteAsync(std::function<Status(db::Txn&)> fn, std::function<void(Status)> done,
                  db::Database::CallerUndo undo = db::Database::CallerUndo::kSavepoint,
                  db::Database::Ack ack = db::Database::Ack::kDurable) {
    {
      std::lock_guard lock(async_mu_);
      ++async_pending_;
    }
    db_.WriteAsync(
        std::move(fn),
        [this, done = std::move(done)](Status st) {
          done(std::move(st));
          std::lock_guard lock(async_mu_);
          if (--async_pending_ == 0) async_cv_.notify_all();
        },
        undo, ack);
  }

  void WaitForAsyncWrites() {
    std::unique_lock lock(async_mu_);
    async_cv_.wait(lock, [&] { return async_pending_ == 0; });
  }

  // Runs an asynchronous operation and waits for its completion.
  template <class T, class Start>
  static T AwaitCompletion(Start start) {
    std::promise<T> promise;
    std::future<T> result = promise.get_future();
    start([&promise](T value) { promise.set_value(std::move(value)); });
    return result.get();
  }

  // A deleted message of a FIFO queue may have held the rest of its group
  // back: parked receives look again.
  void WakeHeldGroups(const QueuePtr& q) {
    if (q->fifo) WakeWaiters(q);
  }

  // Serves q's long polls again: something they waited for (a held group, room
  // under the in-flight quota) may have been freed.
  void WakeWaiters(const QueuePtr& q) {
    {
      std::lock_guard lock(mu_);
      ++q->send_generation;
      if (q->waiters.empty()) return;
      wake_.insert(q);
    }
    cv_.notify_all();
  }

  void AfterReceive(const QueuePtr& q, const QueuePtr& dlq, const CountDeltas& deltas,
                    int64_t hidden_until) {
    Apply(deltas);
    if (hidden_until != kNever) NoteVisibleAt(q, hidden_until);
    if (dlq && deltas.by_queue.count(dlq)) {
      std::lock_guard lock(mu_);
      ++dlq->send_generation;
      if (!dlq->waiters.empty()) wake_.insert(dlq);
    }
  }

  // ---- engine thread -----------------------------------------------------

  // What the engine thread times by duration (long polls' deadlines, the
  // sweep's pace, move tasks' rate) is on the monotonic clock: a wall clock
  // stepped back an hour would hold it all for that hour. Visibility and
  // retention stay wall-clock times: they are stored, and must mean the same
  // after a restart.
  void Run() {
    std::unique_lock lock(mu_);
    int64_t next_sweep = clock_.MonotonicMillis();
    while (!stop_) {
      const int64_t now = clock_.NowMillis();
      const int64_t mono = clock_.MonotonicMillis();
      std::vector<QueuePtr> serve;
      std::vector<Waiter> timed_out;
      int64_t sleep = kMaxEngineSleepMillis;
      for (auto& [name, q] : queues_) {
        if (q->waiters.empty()) continue;
        q->waiters.TakeExpired(mono, timed_out);
        if (q->waiters.empty()) continue;
        sleep = std::min(sleep, q->waiters.NextDeadline() - mono);
        const bool due = wake_.count(q) > 0 || q->next_visible_ms <= now;
        if (!due) {
          sleep = std::min(sleep, q->next_visible_ms - now);
        } else if (CanServe(q)) {
          serve.push_back(q);
        }
        // Due but at the in-flight quota: a serve would take no waiter and
        // leave next_visible_ms in the past, so the loop would spin. What
        // makes room wakes the queue (ReleaseInFlight's callers, the recount).
      }
      wake_.clear();
      std::vector<std::shared_ptr<MoveTask>> due_tasks;
      for (const auto& t : tasks_) {
        if (t->info.status != MoveTaskStatus::kRunning) continue;
        if (t->next_run_ms <= mono) {
          due_tasks.push_back(t);
        } else {
          sleep = std::min(sleep, t->next_run_ms - mono);
        }
      }
      const bool sweep = mono >= next_sweep;
      if (serve.empty() && timed_out.empty() && due_tasks.empty() && !sweep) {
        sleep = std::min(sleep, next_sweep - mono);
        cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, sleep)));
        continue;
      }
      lock.unlock();
      for (auto& w : timed_out) w.done(std::vector<ReceivedMessage>{});
      for (const auto& q : serve) ServeWaiters(q);
      for (const auto& t : due_tasks) RunMoveStep(t);
      if (sweep) {
        next_sweep = mono + kSweepIntervalMillis;
        Status st = ExpireMessages();
        if (!st.ok()) spdlog::warn("queue retention sweep: {}", st.ToString());
      }
      lock.lock();
    }
  }

  // Hands available messages to q's parked waiters, oldest waiter first. It
  // starts with as many waiters as the sends since the last serve made
  // messages receivable (at least one); while the last of them gets all it
  // asked for there may be more, so it serves again with twice as many.
  // Waiters beyond those stay untouched: a send costs the same with one or
  // thousands parked.
  void ServeWaiters(const QueuePtr& q) {
    int64_t wanted = 0;
    {
      std::lock_guard lock(mu_);
      wanted = std::max<int64_t>(1, q->wake_messages);
      q->wake_messages = 0;
    }
    // A bounded number of rounds, so that a busy queue whose waiters park
    // again as fast as they are served cannot keep the engine thread from
    // the other queues' waiters and deadlines: then it is served again on
    // the thread's next pass.
    constexpr int kMaxRounds = 8;
    for (int round = 0; wanted > 0; ++round) {
      if (round == kMaxRounds) {
        std::lock_guard lock(mu_);
        wake_.insert(q);
        return;
      }
      wanted = ServeSome(q, wanted) ? wanted * 2 : 0;
    }
  }

  // Takes parked waiters, oldest first, until the live ones ask for `wanted`
  // messages; those whose client left are answered (empty) on the way. At
  // the in-flight quota only those with VisibilityTimeout 0 (the others
  // would get nothing and go back, and hold them up). `generation`: the
  // queue's send generation when it started.
  std::vector<Waiter> TakeWaiters(const QueuePtr& q, int64_t wanted, uint64_t& generation) {
    std::vector<Waiter> waiters;
    int64_t asked = 0;
    bool first = true;
    const bool at_quota = InFlightRoom(q) <= 0;
    while (asked < wanted) {
      std::vector<Waiter> taken;
      {
        std::lock_guard lock(mu_);
        if (std::exchange(first, false)) generation = q->send_generation;
        WaiterLine& line = q->waiters;
        for (int64_t more = asked;
             more < wanted && (at_quota ? line.AnyHidesNothing() : !line.empty());) {
          taken.push_back(at_quota ? line.TakeOldestHidingNothing() : line.TakeOldest());
          more += taken.back().max_messages;
        }
      }
      if (taken.empty()) break;
      // Checked outside the lock: the predicate belongs to the caller.
      for (auto& w : taken) {
        if (w.abandoned && w.abandoned()) {
          w.done(std::vector<ReceivedMessage>{});
        } else {
          asked += w.max_messages;
          waiters.push_back(std::move(w));
        }
      }
    }
    return waiters;
  }

  // One serve of ServeWaiters, in one transaction; waiters it could not fill
  // go back to their places. True when the last one got all it asked for
  // and others still wait (there may be more messages).
  bool ServeSome(const QueuePtr& q, int64_t wanted) {
    uint64_t generation = 0;
    std::vector<Waiter> waiters = TakeWaiters(q, wanted, generation);
    if (waiters.empty()) return false;
    {
      // Recomputed by this serve's read (which sees every change noted so
      // far: notes follow commits); changes after this lower it again. Reset
      // only by a serve that reads, or the next visibility time of a queue
      // whose taken waiters had all left would be lost.
      std::lock_guard lock(mu_);
      q->next_visible_ms = kNever;
    }
    const std::shared_ptr<const QueueConfig> held = ConfigOf(q);
    const QueueConfig& config = *held;
    QueuePtr dlq = DeadLetterTarget(config);
    const int64_t now = clock_.NowMillis();
    CountDeltas deltas;
    int64_t next_visible = kNever;
    Status st = db_.Write([&](db::Txn& txn) -> Status {
      deltas = {};
      for (auto& w : waiters) w.got.clear();
      for (auto& w : waiters) {
        IMGBATCH_RETURN_IF_ERROR(ReceiveInTxn(txn, q, config, dlq, w.max_messages,
                                              w.visibility_timeout, now, w.got, deltas));
        if (w.got.empty()) break;
        IMGBATCH_RETURN_IF_ERROR(SaveAttempt(txn, q, w.attempt_id, w.got, now));
      }
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, txn.Prepare(sql::kNextVisible));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Bind(1, q->id).Bind(2, now).Step());
      if (row && !st.ColumnIsNull(0)) next_visible = st.ColumnInt(0);
      return Status::Ok();
    });
    if (!st.ok()) {
      q->fresh_cursor_stale = true;  // what it took is fresh again
      if (st.code() != Code::kNotFound)
        spdlog::warn("queue {}: long poll: {}", q->name, st.ToString());
      for (auto& w : waiters) w.done(st);
      return false;
    }
    int64_t hidden_until = kNever;
    for (const auto& w : waiters) {
      if (!w.got.empty())
        hidden_until = std::min<int64_t>(hidden_until, now + w.visibility_timeout * int64_t{1000});
    }
    AfterReceive(q, dlq, deltas, std::min(hidden_until, next_visible));
    for (const auto& w : waiters) {
      if (!w.got.empty() && !w.attempt_id.empty()) RecordAttempt(q, w.attempt_id, w.got, now);
    }
    const bool last_filled =
        waiters.back().got.size() == static_cast<size_t>(waiters.back().max_messages);
    std::vector<Waiter> still_waiting;
    for (auto& w : waiters) {
      if (w.got.empty()) {
        still_waiting.push_back(std::move(w));
      } else {
        w.done(FinishReceived(q->id, options_, *receipts_, std::move(w.got)));
      }
    }
    {
      std::lock_guard lock(mu_);
      // DeleteQueue marks the queue deleted before it takes the waiters, so a
      // queue deleted meanwhile is seen here and nobody is left parked on it.
      if (!q->deleted) {
        for (auto& w : still_waiting) q->waiters.PutBack(std::move(w));
        // A send that committed after this serve's read may have found the
        // line empty (its waiters were out here) and woken nobody.
        if (q->send_generation != generation && !q->waiters.empty()) wake_.insert(q);
        return last_filled && !q->waiters.empty();
      }
    }
    for (auto& w : still_waiting) w.done(QueueNotFound());
    return false;
  }

  void RunMoveStep(const std::shared_ptr<MoveTask>& task) {
    const int64_t now = clock_.NowMillis();
    const int limit = task->info.max_per_second.value_or(kMoveChunk);
    std::map<std::string, QueuePtr> targets;
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, q] : queues_) targets[name] = q;
    }
    auto source_it = ByName(targets, task->source_name);
    if (!source_it || source_it->id != task->source_id) {
      Finish(task, MoveTaskStatus::kFailed, "The source queue no longer exists.");
      return;
    }
    QueuePtr fixed_destination;
    if (!task->destination_name.empty()) {
      fixed_destination = ByName(targets, task->destination_name);
      if (!fixed_destination) {
        Finish(task, MoveTaskStatus::kFailed, "The destination queue no longer exists.");
        return;
      }
    }
    CountDeltas deltas;
    int64_t moved = 0, cursor = task->cursor;
    bool done = false;
    std::string failure;
    std::set<QueuePtr> woken;
    Status st = db_.Write([&](db::Txn& txn) -> Status {
      deltas = {};
      moved = 0;
      cursor = task->cursor;
      woken.clear();
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement sel, txn.Prepare(sql::kMoveStep));
      sel.Bind(1, task->source_id)
          .Bind(2, task->cursor)
          .Bind(3, task->max_seq)
          .Bind(4, int64_t{limit});
      std::vector<std::tuple<int64_t, std::string, int64_t>> rows;  // seq, dlq_source, sent_ms
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, sel.Step());
        if (!row) break;
        rows.emplace_back(sel.ColumnInt(0), sel.ColumnText(1), sel.ColumnInt(2));
      }
      done = static_cast<int>(rows.size()) < limit;
      failure.clear();
      for (const auto& [seq, origin, sent_ms] : rows) {
        QueuePtr dest = fixed_destination ? fixed_destination : ByName(targets, origin);
        if (!dest || dest->deleted) {
          failure = "The original source queue of a message does not exist.";
          done = true;
          break;
        }
        IMGBATCH_ASSIGN_OR_RETURN(
            db::Statement move,
            txn.Prepare("UPDATE queue_messages SET queue_id = ?2, visible_at_ms = ?3, "
                        "receive_count = 0, first_receive_ms = 0, last_receive_ms = 0, "
                        "dlq_source = '' WHERE seq = ?1"));
        IMGBATCH_RETURN_IF_ERROR(move.Bind(1, seq).Bind(2, dest->id).Bind(3, now).Run());
        // Visible from now on with its receive count reset: a fresh row
        // when moved within its send's millisecond (sql::kReceiveFresh), and
        // its seq may lie behind dest's cursor. Otherwise it is timed
        // (visible_at_ms > sent_ms) and found through the index.
        if (now <= sent_ms) dest->fresh_cursor = std::min(dest->fresh_cursor, seq - 1);
        cursor = seq;
        ++moved;
        deltas.Add(source_it, -1);
        deltas.Add(dest, +1);
        woken.insert(dest);
      }
      const char* status = !failure.empty() ? "FAILED" : done ? "COMPLETED" : "RUNNING";
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement progress,
          txn.Prepare("UPDATE queue_move_tasks SET cursor = ?2, moved = moved + ?3, "
                      "status = ?4, failure_reason = ?5 WHERE id = ?1 AND status = 'RUNNING'"));
      IMGBATCH_RETURN_IF_ERROR(progress.Bind(1, task->row_id)
                                   .Bind(2, cursor)
                                   .Bind(3, moved)
                                   .Bind(4, std::string_view(status))
                                   .Bind(5, failure)
                                   .Run());
      if (progress.changes() == 0) {
        return Status(Code::kConflict, "move task no longer running")
            .WithDetail(std::string(kTaskNotRunning));
      }
      return Status::Ok();
    });
    if (st.detail() == kTaskNotRunning) return;  // cancelled meanwhile: nothing moved
    if (!st.ok()) {
      Finish(task, MoveTaskStatus::kFailed, st.message());
      return;
    }
    Apply(deltas);
    {
      std::lock_guard lock(mu_);
      task->cursor = cursor;
      task->info.moved += moved;
      const int64_t ran_at = clock_.MonotonicMillis();
      task->next_run_ms = task->info.max_per_second ? ran_at + 1000 : ran_at;
      for (const auto& q : woken) {
        ++q->send_generation;
        if (!q->waiters.empty()) wake_.insert(q);
      }
    }
    // The database already holds the final state (same commit as the moves).
    if (!failure.empty()) {
      MarkFinished(task, MoveTaskStatus::kFailed, failure);
    } else if (done) {
      MarkFinished(task, MoveTaskStatus::kCompleted, "");
    }
  }

  static QueuePtr ByName(const std::map<std::string, QueuePtr>& m, const std::string& n) {
    auto it = m.find(n);
    return it == m.end() ? nullptr : it->second;
  }

  // Ends a running task: in the database, then in memory.
  void Finish(const std::shared_ptr<MoveTask>& task, MoveTaskStatus status, std::string reason) {
    Status st = db_.Write([&](db::Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(
          db::Statement end,
          txn.Prepare("UPDATE queue_move_tasks SET status = ?2, failure_reason = ?3 "
                      "WHERE id = ?1 AND status = 'RUNNING'"));
      return end.Bind(1, task->row_id)
          .Bind(2, std::string_view(MoveTaskStatusName(status)))
          .Bind(3, reason)
          .Run();
    });
    if (!st.ok()) spdlog::warn("queue move task: recording its end: {}", st.ToString());
    MarkFinished(task, status, std::move(reason));
  }

  void MarkFinished(const std::shared_ptr<MoveTask>& task, MoveTaskStatus status,
                    std::string reason) {
    std::lock_guard lock(mu_);
    if (task->info.status != MoveTaskStatus::kRunning) return;  // cancelled meanwhile
    task->info.status = status;
    task->info.failure_reason = std::move(reason);
  }

  bool RunningTaskFor(int64_t source_id) {
    std::lock_guard lock(mu_);
    return std::any_of(tasks_.begin(), tasks_.end(), [&](const auto& t) {
      return t->source_id == source_id && t->info.status == MoveTaskStatus::kRunning;
    });
  }

  db::Database& db_;
  Clock& clock_;
  const EngineOptions options_;
  // Set by Load (LoadReceiptKey), then read-only; the threads that finish
  // receives hold it too.
  std::shared_ptr<const ReceiptCodec> receipts_;

  std::mutex create_mu_;      // serializes CreateQueue/DeleteQueue
  std::mutex move_start_mu_;  // serializes StartMoveTask
  std::mutex settings_mu_;    // serializes changes of a queue's attributes and tags
  // FIFO deduplication ids; used inside writes (see DedupLog).
  DedupLog dedup_;
  uint64_t noisy_samples_ = 0;  // NoisyTenants::sample of the last one made (under mu_)
  // Whether queue_receive_attempts may hold rows; read at Load.
  std::atomic<bool> attempts_stored_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool waits_released_ = false;  // ReleaseWaiters() was called: no new long polls
  std::map<std::string, QueuePtr, std::less<>> queues_;
  std::map<int64_t, QueuePtr> by_id_;
  std::set<QueuePtr> wake_;  // queues whose waiters should be served now
  std::vector<std::shared_ptr<MoveTask>> tasks_;
  // Highest sent_ms given to a message (NextSentMillis), from the newest
  // row at start.
  std::atomic<int64_t> last_sent_ms_{0};
  // Highest seq given to a row (NextRow), from the database at start.
  std::atomic<int64_t> last_seq_{0};
  // Highest seq stored in sqlite_sequence ahead of use (ReserveSeqs); the
  // writer thread's, after Load.
  int64_t seq_reserved_ = 0;
  // The write transaction that last gave seqs, and its first (the writer
  // thread's; NoteSeqsOfThisTransaction).
  uint64_t seq_transaction_ = 0;
  int64_t first_seq_of_transaction_ = 0;
  // Rows with ids made before queue migration 6 existed at start (and so
  // queue_messages_legacy_id); set in Load, read-only after.
  bool legacy_ids_ = false;
  std::thread thread_;

  std::mutex async_mu_;
  std::condition_variable async_cv_;
  int async_pending_ = 0;  // WriteAsync calls not yet completed
};

}  // namespace

Result<std::unique_ptr<QueueEngine>> QueueEngine::Open(db::Database& db, Clock& clock,
                                                       EngineOptions options) {
  auto engine = std::make_unique<EngineImpl>(db, clock, std::move(options));
  IMGBATCH_RETURN_IF_ERROR(engine->Load());
  engine->Start();
  return std::unique_ptr<QueueEngine>(std::move(engine));
}

}  // namespace imgbatch::queue
