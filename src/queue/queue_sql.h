// The queue engine's statements whose cost must not grow with a queue's
// backlog, named so that queue_engine_test can check each one's query plan
// (EXPLAIN QUERY PLAN: an index range or lookup, never a scan or a sort).
// Internal to the queue module.
#pragma once

namespace imgbatch::queue::sql {

// Receive: the oldest visible messages, an index range read in
// queue_messages_visible order.
inline constexpr const char* kReceive =
    "SELECT seq, message_id, body, attributes, sender_id, trace_header, "
    "sent_ms, receive_count, first_receive_ms, dlq_source FROM queue_messages "
    "WHERE queue_id = ?1 AND visible_at_ms <= ?2 "
    "ORDER BY visible_at_ms, seq LIMIT ?3";

// Hides the messages a receive delivers, all in one statement: ?1 visible
// again at, ?2 now, their rowids (seq) in ?3..?12; parameters left unbound
// are NULL and match nothing. Rowid lookups, one per message.
inline constexpr int kHideReceivedFirstSeq = 3;
inline constexpr const char* kHideReceived =
    "UPDATE queue_messages SET visible_at_ms = ?1, receive_count = receive_count + 1, "
    "first_receive_ms = CASE first_receive_ms WHEN 0 THEN ?2 ELSE first_receive_ms END, "
    "last_receive_ms = ?2 WHERE seq IN (?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

// Deletes by receipt in one statement: ?1 queue, then up to 10 (seq,
// receive_count) pairs in ?2/?3 .. ?20/?21; a row goes only when its
// receive count is the one its receipt names (the latest receive). Pairs
// left unbound are NULL and match nothing. Rowid lookups.
inline constexpr int kDeleteReceiptsMax = 10;
inline constexpr const char* kDeleteReceipts =
    "DELETE FROM queue_messages WHERE seq IN (?2, ?4, ?6, ?8, ?10, ?12, ?14, ?16, ?18, ?20) "
    "AND +queue_id = ?1 AND (+seq, +receive_count) IN (VALUES (?2, ?3), (?4, ?5), (?6, ?7), "
    "(?8, ?9), (?10, ?11), (?12, ?13), (?14, ?15), (?16, ?17), (?18, ?19), (?20, ?21))";

// When the next hidden message becomes visible (first entry of a range).
inline constexpr const char* kNextVisible =
    "SELECT min(visible_at_ms) FROM queue_messages WHERE queue_id = ?1 AND visible_at_ms > ?2";

// Hidden messages (in flight or delayed) counted over the covering
// queue_messages_visible index (it carries receive_count), never touching
// the table: column 0 all hidden, column 1 those received (in flight).
inline constexpr const char* kCountHidden =
    "SELECT count(*), coalesce(sum(receive_count > 0), 0) FROM queue_messages "
    "WHERE queue_id = ?1 AND visible_at_ms > ?2";

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

// Operator delete by id: one lookup in queue_messages_id.
inline constexpr const char* kDeleteById =
    "DELETE FROM queue_messages WHERE queue_id = ?1 AND message_id = ?2";

// One step of a message move task: the next chunk after the cursor, in seq
// order, read from queue_messages_seq.
inline constexpr const char* kMoveStep =
    "SELECT seq, dlq_source FROM queue_messages WHERE queue_id = ?1 AND "
    "seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4";

}  // namespace imgbatch::queue::sql
