#include "db/database.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/strings.h"
#include "db/wal_write_combining_vfs.h"

namespace imgbatch::db {
namespace {

constexpr int kBusyTimeoutMs = 10'000;
// WAL size (pages) at which the background checkpointer copies the WAL back
// into the database file; and the size at which the writer does it itself
// because the checkpointer cannot keep up.
constexpr int kCheckpointPages = 1000;
constexpr int kWriterCheckpointPages = 64 * 1000;
// How much nicer than the rest of the process the checkpointer runs; see
// LowerThisThreadsPriority.
constexpr int kCheckpointerNiceIncrement = 15;

// Maps an SQLite result code to our domain codes. Constraint violations are
// kAlreadyExists (callers use UNIQUE/PRIMARY KEY to detect duplicates); a full
// disk is kNoSpace so adapters can say "InsufficientStorage".
Status FromSqlite(int rc, sqlite3* db, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return Status(Code::kAlreadyExists, std::move(message));
    case SQLITE_FULL:
      return Status(Code::kNoSpace, std::move(message)).WithDetail("InsufficientStorage");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status(Code::kUnavailable, std::move(message));
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return Status(Code::kIoError, std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status(Code::kCorruption, std::move(message));
    case SQLITE_TOOBIG:
      return Status(Code::kTooLarge, std::move(message));
    default:
      return Status(Code::kInternal, std::move(message));
  }
}

Status ExecRaw(sqlite3* db, std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string message = error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  Status st = FromSqlite(rc, db, "exec");
  return Status(st.code(), message + " (in: " + text.substr(0, 120) + ")");
}

// One SQLite connection with its prepared-statement cache. Not thread-safe:
// owned by the writer thread or checked out of the read pool by one caller.
class Connection final : public Conn {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status Exec(std::string_view sql) override { return ExecRaw(db_, sql); }

  // Runs one statement from the cache and resets it at once: the writer's
  // per-caller SAVEPOINT/RELEASE and per-group BEGIN/COMMIT, which
  // sqlite3_exec would parse again every time.
  Status ExecCached(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      stmt = it->second;
    } else {
      int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return FromSqlite(rc, db_, "prepare");
      cache_.emplace(std::string(sql), stmt);
    }
    int rc = sqlite3_step(stmt);
    Status result = rc == SQLITE_DONE || rc == SQLITE_ROW ? Status::Ok() : FromSqlite(rc, db_, sql);
    sqlite3_reset(stmt);
    return result;
  }

  Result<Statement> Prepare(std::string_view sql) override {
    auto it = cache_.find(sql);
    sqlite3_stmt* stmt = nullptr;
    if (it != cache_.end()) {
      stmt = it->second;
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    } else {
      int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return FromSqlite(rc, db_, "prepare");
      if (stmt == nullptr) return InvalidArgument("empty SQL statement");
      cache_.emplace(std::string(sql), stmt);
    }
    handed_out_.push_back(stmt);
    return Statement(db_, stmt);
  }

  sqlite3* raw() override { return db_; }

  void OnCommit(std::function<void()> fn) override {
    if (in_write_) {
      on_commit_.push_back(std::move(fn));
    } else {
      fn();
    }
  }
  uint64_t TransactionNumber() const override { return transaction_number_; }
  void RequireDurableAck() override {
    if (in_write_) durable_ack_required_ = true;
  }
  void BeganTransaction() { ++transaction_number_; }
  // Whether the caller that just ran called RequireDurableAck (and forgets it).
  bool TakeDurableAckRequired() { return std::exchange(durable_ack_required_, false); }
  void BeginWriteCaller() { in_write_ = true; }
  // The callbacks of the caller that just finished (empty if it failed).
  std::vector<std::function<void()>> EndWriteCaller(bool succeeded) {
    in_write_ = false;
    auto out = std::move(on_commit_);
    on_commit_.clear();
    if (!succeeded) out.clear();
    return out;
  }

  // Resets every statement handed out since the last call, so no statement
  // keeps a read cursor open past its callback (which would block COMMIT or
  // pin the WAL snapshot).
  void ResetHandedOut() {
    for (sqlite3_stmt* stmt : handed_out_) sqlite3_reset(stmt);
    handed_out_.clear();
  }

