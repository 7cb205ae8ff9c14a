// Database: the one SQLite database of a data directory (object metadata,
// queues, messages, notification configs). WAL mode; every commit is synced
// (fdatasync of the WAL) before anyone is told it succeeded, unless a
// WriteAsync caller asked to hear at its commit (Ack::kCommitted).
//
// Writes go through one writer thread with group commit: concurrent Write()
// calls are batched into one transaction and share one fsync; each caller's
// function runs in its own SAVEPOINT, so a failing caller rolls back only its
// own changes. By default (Options::overlap_sync) a syncer thread fdatasync()s
// the WAL after each COMMIT while the writer already runs the callers of the
// next transaction, which the syncer commits once that sync has finished
// (database.cc, "Durability"); without it COMMIT fsyncs the WAL (synchronous=FULL). Write()
// returns once the change is durable; WriteAsync() returns at once and calls
// its completion once durable, on the syncer thread (the writer thread
// without overlap_sync), so a server thread need not block for the fsync.
// Reads run on a small pool of read-only connections (snapshot isolation).
//
// Thread-safety: Database is thread-safe. Conn/Statement objects are used only
// inside the callback that received them, on that callback's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace imgbatch::db {

// A prepared statement (cached per connection). Bind indexes start at 1.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);       // TEXT
  Statement& BindBlob(int index, std::string_view bytes);  // BLOB
  // Bind and BindBlob without SQLite's copy of the bytes (SQLITE_STATIC): for
  // callers whose bytes stay valid and unchanged until the statement's last
  // Step() of this run (the statement is reset after the callback and never
  // reads its bindings again; the next Prepare clears them). Saves a malloc,
  // a copy and a free per value on the db writer (SendBatch binds six per
  // message, bodies up to 256 KiB).
  Statement& BindView(int index, std::string_view text);
  Statement& BindBlobView(int index, std::string_view bytes);
  Statement& BindNull(int index);
  Statement& Bind(int index, std::optional<int64_t> value);
  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Step() until done (for INSERT/UPDATE/DELETE).
  Status Run();
  // Makes the statement ready to run again (bindings kept, rebinding
  // allowed): one cached statement run once per item of a loop.
  Statement& Reset();
  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;  // TEXT or BLOB bytes
  bool ColumnIsNull(int column) const;
  int changes() const;
  int64_t last_insert_rowid() const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// A connection inside a callback: a write transaction (Write) or a read
// snapshot (Read).
class Conn {
 public:
  virtual ~Conn() = default;
  virtual Status Exec(std::string_view sql) = 0;
  // Returns a reset, cleared, cached statement for this SQL text. Preparing
  // the same text again resets that one statement: do not nest two uses of
  // one SQL text (e.g. the same SELECT inside its own row loop).
  virtual Result<Statement> Prepare(std::string_view sql) = 0;
  virtual sqlite3* raw() = 0;
  // Write transactions only: runs fn once the COMMIT of this caller's
  // changes is durable, before the caller's Write() returns, on the syncer
  // thread, possibly while later callers already run on the writer (without
  // overlap_sync: on the writer thread). Dropped if the caller's changes
  // roll back. (Engines use it to update in-memory state and wake waiters for rows another
  // module added in its transaction.) On a read connection fn runs at once.
  // A caller acknowledged with Ack::kCommitted has its hooks run at its
  // commit instead, just before its completion, by the thread that committed.
  virtual void OnCommit(std::function<void()> fn) = 0;
  // Write transactions only: a number that differs from every other write
  // transaction's of this database since it was opened (0 on a read
  // connection). A caller tells with it whether what it saw was written in
  // its own transaction.
  virtual uint64_t TransactionNumber() const = 0;
  // Write transactions only: this caller is completed once its commit is
  // durable even if it asked for Ack::kCommitted (a receive that took a row
  // sent in its own transaction must not hand it out before the send is
  // durable). No effect on a read connection.
  virtual void RequireDurableAck() = 0;
};
using Txn = Conn;  // what ObjectEventSink receives: the writer's transaction

struct Migration {
  int version;      // 1, 2, ... per component, applied in order once
  std::string sql;  // may hold several statements
};

