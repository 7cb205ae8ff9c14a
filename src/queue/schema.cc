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
  };
}

}  // namespace imgbatch::queue