 private:
  sqlite3* db_;
  // Searched with the caller's SQL text as is: a lookup per statement per
  // caller on the writer's hot path.
  std::unordered_map<std::string, sqlite3_stmt*, StringViewHash, std::equal_to<>> cache_;
  std::vector<sqlite3_stmt*> handed_out_;
  bool in_write_ = false;
  bool durable_ack_required_ = false;
  uint64_t transaction_number_ = 0;
  std::vector<std::function<void()>> on_commit_;
};

// vfs: nullptr for SQLite's default.
Result<std::unique_ptr<Connection>> OpenConnection(const std::string& path, bool read_only,
                                                   bool overlap_sync = false,
                                                   const char* vfs = nullptr) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs);
  auto conn = std::make_unique<Connection>(raw);  // closes raw on every path
  if (rc != SQLITE_OK) return FromSqlite(rc, raw, "open " + path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  IMGBATCH_RETURN_IF_ERROR(ExecRaw(raw, "PRAGMA foreign_keys=ON"));
  if (read_only) {
    IMGBATCH_RETURN_IF_ERROR(ExecRaw(raw, "PRAGMA query_only=1"));
  } else {
    IMGBATCH_RETURN_IF_ERROR(ExecRaw(raw, "PRAGMA journal_mode=WAL"));
    // FULL: COMMIT fsyncs the WAL. With Options::overlap_sync, NORMAL:
    // COMMIT only write()s it and the syncer thread fdatasync()s it before
    // any caller hears of the commit (see "Durability" above DatabaseImpl);
    // checkpoints still sync the WAL first and the database file after, and
    // a reused WAL's new header is synced, as with FULL.
    IMGBATCH_RETURN_IF_ERROR(
        ExecRaw(raw, overlap_sync ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL"));
    // Checkpoints are scheduled by DatabaseImpl (see OnWalCommit).
    IMGBATCH_RETURN_IF_ERROR(ExecRaw(raw, "PRAGMA wal_autocheckpoint=0"));
    // Debian builds SQLite with secure_delete on: each page a delete frees
    // is zeroed and written to the WAL, then checkpointed. Behind a backlog,
    // where deletes empty B-tree leaves at the queue's head while sends fill
    // new ones at its tail, that was ~2 of every 12-18 frames a queue commit
    // wrote. FAST still zeroes deleted content inside the pages a transaction
    // writes anyway; only pages on the freelist keep their old bytes until
    // they are reused.
    IMGBATCH_RETURN_IF_ERROR(ExecRaw(raw, "PRAGMA secure_delete=FAST"));
  }
  return conn;
}

// Opens the writer connection's WAL file for the syncer's fdatasync. A read
// on the connection first makes SQLite create the WAL of a new database.
// Opened before any commit: a write-back error of SQLite's writes is then
// reported to this descriptor's fdatasync too (Linux reports an error to
// every descriptor open at the time).
Result<int> OpenWalForSync(sqlite3* writer) {
  IMGBATCH_RETURN_IF_ERROR(ExecRaw(writer, "SELECT count(*) FROM sqlite_master"));
  const char* wal = sqlite3_filename_wal(sqlite3_db_filename(writer, "main"));
  if (wal == nullptr || *wal == '\0') return Internal("database has no WAL file name");
  int fd = ::open(wal, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(std::string("open ") + wal + ": " + std::strerror(errno));
  return fd;
}

// A Write() caller waiting for its group's commit. Shared by the caller and
// the writer, so the writer can wake it without the caller's stack frame
// having to outlive the wake-up.
struct PendingWrite {
  std::function<Status(Txn&)> fn;
  Status result;
  // WriteAsync's completion; empty for a blocking Write() (woken through cv).
  std::function<void(Status)> done_fn;
  Database::CallerUndo undo = Database::CallerUndo::kSavepoint;
  Database::Ack ack = Database::Ack::kDurable;
  // Ack::kCommitted: its OnCommit hooks (run at its commit, not in its
  // group's on_durable), and whether it was completed then.
  std::vector<std::function<void()>> on_committed;
  bool completed_at_commit = false;
  // Not std::atomic::wait: libstdc++ 12 spins with sched_yield first, which
  // under load was a third of the server's context switches.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};
using PendingPtr = std::shared_ptr<PendingWrite>;

// One transaction's callers: run by the writer in its open transaction,
// then (committed or failed) on their way to the syncer.
struct CommittedGroup {
  std::vector<PendingPtr> callers;
  // The OnCommit hooks of its succeeding callers, run once durable.
  std::vector<std::function<void()>> on_durable;
  bool in_txn = false;     // the writer's transaction is open for these callers
  bool committed = false;  // false: rolled back, results already failures
};

Status kEarlierSyncFailed() {
  return IoError("an earlier fdatasync of the WAL failed: no write is durable until a restart");
}

// Names the calling thread (shown by top -H, perf, gdb).
void NameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

// Raises the calling thread's nice value by `increment` (Linux threads have
// their own). The checkpointer copies WAL pages into the database file: work
// no caller waits for, on the same cores as the threads that answer callers.
// Behind a large queue each commit touches B-tree pages at both ends, so it
// copies ~3x the pages per message, and at the writer's priority it preempted
// the threads that answer: receive p99 with 1,000,000 messages queued went
// from 1.055x to 1.035x the empty queue's (docs/benchmarks.md, session 17).
// It cannot starve: the scheduler still gives a nice-15 thread ~3% of a busy
// core, about what it uses at 30,000 messages/s, and should it fall behind
// the writer checkpoints by itself at kWriterCheckpointPages. Best effort:
// raising one's own nice value needs no privilege; a failure changes only speed.
void LowerThisThreadsPriority(int increment) {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);
  if (current == -1 && errno != 0) return;
  (void)setpriority(PRIO_PROCESS, tid, std::min(19, current + increment));
}

// Durability. With Options::overlap_sync off the writer's connection runs
// synchronous=FULL: SQLite's COMMIT writes the transaction's frames to the
// WAL and fsyncs it before returning; the writer then runs the group's
// OnCommit hooks and completions itself; callers queuing meanwhile form the
// next group.
//
// With overlap_sync the fsync leaves the writer: its connection runs with
// synchronous=NORMAL, which in WAL mode differs from FULL only by that one
// sync after each commit (https://sqlite.org/pragma.html#pragma_synchronous:
// NORMAL still syncs the WAL before every checkpoint, the database file after
// it, and the header of a WAL that starts over after a checkpoint; only
// "most transactions" skip the sync). Each committed group (committed by the
// writer or by the syncer, see below) goes to the syncer thread, which
// fdatasync()s the WAL through its own descriptor (fsync flushes the file,
// i.e. the inode, whatever descriptor it is called on) and only then runs
// the group's OnCommit hooks and completes its callers. So:
//  - No caller is acknowledged before a sync that started after its COMMIT
//    returned (the syncer takes a group only once it is committed, and
//    syncs after taking it). Groups complete in commit order. The exception
//    is asked for: an Ack::kCommitted caller is completed by the thread that
//    committed its group, right after COMMIT returned (CompleteAtCommit), so
//    it is only as durable as kill -9 below; the sync still follows.
//  - kill -9: a returned COMMIT's frames are in the kernel's page cache
//    either way. Power loss: an acknowledged group's frames were synced; WAL
//    frames are only appended until a checkpoint copied all of them into the
//    (then synced) database file, and recovery stops at the first frame whose
//    checksum chain breaks, so unsynced later frames cannot hide synced ones.
//  - Checkpoints (background thread, or this writer past
//    kWriterCheckpointPages) may copy frames the syncer has not synced yet:
//    a checkpoint syncs the WAL itself before it writes any database page
//    (NORMAL keeps these checkpoint syncs), so it never runs ahead of a sync.
//    wal_autocheckpoint stays 0 and journal_size_limit at its default (-1:
//    the WAL is never truncated while open); the WAL file is only deleted by
//    the last connection's close, after the syncer has drained.
//  - A failed fdatasync may have dropped the dirty pages it could not write
//    (Linux marks them clean), leaving a hole in the WAL: no later commit can
//    be promised durable either. The first failure is sticky: that group and
//    every later one fail with kIoError (the writer rolls back the
//    transaction it has open and runs nothing more) until the database is
//    reopened.
//  - What NORMAL gives up: another connection (Read()) can see a commit
//    before the syncer has made it durable, for the length of one fdatasync.
//    Nothing read that way is acknowledged to the caller that wrote it before
//    the sync, and a power loss in that window loses a write its writer was
//    never told succeeded (as if it had failed).
// What overlaps the sync is the next group's statements, not its commit:
// while sync N runs, the writer opens a transaction (BEGIN IMMEDIATE) and
// runs each caller as it arrives (savepoints as always); once sync N's
// fdatasync has returned and its callers are completed, the syncer itself
// COMMITs them as group N+1 (the connection is shared under conn_mutex_, so
// no thread has to be woken between two syncs) and syncs that; callers
// arriving while no sync runs are run and committed at once by the writer,
// as with FULL. One commit per sync, so
// groups stay as large as with FULL: an earlier version committed the next group while the sync
// ran, and groups shrank, each small commit rewriting the same hot pages into the WAL (+30% bytes,
// +10% CPU per message; docs/benchmarks.md, "DB writer"). The open
// transaction is invisible to readers until its COMMIT; a caller failing in
// it rolls back to its savepoint; SQLite aborting it fails the callers run
// in it so far (not acknowledged: their sync never came), and the next
// caller opens a new one. At most max_group callers join one transaction;
// the rest wait for the next.
class DatabaseImpl final : public Database {
 public:
  DatabaseImpl(Options options, std::unique_ptr<Connection> writer,
               std::unique_ptr<Connection> checkpointer,
               std::vector<std::unique_ptr<Connection>> readers, int wal_fd)
      : options_(std::move(options)),
        writer_conn_(std::move(writer)),
        wal_fd_(wal_fd),
        checkpoint_conn_(std::move(checkpointer)) {
    for (auto& r : readers) {
      idle_readers_.push_back(r.get());
      readers_.push_back(std::move(r));
    }
    sqlite3_wal_hook(writer_conn_->raw(), &DatabaseImpl::OnWalCommit, this);
    checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
    if (options_.overlap_sync) syncer_thread_ = std::thread([this] { SyncerLoop(); });
    writer_thread_ = std::thread([this] { WriterLoop(); });
  }

  ~DatabaseImpl() override {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_thread_.join();  // drains the queue into the syncer
    {
      std::lock_guard lock(queue_mutex_);
      syncer_stopping_ = true;
    }
    sync_cv_.notify_all();
    if (syncer_thread_.joinable()) syncer_thread_.join();  // syncs, completes what is left
    {
      std::lock_guard lock(checkpoint_mutex_);
      checkpoint_stop_ = true;
    }
    checkpoint_cv_.notify_all();
    checkpoint_thread_.join();
    if (wal_fd_ >= 0) ::close(wal_fd_);
  }

  Status Migrate(std::string_view component, const std::vector<Migration>& steps) override;
  Status Write(std::function<Status(Txn&)> fn) override;
  void WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done) override;
  void WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done,
                  CallerUndo undo) override;
  void WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done, CallerUndo undo,
                  Ack ack) override;
  Status Read(std::function<Status(Conn&)> fn) override;
  void FailCommitAfter(int n) override { fail_commit_countdown_.store(n); }
  Stats GetStats() override {
    std::lock_guard lock(queue_mutex_);
    return Stats{writes_, commits_, queue_.size(), sync_running_ || !to_sync_.empty()};
  }

 private:
  bool Enqueue(PendingPtr pending);
  void WriterLoop();
  // Runs one caller in the group's transaction (opening it first); a caller
  // that makes SQLite abort the transaction fails and hands over the group.
  // With conn_mutex_ held.
  void RunCaller(CommittedGroup& group, const PendingPtr& p);
  // Commits the group's transaction (if any) and returns the group, leaving
  // `open` empty. With conn_mutex_ held.
  CommittedGroup CommitOpen(CommittedGroup& open);
  // Fails the group's callers, rolling back its transaction.
  void Fail(CommittedGroup& group, const Status& st);
  // Fails the group's callers (rolling back its transaction) and hands it over.
  void FailGroup(CommittedGroup& group, const Status& st);
  // Passes a committed or failed group on: completed here (synchronous=FULL)
  // or by the syncer once its sync has finished.
  void HandOver(CommittedGroup& group);
  static void Complete(PendingWrite& p);
  static void CompleteAtCommit(CommittedGroup& g);
  void FinishGroup(CommittedGroup& g, const Status& synced);
  Status Commit();
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr TimePoint kNoHold = TimePoint::max();
  bool HoldCommit(bool stopping, TimePoint& until);
  void SyncerLoop();
  Status SyncWal();
  void CheckpointLoop();
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  bool OnBackgroundThread() const {
    const auto self = std::this_thread::get_id();
    return self == writer_thread_.get_id() || self == syncer_thread_.get_id();
  }

  const Options options_;
  // Used by the writer thread, which runs callers in its open transaction,
  // and (overlap_sync) by the syncer, which commits it: one at a time, under
  // conn_mutex_ (taken before queue_mutex_ when both are held).
  std::unique_ptr<Connection> writer_conn_;
  std::mutex conn_mutex_;
  CommittedGroup open_;            // the callers run in the open transaction, if any
  size_t last_group_callers_ = 0;  // of the last CommitOpen, guarded by conn_mutex_

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;  // writer waits for work / the syncer
  std::deque<PendingPtr> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;
  std::atomic<int> fail_commit_countdown_{0};
  uint64_t writes_ = 0;   // guarded by queue_mutex_
  uint64_t commits_ = 0;  // guarded by queue_mutex_
  // open_'s callers, guarded by queue_mutex_ (written under conn_mutex_ too):
  // the writer waits while the group is full.
  size_t open_callers_ = 0;

  // Committed (or failed) groups the syncer has not taken yet, guarded by
  // queue_mutex_; the syncer waits on sync_cv_.
  std::condition_variable sync_cv_;
  std::vector<CommittedGroup> to_sync_;
  // The syncer is syncing or completing a group; it commits open_ next.
  bool sync_running_ = false;
  bool syncer_stopping_ = false;
  std::thread syncer_thread_;
  const int wal_fd_;  // overlap_sync: the WAL, opened read-only for fdatasync
  // Set by the syncer on the first failed sync (see "Durability").
  std::atomic<bool> sync_failed_{false};

  // Checkpoints run on their own thread and connection, so commits never wait
  // for the WAL to be copied into the database file.
  std::unique_ptr<Connection> checkpoint_conn_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stop_ = false;
  std::thread checkpoint_thread_;

  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> idle_readers_;
};