struct Options {
  std::string path;  // database file; "-wal"/"-shm" beside it
  int read_connections = 4;
  // Max callers folded into one transaction.
  int max_group = 512;
  // true: COMMIT only writes the WAL (synchronous=NORMAL); the syncer thread
  // fdatasync()s it before anyone hears of the commit, while the writer runs
  // the next transaction's callers (committed by the syncer once that sync
  // has finished: one commit per sync). false: COMMIT fsyncs the WAL (synchronous=FULL) on
  // the writer thread, which runs nothing meanwhile. Equally durable; see
  // database.cc "Durability" and docs/benchmarks.md "DB writer pipelining".
  bool overlap_sync = true;
  // overlap_sync: a caller that arrives while no sync runs would be committed
  // and synced alone while the callers behind it wait for the next sync. The
  // writer holds that commit for at most this long, until as many callers as
  // the last committed group had have joined it (a lone caller after a group
  // of one is never held). Zero: commit at once. See database.cc "Waves".
  std::chrono::microseconds idle_commit_hold{100};
  // Tests only (overlap_sync): called on the syncer thread in place of the fdatasync that
  // makes commits durable, with that fdatasync as `sync` (call it, delay
  // it, or return a fault instead).
  std::function<Status(const std::function<Status()>& sync)> wal_sync_for_test = nullptr;
};

class Database {
 public:
  static Result<std::unique_ptr<Database>> Open(const Options& options);
  virtual ~Database() = default;

  // Applies the component's migrations not yet applied (tracked in a
  // schema_versions table), in one transaction. Call at start-up, before
  // serving. Unknown newer versions on disk are an error (downgrade).
  virtual Status Migrate(std::string_view component, const std::vector<Migration>& steps) = 0;

  // Runs fn on the writer thread in a group-committed transaction; returns
  // fn's Status once durable (or the commit's error).
  virtual Status Write(std::function<Status(Txn&)> fn) = 0;
  // Like Write, without waiting: fn joins the next group, and done(fn's
  // Status, or the commit's or the sync's error) runs on the syncer thread
  // (the writer thread without overlap_sync) once that group committed and is
  // durable (after the group's OnCommit
  // hooks), in the order the calls were queued (Ack::kCommitted callers,
  // below, earlier: at their commit). done must be quick and must
  // not block or call Write() (post real work elsewhere); it may call
  // WriteAsync() (that joins a later group). When the database is closing, done(kUnavailable) runs
  // at once on the calling thread. The destructor completes every queued call.
  virtual void WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done) = 0;
  // How the writer keeps one caller's failure from the rest of its group.
  enum class CallerUndo {
    // A SAVEPOINT around the caller, rolled back if fn returns an error.
    kSavepoint,
    // No savepoint: fn promises that when it returns an error it changed no
    // row (its only write is one statement, which SQLite undoes by itself
    // when it fails, or it reports per-item failures inside an Ok result).
    // Saves the SAVEPOINT/RELEASE and the copies of every page it touches
    // into the savepoint journal. A fn that breaks the promise fails its
    // whole group (rolled back, nothing acknowledged): its partial changes
    // cannot be undone alone.
    kNone,
  };
  virtual void WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done,
                          CallerUndo undo) = 0;
  // When a WriteAsync caller hears of its commit.
  enum class Ack {
    // Once the commit is durable (synced): what every Write() gets.
    kDurable,
    // Once COMMIT has returned, before the WAL's sync (overlap_sync; without
    // it COMMIT syncs): the transaction's frames are in the kernel, so the
    // change survives the process being killed (kill -9), and readers see
    // it; only a power loss or an OS crash before the sync that follows
    // (which still runs) can lose it. Its OnCommit hooks run then too. For
    // changes whose loss in that window the system tolerates by design (a
    // receive: the message is delivered again), not for what a client was
    // promised is stored. Completed on the thread that committed.
    kCommitted,
  };
  virtual void WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done,
                          CallerUndo undo, Ack ack) = 0;
  // Runs fn on a read connection.
  virtual Status Read(std::function<Status(Conn&)> fn) = 0;

  // Fault injection for tests: fail the Nth following commit with kIoError
  // (1 = the next one; 0 cancels).
  virtual void FailCommitAfter(int n) = 0;

  // Counters for metrics and tests: Write() calls finished, transactions
  // committed or failed (writes / commits = average group size), callers
  // currently waiting in the writer's queue.
  struct Stats {
    uint64_t writes = 0;
    uint64_t commits = 0;
    uint64_t queued = 0;
    // overlap_sync: a sync is running or a committed group waits for one
    // (the syncer commits the open transaction after it).
    bool syncing = false;
  };
  virtual Stats GetStats() { return {}; }
};

}  // namespace imgbatch::db
