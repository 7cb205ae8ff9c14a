// The queue component's SQLite schema (see docs/design/queue.md).
#include "queue/queue_engine.h"

namespace imgbatch::queue {

std::vector<db::Migration> QueueEngine::Migrations() {
  return {
      {1, R"sql(
CREATE TABLE queues (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT NOT NULL UNIQUE,
  created_ms    INTEGER NOT NULL,
  modified_ms   INTEGER NOT NULL,
  attributes    TEXT NOT NULL,             -- settable attributes, JSON object of strings
  last_purge_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE queue_tags (
  queue_id INTEGER NOT NULL,
  key      TEXT NOT NULL,
  value    TEXT NOT NULL,
  PRIMARY KEY (queue_id, key)
) WITHOUT ROWID;
CREATE TABLE queue_messages (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  queue_id         INTEGER NOT NULL,
  message_id       TEXT NOT NULL,
  body             BLOB NOT NULL,
  attributes       BLOB NOT NULL,          -- queue/message.h EncodeAttributes
  sender_id        TEXT NOT NULL,
  trace_header     TEXT NOT NULL,
  sent_ms          INTEGER NOT NULL,
  visible_at_ms    INTEGER NOT NULL,
  receive_count    INTEGER NOT NULL DEFAULT 0,
  first_receive_ms INTEGER NOT NULL DEFAULT 0,
  last_receive_ms  INTEGER NOT NULL DEFAULT 0,
  dlq_source       TEXT NOT NULL DEFAULT '' -- source queue name once dead-lettered
);
CREATE INDEX queue_messages_visible ON queue_messages (queue_id, visible_at_ms, seq);
CREATE INDEX queue_messages_sent ON queue_messages (queue_id, sent_ms);
)sql"},
      // Message move tasks survive a restart: a step's moves and its
      // cursor/moved/status commit in one transaction, so a running task
      // resumes exactly where its last durable step ended.
      {2, R"sql(
CREATE TABLE queue_move_tasks (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  task_handle      TEXT NOT NULL UNIQUE,
  source_queue_id  INTEGER NOT NULL,
  source_name      TEXT NOT NULL,
  source_arn       TEXT NOT NULL,
  destination_arn  TEXT NOT NULL,          -- '' = each message back to its source
  destination_name TEXT NOT NULL,
  max_per_second   INTEGER,                -- NULL = as fast as the engine goes
  status           TEXT NOT NULL,          -- RUNNING, COMPLETED, CANCELLED, FAILED
  failure_reason   TEXT NOT NULL DEFAULT '',
  moved            INTEGER NOT NULL DEFAULT 0,
  to_move          INTEGER NOT NULL,
  max_seq          INTEGER NOT NULL,       -- messages present at start: seq <= max_seq
  cursor           INTEGER NOT NULL DEFAULT 0,  -- last seq handled
  started_ms       INTEGER NOT NULL
);
)sql"},
      // Indexes that keep operator and metrics paths flat with a large
      // backlog: the hidden-count index range covers receive_count (the
      // visible index entry is rewritten on every receive anyway, so this
      // costs no extra write); DeleteById looks up (queue, message_id); a
      // move task step reads the next chunk in seq order.
      {3, R"sql(
DROP INDEX queue_messages_visible;
CREATE INDEX queue_messages_visible ON queue_messages (queue_id, visible_at_ms, seq, receive_count);
CREATE INDEX queue_messages_id ON queue_messages (queue_id, message_id);
CREATE INDEX queue_messages_seq ON queue_messages (queue_id, seq);
)sql"},
      // Sends take their sent_ms in the db writer, never below the previous
      // send's (EngineImpl::NextSentMillis), so a queue's seq order is its
      // sent order: the retention sweep and the operator peek walk
      // queue_messages_seq, and each send and delete writes one index less.
      {4, R"sql(
DROP INDEX queue_messages_sent;
)sql"},
      // The body's MD5 (hex), computed once at send for the SendMessage reply
      // and stored, so that each receive does not hash the body again. ''
      // in rows sent before this step: those are hashed when received.
      {5, R"sql(
ALTER TABLE queue_messages ADD COLUMN body_md5 TEXT NOT NULL DEFAULT '';
)sql"},
      // Message ids made from here on carry their row's seq (version-8
      // UUIDs, queue/message.h MessageIdForSeq), so DeleteById finds them by
      // rowid and no index on message_id is written per send and delete (it
      // was ~25% of the bytes written per message). Older ids (version 4 or
      // 7, or anything else) stay findable through a partial index holding
      // only their rows: the engine never puts a new row in it, and drops it
      // at a start that finds it empty (EngineImpl::DropLegacyIdIndexOnceEmpty).
      {6, R"sql(
DROP INDEX queue_messages_id;
CREATE INDEX queue_messages_legacy_id ON queue_messages (queue_id, message_id)
  WHERE substr(message_id, 15, 1) <> '8';
)sql"},
      // A message sent without a delay and not received yet ("fresh") gets
      // no queue_messages_visible entry: it is visible from its send on, and
      // receives find such rows in seq order through queue_messages_seq
      // from a per-queue cursor (sql::kReceiveFresh). The index keeps the
      // rows whose visibility is a time of its own: received (in flight or
      // back), delayed, moved by a move task. Behind a backlog the index is
      // then written only where in-flight entries come and go, not also at
      // the backlog's head; each message costs two index writes instead of
      // four (send insert, receive move, delete). sent_ms is in the entry so
      // that the counts, which repeat the index's WHERE term, stay covered.
      {7, R"sql(
DROP INDEX queue_messages_visible;
CREATE INDEX queue_messages_visible
  ON queue_messages (queue_id, visible_at_ms, seq, receive_count, sent_ms)
  WHERE receive_count > 0 OR visible_at_ms > sent_ms;
)sql"},
      // A message's MessageGroupId (a fair queue's tenant on a standard
      // queue; NULL or '' for none). Adding a column rewrites no row.
      {8, R"sql(
ALTER TABLE queue_messages ADD COLUMN group_id TEXT;
)sql"},
      // FIFO queues. A FIFO message carries its deduplication id (never NULL
      // for one, always NULL for a standard queue's), which puts it in
      // queue_messages_fifo: receives walk a FIFO queue in seq (= send) order
      // there, reading each row's group and visibility from the index alone
      // (dedup_id is in the entry because the query repeats the index's WHERE
      // term, and a column it names must be in the index to cover it);
      // a standard queue's rows never enter it. queue_dedup remembers the
      // deduplication ids of the last five minutes (kDeduplicationIntervalMs);
      // scope is the message group under DeduplicationScope messageGroup and
      // '' under queue.
      {9, R"sql(
ALTER TABLE queue_messages ADD COLUMN dedup_id TEXT;
CREATE INDEX queue_messages_fifo
  ON queue_messages (queue_id, seq, group_id, visible_at_ms, dedup_id)
  WHERE dedup_id IS NOT NULL;
CREATE TABLE queue_dedup (
  queue_id   INTEGER NOT NULL,
  scope      TEXT NOT NULL,
  dedup_id   TEXT NOT NULL,
  message_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  PRIMARY KEY (queue_id, scope, dedup_id)
) WITHOUT ROWID;
CREATE INDEX queue_dedup_expiry ON queue_dedup (expires_ms);
)sql"},
      // queue_dedup becomes a log (queue/dedup_log.h): appended by rowid,
      // which is send order and so expiry order, and looked up through an
      // index in memory; keyed by the ids it took a random leaf per insert.
      {10, R"sql(
CREATE TABLE queue_dedup_log (
  id         INTEGER PRIMARY KEY,
  queue_id   INTEGER NOT NULL,
  scope      TEXT NOT NULL,
  dedup_id   TEXT NOT NULL,
  message_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
INSERT INTO queue_dedup_log (queue_id, scope, dedup_id, message_id, seq, expires_ms)
  SELECT queue_id, scope, dedup_id, message_id, seq, expires_ms FROM queue_dedup
  ORDER BY expires_ms;
DROP TABLE queue_dedup;
ALTER TABLE queue_dedup_log RENAME TO queue_dedup;
)sql"},
      // FIFO receive attempts (ReceiveRequestAttemptId) of the last five
      // minutes, so that a retry after a restart still gets what the first
      // try took: written by the receive that took them, appended in time
      // order like queue_dedup, read back at Load. taken is "seq:count,...".
      {11, R"sql(
CREATE TABLE queue_receive_attempts (
  id         INTEGER PRIMARY KEY,
  queue_id   INTEGER NOT NULL,
  attempt_id TEXT NOT NULL,
  taken      TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
);
)sql"},
      // The key receipt handles are MACed with (queue/receipt.h): one per
      // database, so that handles outlive a restart. The first Load that
      // finds none makes it; created_ms tells which unkeyed ("ib1") handles,
      // given before, may still act (those of receives before it).
      {12, R"sql(
CREATE TABLE queue_receipt_key (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  key        BLOB NOT NULL,
  created_ms INTEGER NOT NULL
);
)sql"},
      // created_ms is named for what the engine reads it as: unkeyed handles
      // act only on receives recorded before legacy_before_ms, and it turns
      // 0 at the first start that finds no such receive left (at once in a
      // new database): then none acts (EngineImpl::LoadReceiptKey).
      {13, R"sql(
ALTER TABLE queue_receipt_key RENAME COLUMN created_ms TO legacy_before_ms;
)sql"},
  };
}

}  // namespace imgbatch::queue