// Queues a caller for the writer; false once the database is closing.
bool DatabaseImpl::Enqueue(PendingPtr pending) {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return false;
    queue_.push_back(std::move(pending));
  }
  queue_cv_.notify_one();
  return true;
}

Status DatabaseImpl::Write(std::function<Status(Txn&)> fn) {
  if (OnBackgroundThread()) {
    // A write callback or a completion calling Write() would wait for its
    // own thread forever.
    return Internal("db::Write called from inside a write callback or completion");
  }
  auto pending = std::make_shared<PendingWrite>();
  pending->fn = std::move(fn);
  if (!Enqueue(pending)) return Status(Code::kUnavailable, "database is closing");
  // Woken alone when its own group committed (a shared condition variable
  // woke every waiting caller, later groups' included, at every commit).
  std::unique_lock done_lock(pending->mu);
  pending->cv.wait(done_lock, [&] { return pending->done; });
  return std::move(pending->result);
}

void DatabaseImpl::WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done) {
  WriteAsync(std::move(fn), std::move(done), CallerUndo::kSavepoint);
}

void DatabaseImpl::WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done,
                              CallerUndo undo) {
  WriteAsync(std::move(fn), std::move(done), undo, Ack::kDurable);
}

void DatabaseImpl::WriteAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done,
                              CallerUndo undo, Ack ack) {
  auto pending = std::make_shared<PendingWrite>();
  pending->fn = std::move(fn);
  pending->done_fn = std::move(done);
  pending->undo = undo;
  pending->ack = ack;
  if (!Enqueue(pending)) {
    pending->result = Status(Code::kUnavailable, "database is closing");
    Complete(*pending);
  }
}

