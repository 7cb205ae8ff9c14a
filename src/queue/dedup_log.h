// The FIFO deduplication ids of the last five minutes: a table that only
// grows at its tail and shrinks at its head, and an index of it in memory.
//
// Why not a SQLite index: deduplication ids are the client's (or a body's
// SHA-256), so a B-tree keyed by them takes each insert on a random leaf,
// and in WAL mode every commit writes each leaf it touched whole. Keyed so,
// queue_dedup cost ~16 KB of writes per FIFO message and most of a FIFO
// queue's throughput (docs/benchmarks.md, session 14). Appended by rowid,
// a commit writes only the table's last page or two.
//
// The index maps a salted 64-bit fingerprint of (queue, scope, id) to the
// rowid of the newest row with that fingerprint. A hit is checked against
// the row itself, so a stale entry (its write rolled back) or a
// fingerprint shared by two ids never answers wrongly: the
// lookup then scans the table. What must hold is that every committed,
// unexpired row's fingerprint is in the index; entries are added as rows
// are written and removed only with the rows (or once expired).
//
// Memory: a slot of an open-addressing map (absl::flat_hash_map) per id of
// the last five minutes, 17 bytes at a load of 7/16 to 7/8: 25-45 bytes an
// id (std::unordered_map's nodes and buckets took ~51).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

#include "common/status.h"
#include "db/database.h"

namespace imgbatch::queue {

class DedupLog {
 public:
  struct Key {
    int64_t queue_id = 0;
    std::string_view scope;  // the message group, or "" (DeduplicationScope queue)
    std::string_view dedup_id;
    uint64_t fingerprint = 0;  // Fingerprint() of the three
  };
  struct Remembered {
    std::string message_id;
    int64_t seq = 0;
  };

  DedupLog();

  // Any thread: the salt is fixed for the life of the process (the index
  // is rebuilt from the table at start), so that nobody can choose ids
  // that share a fingerprint and push every lookup onto a table scan.
  uint64_t Fingerprint(int64_t queue_id, std::string_view scope, std::string_view dedup_id) const;

  // The rest runs inside the database's writes (the writer thread), or
  // before any write (Load).
  Status Load(db::Conn& conn);
  // The message a key's unexpired row names, if it has one.
  Result<std::optional<Remembered>> Find(db::Conn& txn, const Key& key, int64_t now);
  Status Remember(db::Conn& txn, const Key& key, std::string_view message_id, int64_t seq,
                  int64_t expires_ms);
  // Drops the rows expired at `now` from the head of the table; first
  // rebuilds the index if MarkStale() was called.
  Status ForgetExpired(db::Conn& txn, int64_t now);

  // Any thread: a write that changed the log failed, so the index may hold
  // entries for rows that are not there; the next ForgetExpired rebuilds it.
  void MarkStale() { stale_ = true; }
  // Any thread: whether the table may hold rows (ForgetExpired has work).
  // Every unexpired row has an entry in the index (see above), so its size says.
  bool maybe_stored() const { return remembered_ > 0; }
  size_t indexed() const { return index_.size(); }  // writer thread
  // Any thread: entries in the index after the last change (a metric).
  int64_t remembered() const { return remembered_; }

 private:
  struct Identity {
    size_t operator()(uint64_t fingerprint) const { return fingerprint; }  // already uniform
  };
  Status Rebuild(db::Conn& conn);
  void Unindex(uint64_t fingerprint, int64_t rowid);
  void Counted() { remembered_ = static_cast<int64_t>(index_.size()); }

  std::string salt_;
  absl::flat_hash_map<uint64_t, int64_t, Identity> index_;  // fingerprint -> newest rowid
  std::atomic<bool> stale_{false};
  std::atomic<int64_t> remembered_{0};
};

}  // namespace imgbatch::queue
