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

// When the next hidden message becomes visible (first entry of a range).
inline constexpr const char* kNextVisible =
    "SELECT min(visible_at_ms) FROM queue_messages WHERE queue_id = ?1 AND visible_at_ms > ?2";

// Hidden messages (in flight or delayed) counted over the covering
// queue_messages_visible index (it carries receive_count), never touching
// the table: column 0 all hidden, column 1 those received (in flight).
inline constexpr const char* kCountHidden =
    "SELECT count(*), coalesce(sum(receive_count > 0), 0) FROM queue_messages "
    "WHERE queue_id = ?1 AND visible_at_ms > ?2";

// Operator peek: oldest first over (queue_id, sent_ms[, rowid = seq]).
inline constexpr const char* kPeek =
    "SELECT message_id, body, attributes, sender_id, dlq_source, sent_ms, "
    "receive_count, visible_at_ms FROM queue_messages "
    "WHERE queue_id = ?1 AND sent_ms > ?2 ORDER BY sent_ms, seq LIMIT ?3";

// Operator delete by id: one lookup in queue_messages_id.
inline constexpr const char* kDeleteById =
    "DELETE FROM queue_messages WHERE queue_id = ?1 AND message_id = ?2";

// One step of a message move task: the next chunk after the cursor, in seq
// order, read from queue_messages_seq.
inline constexpr const char* kMoveStep =
    "SELECT seq, dlq_source FROM queue_messages WHERE queue_id = ?1 AND "
    "seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4";

}  // namespace imgbatch::queue::sql