// Hands a finished caller its result: WriteAsync's completion runs here, on
// the writer thread (the syncer thread with overlap_sync); a blocking Write()
// is woken.
void DatabaseImpl::Complete(PendingWrite& p) {
  if (p.done_fn) {
    try {
      p.done_fn(std::move(p.result));
    } catch (...) {
      // The commit stands; a throwing completion must not take the syncer down.
    }
    return;
  }
  {
    std::lock_guard done_lock(p.mu);
    p.done = true;
  }
  p.cv.notify_one();  // p is shared: still alive even if its caller returned
}

void DatabaseImpl::WriterLoop() {
  NameThisThread("db-writer");
  // HoldCommit's timed waits are ~100 us: without this the kernel may add
  // its default 50 us of timer slack to each.
  prctl(PR_SET_TIMERSLACK, 1000UL);
  const size_t max_group = static_cast<size_t>(std::max(1, options_.max_group));
  std::vector<PendingPtr> arrived;
  TimePoint hold_until = kNoHold;  // see HoldCommit
  while (true) {
    bool stopping = false;
    {
      std::unique_lock lock(queue_mutex_);
      // Waits for work and for room in the open transaction (the syncer
      // empties it when it commits; see "Durability"), or for a held
      // commit's time to run out.
      auto has_work = [&] {
        if (queue_.empty()) return stopping_;
        return open_callers_ < max_group;
      };
      if (hold_until != kNoHold) {
        queue_cv_.wait_until(lock, hold_until, has_work);
      } else {
        queue_cv_.wait(lock, has_work);
      }
      stopping = stopping_;
      if (queue_.empty() && stopping && hold_until == kNoHold) return;  // stopping and drained
      const size_t room = open_callers_ < max_group ? max_group - open_callers_ : 0;
      const size_t take = std::min(queue_.size(), room);
      arrived.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
    }
    std::unique_lock conn(conn_mutex_);
    for (const PendingPtr& p : arrived) RunCaller(open_, p);
    arrived.clear();
    bool syncer_busy = false;
    {
      std::lock_guard lock(queue_mutex_);
      open_callers_ = open_.callers.size();
      syncer_busy = sync_running_ || !to_sync_.empty();
    }
    // A busy syncer commits the open transaction once its sync is done
    // (both decide under conn_mutex_, so one of them always does).
    if (open_.callers.empty() || (options_.overlap_sync && syncer_busy)) {
      hold_until = kNoHold;
      continue;
    }
    if (HoldCommit(stopping, hold_until)) continue;
    hold_until = kNoHold;
    CommittedGroup g = CommitOpen(open_);
    {
      std::lock_guard lock(queue_mutex_);
      open_callers_ = 0;
    }
    conn.unlock();
    CompleteAtCommit(g);
    HandOver(g);
  }
}

