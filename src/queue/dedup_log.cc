#include "queue/dedup_log.h"

#include <cstring>

#include "common/hashing.h"

namespace imgbatch::queue {
namespace {

constexpr const char* kSelectRow =
    "SELECT queue_id, scope, dedup_id, message_id, seq, expires_ms FROM queue_dedup WHERE id = ?1";
// Only when the index's entry names another row (a shared fingerprint) or
// none: a scan, newest first.
constexpr const char* kScanForKey =
    "SELECT message_id, seq FROM queue_dedup WHERE queue_id = ?1 AND scope = ?2 AND "
    "dedup_id = ?3 AND expires_ms > ?4 ORDER BY id DESC LIMIT 1";

void AppendInt(std::string& out, uint64_t n) {
  char bytes[sizeof n];
  std::memcpy(bytes, &n, sizeof n);
  out.append(bytes, sizeof n);
}

}  // namespace

DedupLog::DedupLog() : salt_(RandomBytes(16)) {}

uint64_t DedupLog::Fingerprint(int64_t queue_id, std::string_view scope,
                               std::string_view dedup_id) const {
  std::string input = salt_;
  input.reserve(salt_.size() + 16 + scope.size() + dedup_id.size());
  AppendInt(input, static_cast<uint64_t>(queue_id));
  AppendInt(input, scope.size());  // ("ab", "c") and ("a", "bc") differ
  input.append(scope).append(dedup_id);
  const std::string digest = Sha256(input);
  uint64_t fingerprint = 0;
  std::memcpy(&fingerprint, digest.data(), sizeof fingerprint);
  return fingerprint;
}

Status DedupLog::Load(db::Conn& conn) { return Rebuild(conn); }

Status DedupLog::Rebuild(db::Conn& conn) {
  stale_ = false;
  index_.clear();
  IMGBATCH_ASSIGN_OR_RETURN(
      db::Statement rows,
      conn.Prepare("SELECT id, queue_id, scope, dedup_id FROM queue_dedup ORDER BY id"));
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    const std::string scope = rows.ColumnText(2);
    const std::string dedup_id = rows.ColumnText(3);
    index_[Fingerprint(rows.ColumnInt(1), scope, dedup_id)] = rows.ColumnInt(0);  // newest wins
  }
  Counted();
  return Status::Ok();
}

Result<std::optional<DedupLog::Remembered>> DedupLog::Find(db::Conn& txn, const Key& key,
                                                           int64_t now) {
  auto it = index_.find(key.fingerprint);
  if (it == index_.end()) return std::optional<Remembered>();
  IMGBATCH_ASSIGN_OR_RETURN(db::Statement row, txn.Prepare(kSelectRow));
  IMGBATCH_ASSIGN_OR_RETURN(bool found, row.Bind(1, it->second).Step());
  if (found && row.ColumnInt(0) == key.queue_id && row.ColumnText(1) == key.scope &&
      row.ColumnText(2) == key.dedup_id) {
    // The newest row of this key: if it expired, no other is live.
    if (row.ColumnInt(5) <= now) return std::optional<Remembered>();
    return std::optional<Remembered>(Remembered{row.ColumnText(3), row.ColumnInt(4)});
  }
  IMGBATCH_ASSIGN_OR_RETURN(db::Statement scan, txn.Prepare(kScanForKey));
  IMGBATCH_ASSIGN_OR_RETURN(
      bool seen,
      scan.Bind(1, key.queue_id).Bind(2, key.scope).Bind(3, key.dedup_id).Bind(4, now).Step());
  if (!seen) return std::optional<Remembered>();
  return std::optional<Remembered>(Remembered{scan.ColumnText(0), scan.ColumnInt(1)});
}

Status DedupLog::Remember(db::Conn& txn, const Key& key, std::string_view message_id, int64_t seq,
                          int64_t expires_ms) {
  IMGBATCH_ASSIGN_OR_RETURN(
      db::Statement insert,
      txn.Prepare("INSERT INTO queue_dedup(queue_id, scope, dedup_id, message_id, seq, "
                  "expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  IMGBATCH_RETURN_IF_ERROR(insert.Bind(1, key.queue_id)
                               .BindView(2, key.scope)
                               .BindView(3, key.dedup_id)
                               .BindView(4, message_id)
                               .Bind(5, seq)
                               .Bind(6, expires_ms)
                               .Run());
  index_[key.fingerprint] = insert.last_insert_rowid();
  Counted();
  return Status::Ok();
}

void DedupLog::Unindex(uint64_t fingerprint, int64_t rowid) {
  auto it = index_.find(fingerprint);
  if (it != index_.end() && it->second == rowid) index_.erase(it);  // else a newer row's
}

// Rows are appended in sent order with expiry = sent + the interval, so the
// expired ones are a prefix of the table. Their entries may leave the index
// before the DELETE commits: a lookup would find them expired anyway.
Status DedupLog::ForgetExpired(db::Conn& txn, int64_t now) {
  if (stale_) IMGBATCH_RETURN_IF_ERROR(Rebuild(txn));
  IMGBATCH_ASSIGN_OR_RETURN(
      db::Statement oldest,
      txn.Prepare("SELECT id, queue_id, scope, dedup_id, expires_ms FROM queue_dedup ORDER BY id"));
  int64_t last_expired = 0;
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(bool row, oldest.Step());
    if (!row || oldest.ColumnInt(4) > now) break;
    last_expired = oldest.ColumnInt(0);
    const std::string scope = oldest.ColumnText(2);
    const std::string dedup_id = oldest.ColumnText(3);
    Unindex(Fingerprint(oldest.ColumnInt(1), scope, dedup_id), last_expired);
  }
  oldest.Reset();
  if (last_expired > 0) {
    IMGBATCH_ASSIGN_OR_RETURN(db::Statement del,
                              txn.Prepare("DELETE FROM queue_dedup WHERE id <= ?1"));
    IMGBATCH_RETURN_IF_ERROR(del.Bind(1, last_expired).Run());
  }
  Counted();
  return Status::Ok();
}

}  // namespace imgbatch::queue
