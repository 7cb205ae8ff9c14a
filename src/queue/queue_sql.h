// The queue engine's statements whose cost must not grow with a queue's
// backlog, named so that queue_engine_test can check each one's query plan
// (EXPLAIN QUERY PLAN: an index range or lookup, never a scan or a sort).
// Internal to the queue module.
#pragma once

namespace imgbatch::queue::sql {

// A row is in the partial index queue_messages_visible (queue migration 7)
// when its visibility is a time of its own: received at least once, delayed,
// or moved by a move task (which makes visible_at_ms > sent_ms). The others
// ("fresh": never received, sent without a delay) are visible from their
// send on and are read in seq order by kReceiveFresh. Statements meant for
// the index repeat its WHERE term, so that the planner may use it.
#define IMGBATCH_QUEUE_TIMED_ROW "(receive_count > 0 OR visible_at_ms > sent_ms)"

// What a receive reads of a row, in EngineImpl::ReadVisibleRows's order.
#define IMGBATCH_QUEUE_RECEIVE_COLUMNS                                                         \
  "SELECT seq, message_id, body, attributes, sender_id, trace_header, sent_ms, "               \
  "receive_count, first_receive_ms, dlq_source, body_md5, visible_at_ms, group_id, dedup_id, " \
  "last_receive_ms "

// Receive, timed rows: the oldest visible, an index range read in
// queue_messages_visible order.
inline constexpr const char* kReceive = IMGBATCH_QUEUE_RECEIVE_COLUMNS
    "FROM queue_messages WHERE queue_id = ?1 AND visible_at_ms <= ?2 AND " IMGBATCH_QUEUE_TIMED_ROW
    " ORDER BY visible_at_ms, seq LIMIT ?3";

// Receive, fresh rows: the oldest after the queue's cursor ?2, in seq order
// (= sent order = their visible_at_ms order) through queue_messages_seq. Rows
// in between that are timed are stepped over once: the cursor moves past
// them with the rows taken (EngineImpl::ReadVisible).
inline constexpr const char* kReceiveFresh = IMGBATCH_QUEUE_RECEIVE_COLUMNS
    "FROM queue_messages INDEXED BY queue_messages_seq WHERE queue_id = ?1 AND seq > ?2 AND "
    "receive_count = 0 AND visible_at_ms <= sent_ms ORDER BY seq LIMIT ?3";

// Receive, FIFO queue: its rows in seq (= send) order with their group and
// visibility, from queue_messages_fifo alone (index-only); at most ?2, the
// window a receive looks through for groups with a message to give.
inline constexpr const char* kFifoScan =
    "SELECT seq, group_id, visible_at_ms FROM queue_messages INDEXED BY queue_messages_fifo "
    "WHERE queue_id = ?1 AND dedup_id IS NOT NULL ORDER BY seq LIMIT ?2";

// Receive, FIFO queue: one row ?1 of queue ?2 (a rowid lookup), with
// kReceive's columns: a row the scan picked, or one a retried receive
// attempt took.
inline constexpr const char* kReceiveBySeq =
    IMGBATCH_QUEUE_RECEIVE_COLUMNS "FROM queue_messages WHERE seq = ?1 AND +queue_id = ?2";

// Fair receives (EngineImpl::ReadVisibleFair), timed rows: kReceive's
// order without the message, just what it takes to choose (the chosen rows
// are read whole by kReceiveBySeq).
inline constexpr const char* kFairTimed =
    "SELECT seq, group_id, visible_at_ms FROM queue_messages WHERE queue_id = ?1 AND "
    "visible_at_ms <= ?2 AND " IMGBATCH_QUEUE_TIMED_ROW " ORDER BY visible_at_ms, seq LIMIT ?3";

// Fair receives, fresh rows: kReceiveFresh's order without the message.
inline constexpr const char* kFairFresh =
    "SELECT seq, group_id, visible_at_ms FROM queue_messages INDEXED BY queue_messages_seq "
    "WHERE queue_id = ?1 AND seq > ?2 AND receive_count = 0 AND visible_at_ms <= sent_ms "
    "ORDER BY seq LIMIT ?3";

// Fair queues: the tenant (group_id) of each message in flight at ?2, for
// the once-a-second sample (EngineImpl::SampleTenants); a range of
// queue_messages_visible, as long as the messages in flight.
inline constexpr const char* kInFlightGroups =
    "SELECT group_id FROM queue_messages WHERE queue_id = ?1 AND visible_at_ms > ?2 AND "
    "receive_count > 0 AND " IMGBATCH_QUEUE_TIMED_ROW;

// Hides the messages a receive delivers, all in one statement: ?1 visible
// again at, ?2 now, ?3 the receive's time as its handles name it
// (EngineImpl::ReceiveMillis), their rowids (seq) in ?4..?13; parameters
// left unbound are NULL and match nothing. Rowid lookups, one per message.
// The first receive is told by receive_count (first_receive_ms holds sent_ms
// before it in rows sent since queue migration 6, see InsertMessagesSql).
inline constexpr int kHideReceivedFirstSeq = 4;
inline constexpr const char* kHideReceived =
    "UPDATE queue_messages SET visible_at_ms = ?1, receive_count = receive_count + 1, "
    "first_receive_ms = CASE receive_count WHEN 0 THEN ?2 ELSE first_receive_ms END, "
    "last_receive_ms = ?3 WHERE seq IN (?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

// Deletes one message by receipt: ?1 queue, ?2 seq, ?3 the receive count
// and ?4 the receive time the receipt names; the row goes only when that is
// its latest receive. One rowid lookup, run once per entry of a
// DeleteMessageBatch: cheaper than one statement for the whole batch, whose
// `IN (VALUES ...)` list SQLite builds as a temporary table on every run (12%
// of the server's CPU in a profile).
inline constexpr const char* kDeleteReceipt =
    "DELETE FROM queue_messages WHERE seq = ?2 AND +queue_id = ?1 AND +receive_count = ?3 "
    "AND +last_receive_ms = ?4";

// The same, for a FIFO queue: only while the message is in flight (?5 =
// now). A FIFO message whose visibility ran out is its group's again; the
// receipt that hid it has expired (AWS refuses that delete, recorded).
inline constexpr const char* kDeleteInFlightReceipt =
    "DELETE FROM queue_messages WHERE seq = ?2 AND +queue_id = ?1 AND +receive_count = ?3 "
    "AND +last_receive_ms = ?4 AND +visible_at_ms > ?5";

// Whether the row a receipt names (?1 queue, ?2 seq) is still queued.
inline constexpr const char* kRowExists =
    "SELECT 1 FROM queue_messages WHERE seq = ?2 AND +queue_id = ?1";

// The same for a legacy (unkeyed, "ib1") receipt, which names no receive
// time: only a message last received before ?4, when keying began, goes
// (nothing once ?4 is 0).
inline constexpr const char* kDeleteLegacyReceipt =
    "DELETE FROM queue_messages WHERE seq = ?2 AND +queue_id = ?1 AND +receive_count = ?3 "
    "AND +last_receive_ms < ?4";

// Whether a message's latest receive was recorded before ?1: one that an
// unkeyed handle may still name. Such a row has been received, so it is in
// queue_messages_visible, which the repeated WHERE term lets SQLite walk
// instead of the table.
inline constexpr const char* kAnyReceiveBefore =
    "SELECT EXISTS (SELECT 1 FROM queue_messages WHERE receive_count > 0 AND "
    "last_receive_ms < ?1 AND " IMGBATCH_QUEUE_TIMED_ROW ")";

// When the next hidden message becomes visible (first entry of a range).
inline constexpr const char* kNextVisible =
    "SELECT min(visible_at_ms) FROM queue_messages WHERE queue_id = ?1 AND visible_at_ms > ?2 "
    "AND " IMGBATCH_QUEUE_TIMED_ROW;

// Hidden messages (in flight or delayed) counted over the covering
// queue_messages_visible index (it carries receive_count), never touching
// the table: column 0 all hidden, column 1 those received (in flight). Every
// hidden row is timed (a fresh row is visible since its send).
inline constexpr const char* kCountHidden =
    "SELECT count(*), coalesce(sum(receive_count > 0), 0) FROM queue_messages "
    "WHERE queue_id = ?1 AND visible_at_ms > ?2 AND " IMGBATCH_QUEUE_TIMED_ROW;

// Operator peek: oldest first over queue_messages_seq (seq order is sent
// order, see kExpireOldest); expired rows the sweep has not removed yet are
// skipped.
inline constexpr const char* kPeek =
    "SELECT message_id, body, attributes, sender_id, dlq_source, sent_ms, "
    "receive_count, visible_at_ms FROM queue_messages INDEXED BY queue_messages_seq "
    "WHERE queue_id = ?1 AND sent_ms > ?2 ORDER BY seq LIMIT ?3";

// Retention sweep, one chunk: deletes the expired among the ?3 oldest (by
// seq) messages of queue ?1 (sent_ms <= ?2). sent_ms never decreases with
// seq (sends take it in the writer, clamped), so the expired messages are a
// prefix of the queue in seq order: the sweep repeats while a whole chunk
// went.
inline constexpr const char* kExpireOldest =
    "DELETE FROM queue_messages WHERE seq IN (SELECT seq FROM queue_messages "
    "INDEXED BY queue_messages_seq WHERE queue_id = ?1 ORDER BY seq LIMIT ?3) AND sent_ms <= ?2";

// What a delete by message id returns of the row: whether it was in
// flight at ?4 (received, still hidden), so that the in-flight estimate
// drops with it.
#define IMGBATCH_QUEUE_DELETED_BY_ID "receive_count > 0 AND visible_at_ms > ?4"

// Operator delete by id, ?1 queue, ?2 message id. An id that carries its
// seq (?3, queue/message.h MessageIdForSeq): one rowid lookup, the id
// checked on the row.
inline constexpr const char* kDeleteBySeqId =
    "DELETE FROM queue_messages WHERE seq = ?3 AND +queue_id = ?1 AND +message_id = ?2 "
    "RETURNING " IMGBATCH_QUEUE_DELETED_BY_ID;
// Ids made before queue migration 6 (no seq in them): one lookup in the
// partial index queue_messages_legacy_id, which holds only those rows (its
// WHERE term is repeated here so that the planner may use it). Run only
// while that index exists (EngineImpl::DropLegacyIdIndexOnceEmpty).
inline constexpr const char* kDeleteByLegacyId =
    "DELETE FROM queue_messages WHERE queue_id = ?1 AND message_id = ?2 AND "
    "substr(message_id, 15, 1) <> '8' RETURNING " IMGBATCH_QUEUE_DELETED_BY_ID;

// One step of a message move task: the next chunk after the cursor, in seq
// order, read from queue_messages_seq.
inline constexpr const char* kMoveStep =
    "SELECT seq, dlq_source, sent_ms FROM queue_messages WHERE queue_id = ?1 AND "
    "seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4";

#undef IMGBATCH_QUEUE_TIMED_ROW

}  // namespace imgbatch::queue::sql