// Waves. In a closed loop (each client sends its next request when the
// last one is answered) the callers arrive in waves: those completed by one
// sync come back together, a few hundred microseconds later. While a sync
// runs the next wave joins the open transaction and is committed after it;
// but when no sync runs, the first caller of a wave would be committed and
// synced alone and the rest of the wave would wait behind that sync for one
// of their own: a sync (two disk round trips on this host's virtio disk)
// for a single caller, and uneven waves from then on. So with the syncer
// idle the writer holds the commit, for at most
// Options::idle_commit_hold, until as many callers as the last committed
// group had have joined the transaction; then, or when the time is up, it
// commits. A lone caller after a group of one (one client, low load) is
// never held. Measured: docs/benchmarks.md, "Holding a lone commit".
// Returns true to hold (the writer waits for callers until `until`, which
// the first hold of a transaction sets).
bool DatabaseImpl::HoldCommit(bool stopping, TimePoint& until) {
  if (!options_.overlap_sync || options_.idle_commit_hold.count() <= 0 || stopping) return false;
  if (open_.callers.size() >= last_group_callers_) return false;
  const TimePoint now = std::chrono::steady_clock::now();
  if (until == kNoHold) until = now + options_.idle_commit_hold;
  return now < until;
}

void DatabaseImpl::HandOver(CommittedGroup& group) {
  CommittedGroup g = std::move(group);
  group = CommittedGroup{};
  if (!options_.overlap_sync) {
    // Durable at COMMIT: complete here. (Handing completions to another
    // thread measured worse: the writer took the next group at once, so
    // groups were smaller and each message paid for more of a commit.)
    FinishGroup(g, Status::Ok());
    return;
  }
  {
    std::lock_guard lock(queue_mutex_);
    to_sync_.push_back(std::move(g));
  }
  sync_cv_.notify_one();
}

void DatabaseImpl::Fail(CommittedGroup& group, const Status& st) {
  if (group.in_txn && sqlite3_get_autocommit(writer_conn_->raw()) == 0) {
    (void)writer_conn_->Exec("ROLLBACK");
  }
  for (const PendingPtr& p : group.callers) p->result = st;
  group.on_durable.clear();
  group.committed = false;
}

void DatabaseImpl::FailGroup(CommittedGroup& group, const Status& st) {
  Fail(group, st);
  HandOver(group);
}

CommittedGroup DatabaseImpl::CommitOpen(CommittedGroup& open) {
  CommittedGroup g = std::move(open);
  open = CommittedGroup{};
  last_group_callers_ = g.callers.size();
  if (!g.in_txn) return g;  // nothing ran: results are failures
  // A failed sync may have lost the previous group's pages: do not build on it.
  Status commit = sync_failed_.load() ? kEarlierSyncFailed() : Commit();
  if (!commit.ok()) {
    Fail(g, commit);
  } else {
    g.committed = true;
  }
  return g;
}

// Runs a committed transaction's OnCommit hooks, in order.
void RunHooks(const std::vector<std::function<void()>>& hooks) {
  for (const auto& fn : hooks) {
    try {
      fn();
    } catch (...) {
      // The commit stands; a throwing hook must not take the thread down.
    }
  }
}

// Completes a just committed group's Ack::kCommitted callers that
// succeeded, after their own OnCommit hooks; FinishGroup skips them.
void DatabaseImpl::CompleteAtCommit(CommittedGroup& g) {
  if (!g.committed) return;
  for (const PendingPtr& p : g.callers) {
    if (p->ack != Ack::kCommitted || !p->result.ok()) continue;
    RunHooks(p->on_committed);
    p->on_committed.clear();
    p->completed_at_commit = true;
    Complete(*p);
  }
}

// Runs a durable group's OnCommit hooks and completes its callers; `synced`
// is the error of the sync that should have made it durable, if any.
// Callers completed at the commit (Ack::kCommitted) are not completed again:
// a failed sync cannot take back what they were told.
void DatabaseImpl::FinishGroup(CommittedGroup& g, const Status& synced) {
  if (g.committed && !synced.ok()) {
    for (const PendingPtr& p : g.callers) {
      if (!p->completed_at_commit) p->result = synced;
    }
  } else if (g.committed) {
    RunHooks(g.on_durable);
  }
  {
    std::lock_guard lock(queue_mutex_);
    writes_ += g.callers.size();
    ++commits_;
  }
  for (const PendingPtr& p : g.callers) {
    if (!p->completed_at_commit) Complete(*p);
  }
}

void DatabaseImpl::RunCaller(CommittedGroup& group, const PendingPtr& p) {
  Connection& conn = *writer_conn_;
  group.callers.push_back(p);
  if (sync_failed_.load()) {
    p->result = kEarlierSyncFailed();  // the writer runs nothing any more
    return;
  }
  if (!group.in_txn) {
    Status begin = conn.ExecCached("BEGIN IMMEDIATE");
    if (!begin.ok()) return FailGroup(group, begin);
    conn.BeganTransaction();
    group.in_txn = true;
  }
  const bool savepoint = p->undo == CallerUndo::kSavepoint;
  if (savepoint) {
    Status sp = conn.ExecCached("SAVEPOINT caller");
    if (!sp.ok()) {
      p->result = sp;
      return;
    }
  }
  const int64_t changes_before = sqlite3_total_changes64(conn.raw());
  conn.BeginWriteCaller();
  try {
    p->result = p->fn(conn);
  } catch (const std::exception& e) {
    p->result = Internal(std::string("write callback threw: ") + e.what());
  } catch (...) {
    p->result = Internal("write callback threw");
  }
  std::vector<std::function<void()>> hooks = conn.EndWriteCaller(p->result.ok());
  if (conn.TakeDurableAckRequired()) p->ack = Ack::kDurable;
  if (p->ack == Ack::kCommitted) {
    p->on_committed = std::move(hooks);
  } else {
    for (auto& fn : hooks) group.on_durable.push_back(std::move(fn));
  }
  conn.ResetHandedOut();
  if (savepoint) {
    if (!p->result.ok()) (void)conn.ExecCached("ROLLBACK TO caller");
    (void)conn.ExecCached("RELEASE caller");
  } else if (!p->result.ok() && sqlite3_get_autocommit(conn.raw()) == 0 &&
             sqlite3_total_changes64(conn.raw()) != changes_before) {
    // A CallerUndo::kNone caller failed after changing rows: they cannot
    // be undone without undoing the whole group.
    return FailGroup(group, Internal("write without a savepoint failed after changing rows: " +
                                     p->result.ToString()));
  }
  if (sqlite3_get_autocommit(conn.raw()) != 0) {
    // SQLite rolled the whole transaction back (e.g. SQLITE_FULL or an
    // I/O error): nothing in this group is durable.
    Status aborted = Status(Code::kIoError, "transaction aborted: " + p->result.ToString());
    if (p->result.code() == Code::kNoSpace) aborted = p->result;
    FailGroup(group, aborted);
  }
}

Status DatabaseImpl::Commit() {
  int countdown = fail_commit_countdown_.load();
  while (countdown > 0 && !fail_commit_countdown_.compare_exchange_weak(countdown, countdown - 1)) {
  }
  if (countdown == 1) return IoError("injected commit failure");
  return writer_conn_->ExecCached("COMMIT");
}

// fdatasync of the WAL: the file's data and the size needed to read it back.
Status DatabaseImpl::SyncWal() {
  auto sync = [this]() -> Status {
    if (::fdatasync(wal_fd_) == 0) return Status::Ok();
    return IoError(std::string("fdatasync of the WAL failed: ") + std::strerror(errno));
  };
  if (options_.wal_sync_for_test) return options_.wal_sync_for_test(sync);
  return sync();
}

// After each sync the syncer commits what the writer ran meanwhile itself
// and syncs that, so from one sync to the next no thread has to be woken
// (the writer committing and handing each group over cost two wake-ups per
// sync, about half of the gap between syncs). It goes idle only when no
// caller ran during its sync; the writer then commits the next group itself.
void DatabaseImpl::SyncerLoop() {
  NameThisThread("db-syncer");
  std::vector<CommittedGroup> groups;
  while (true) {
    {
      std::unique_lock lock(queue_mutex_);
      sync_cv_.wait(lock, [&] { return syncer_stopping_ || !to_sync_.empty(); });
      if (to_sync_.empty()) return;  // stopping and drained
      groups.swap(to_sync_);
      sync_running_ = true;
    }
    while (!groups.empty()) {
      const bool any_committed = std::any_of(groups.begin(), groups.end(),
                                             [](const CommittedGroup& g) { return g.committed; });
      // Started after the groups above committed: it covers all of them.
      Status synced = Status::Ok();
      if (any_committed) {
        synced = sync_failed_.load() ? kEarlierSyncFailed() : SyncWal();
        if (!synced.ok()) sync_failed_.store(true);
      }
      for (CommittedGroup& g : groups) FinishGroup(g, synced);
      groups.clear();
      bool writer_waits_for_room = false;
      bool committed_here = false;
      {
        std::lock_guard conn(conn_mutex_);  // waits for the callers the writer is running
        if (!open_.callers.empty()) {
          groups.push_back(CommitOpen(open_));
          committed_here = true;
        }
        std::lock_guard lock(queue_mutex_);
        open_callers_ = 0;
        for (CommittedGroup& g : to_sync_) groups.push_back(std::move(g));
        to_sync_.clear();
        sync_running_ = !groups.empty();
        // The writer only sleeps with callers queued when the open
        // transaction was full. Otherwise it waits for work, and Enqueue
        // wakes it: a wake-up here, at every sync, found nothing to do and
        // cost this thread a futex wake (an inter-processor interrupt) in
        // the gap between two syncs.
        writer_waits_for_room = !queue_.empty();
      }
      if (writer_waits_for_room) queue_cv_.notify_one();  // room in the open transaction again
      // Before this group's sync (the writer's groups in to_sync_ were
      // completed so by the writer).
      if (committed_here) CompleteAtCommit(groups.front());
    }
  }
}

int DatabaseImpl::OnWalCommit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* impl = static_cast<DatabaseImpl*>(self);
  if (wal_pages >= kWriterCheckpointPages) {
    // Readers or a slow disk kept the checkpointer behind: bound the WAL.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (wal_pages >= kCheckpointPages) {
    {
      std::lock_guard lock(impl->checkpoint_mutex_);
      impl->checkpoint_wanted_ = true;
    }
    impl->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void DatabaseImpl::CheckpointLoop() {
  NameThisThread("db-checkpoint");
  LowerThisThreadsPriority(kCheckpointerNiceIncrement);
  std::unique_lock lock(checkpoint_mutex_);
  while (true) {
    checkpoint_cv_.wait(lock, [&] { return checkpoint_stop_ || checkpoint_wanted_; });
    if (checkpoint_stop_) return;
    checkpoint_wanted_ = false;
    lock.unlock();
    // PASSIVE: never blocks the writer or readers; copies what it can.
    sqlite3_wal_checkpoint_v2(checkpoint_conn_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr,
                              nullptr);
    lock.lock();
  }
}

Status DatabaseImpl::Read(std::function<Status(Conn&)> fn) {
  Connection* conn = nullptr;
  {
    std::unique_lock lock(pool_mutex_);
    pool_cv_.wait(lock, [&] { return !idle_readers_.empty(); });
    conn = idle_readers_.back();
    idle_readers_.pop_back();
  }
  // One read transaction = one consistent snapshot for all of fn's queries.
  Status result = conn->ExecCached("BEGIN");
  if (result.ok()) {
    try {
      result = fn(*conn);
    } catch (const std::exception& e) {
      result = Internal(std::string("read callback threw: ") + e.what());
    } catch (...) {
      result = Internal("read callback threw");
    }
    conn->ResetHandedOut();
    (void)conn->ExecCached("COMMIT");
  }
  {
    std::lock_guard lock(pool_mutex_);
    idle_readers_.push_back(conn);
  }
  pool_cv_.notify_one();
  return result;
}

Status DatabaseImpl::Migrate(std::string_view component, const std::vector<Migration>& steps) {
  for (size_t i = 1; i < steps.size(); ++i) {
    if (steps[i].version <= steps[i - 1].version) {
      return InvalidArgument("migrations of " + std::string(component) + " not ascending");
    }
  }
  const int newest_known = steps.empty() ? 0 : steps.back().version;
  return Write([&](Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(
        txn.Exec("CREATE TABLE IF NOT EXISTS schema_versions ("
                 " component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_ms INTEGER)"));
    IMGBATCH_ASSIGN_OR_RETURN(auto select,
                              txn.Prepare("SELECT version FROM schema_versions WHERE component=?"));
    select.Bind(1, component);
    IMGBATCH_ASSIGN_OR_RETURN(bool has_row, select.Step());
    const int current = has_row ? static_cast<int>(select.ColumnInt(0)) : 0;
    // Finish the read: while it is mid-row the connection has an active
    // statement, and SQLite refuses DROP INDEX/TABLE ("database table is
    // locked") in a later migration step.
    if (has_row) IMGBATCH_RETURN_IF_ERROR(select.Step().status());
    if (current > newest_known) {
      return Status(Code::kUnsupported, "schema of " + std::string(component) + " is version " +
                                            std::to_string(current) + ", newer than this binary (" +
                                            std::to_string(newest_known) + ")");
    }
    for (const Migration& step : steps) {
      if (step.version <= current) continue;
      IMGBATCH_RETURN_IF_ERROR(txn.Exec(step.sql));
    }
    if (newest_known > current) {
      IMGBATCH_ASSIGN_OR_RETURN(
          auto upsert,
          txn.Prepare(
              "INSERT INTO schema_versions(component, version, applied_ms) "
              "VALUES(?1, ?2, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) "
              "ON CONFLICT(component) DO UPDATE SET version=?2, applied_ms=excluded.applied_ms"));
      upsert.Bind(1, component).Bind(2, static_cast<int64_t>(newest_known));
      IMGBATCH_RETURN_IF_ERROR(upsert.Run());
    }
    return Status::Ok();
  });
}

}  // namespace

// ---- Statement ----

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

// A null pointer binds NULL, and an empty std::string_view() has one: text
// that is empty must still be '' (as with blobs below).
static const char* TextData(std::string_view text) { return text.empty() ? "" : text.data(); }

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, TextData(text), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  // A zero-length blob must still be a BLOB, not NULL.
  static const char kEmpty = 0;
  sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                      SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindView(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, TextData(text), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  return *this;
}

Statement& Statement::BindBlobView(int index, std::string_view bytes) {
  static const char kEmpty = 0;  // as BindBlob: a zero-length blob, not NULL
  sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                      SQLITE_STATIC);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::Bind(int index, std::optional<int64_t> value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = FromSqlite(rc, db_, "step");
  sqlite3_reset(stmt_);
  return st;
}

Status Statement::Run() {
  while (true) {
    IMGBATCH_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

Statement& Statement::Reset() {
  sqlite3_reset(stmt_);
  return *this;
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int Statement::changes() const { return sqlite3_changes(db_); }

int64_t Statement::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

// ---- Database ----

Result<std::unique_ptr<Database>> Database::Open(const Options& options) {
  if (options.path.empty()) return InvalidArgument("db path is empty");
  if (sqlite3_threadsafe() == 0) return Internal("SQLite built without thread support");
  // The writer's WAL writes: one write per commit (wal_write_combining_vfs.h).
  IMGBATCH_RETURN_IF_ERROR(RegisterWalWriteCombiningVfs());
  IMGBATCH_ASSIGN_OR_RETURN(auto writer,
                            OpenConnection(options.path, /*read_only=*/false, options.overlap_sync,
                                           kWalWriteCombiningVfs));
  IMGBATCH_ASSIGN_OR_RETURN(
      auto checkpointer, OpenConnection(options.path, /*read_only=*/false, options.overlap_sync));
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    IMGBATCH_ASSIGN_OR_RETURN(auto reader, OpenConnection(options.path, /*read_only=*/true));
    readers.push_back(std::move(reader));
  }
  // Last: no error return may follow (it would leak the descriptor).
  int wal_fd = -1;
  if (options.overlap_sync) {
    IMGBATCH_ASSIGN_OR_RETURN(wal_fd, OpenWalForSync(writer->raw()));
  }
  return std::unique_ptr<Database>(new DatabaseImpl(
      options, std::move(writer), std::move(checkpointer), std::move(readers), wal_fd));
}

}  // namespace imgbatch::db
