#include "db/database.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db/testing/sync_gate.h"

namespace imgbatch::db {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dbtest.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_; }

 private:
  std::string path_;
};

// Polls cond until true or a generous deadline (no fixed sleeps).
template <typename F>
bool WaitFor(F cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cond();
}

// Every DatabaseTest runs twice: with COMMIT syncing on the writer
// (overlap_sync=false) and with the syncer thread (the default).
class DatabaseTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ReOpen(); }

  void ReOpen() {
    db_.reset();
    Options options;
    options.path = dir_.path() + "/meta.db";
    options.overlap_sync = GetParam();
    auto db = Database::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Migrate("test", {{1, "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER)"}}).ok());
  }

  Status Insert(const std::string& key, int64_t value) {
    return db_->Write([&](Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO kv(k, v) VALUES(?, ?)"));
      return st.Bind(1, key).Bind(2, value).Run();
    });
  }

  int64_t Count() {
    int64_t n = -1;
    Status st = db_->Read([&](Conn& conn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT COUNT(*) FROM kv"));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) n = q.ColumnInt(0);
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return n;
  }

  bool Has(const std::string& key) {
    bool found = false;
    EXPECT_TRUE(db_->Read([&](Conn& conn) -> Status {
                     IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT v FROM kv WHERE k=?"));
                     q.Bind(1, key);
                     IMGBATCH_ASSIGN_OR_RETURN(found, q.Step());
                     return Status::Ok();
                   })
                    .ok());
    return found;
  }

  // Occupies the writer thread until the returned promise is set, so the
  // test can queue up callers that must then share one transaction.
  std::pair<std::promise<void>, std::future<Status>> BlockWriter() {
    // With a sync still running when the blocker returns, the writer would
    // run the callers queued behind it in the blocker's own transaction
    // (the syncer commits it later; see "Durability" in database.cc), and
    // tests that expect the blocker committed alone would depend on how long
    // an earlier fdatasync takes (one failed so in CI, under disk load).
    EXPECT_TRUE(WaitFor([&] { return !db_->GetStats().syncing; }));
    std::promise<void> release;
    auto released = release.get_future().share();
    std::promise<void> entered;
    auto entered_future = entered.get_future();
    auto blocked = std::async(std::launch::async, [this, released, &entered] {
      return db_->Write([&](Txn&) -> Status {
        entered.set_value();
        released.wait();
        return Status::Ok();
      });
    });
    entered_future.wait();
    return {std::move(release), std::move(blocked)};
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_P(DatabaseTest, PragmasAreDurableWal) {
  std::string journal;
  int64_t synchronous = -1, foreign_keys = -1;
  ASSERT_TRUE(db_->Write([&](Txn& txn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(auto a, txn.Prepare("PRAGMA journal_mode"));
                   IMGBATCH_ASSIGN_OR_RETURN(bool row, a.Step());
                   if (row) journal = a.ColumnText(0);
                   IMGBATCH_ASSIGN_OR_RETURN(auto b, txn.Prepare("PRAGMA synchronous"));
                   IMGBATCH_ASSIGN_OR_RETURN(row, b.Step());
                   if (row) synchronous = b.ColumnInt(0);
                   IMGBATCH_ASSIGN_OR_RETURN(auto c, txn.Prepare("PRAGMA foreign_keys"));
                   IMGBATCH_ASSIGN_OR_RETURN(row, c.Step());
                   if (row) foreign_keys = c.ColumnInt(0);
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(journal, "wal");
  // FULL: COMMIT syncs; NORMAL: the syncer thread does (see HeldSyncTest).
  EXPECT_EQ(synchronous, GetParam() ? 1 : 2);
  EXPECT_EQ(foreign_keys, 1);
}

TEST_P(DatabaseTest, ReadConnectionsAreQueryOnly) {
  Status st = db_->Read([](Conn& conn) { return conn.Exec("INSERT INTO kv VALUES('x', 1)"); });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(Count(), 0);
}

TEST_P(DatabaseTest, WriteIsVisibleToReadsAndSurvivesReopen) {
  ASSERT_TRUE(Insert("a", 1).ok());
  EXPECT_TRUE(Has("a"));
  ReOpen();
  EXPECT_TRUE(Has("a"));
  EXPECT_EQ(Count(), 1);
}

TEST_P(DatabaseTest, BlobAndNullRoundTrip) {
  ASSERT_TRUE(
      db_->Migrate("blobs", {{1, "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB)"}}).ok());
  const std::string bytes("a\0b\xff", 4);
  ASSERT_TRUE(db_->Write([&](Txn& txn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO b VALUES(?, ?)"));
                   IMGBATCH_RETURN_IF_ERROR(st.Bind(1, int64_t{1}).BindBlob(2, bytes).Run());
                   IMGBATCH_ASSIGN_OR_RETURN(auto empty, txn.Prepare("INSERT INTO b VALUES(?, ?)"));
                   IMGBATCH_RETURN_IF_ERROR(empty.Bind(1, int64_t{2}).BindBlob(2, "").Run());
                   IMGBATCH_ASSIGN_OR_RETURN(auto null, txn.Prepare("INSERT INTO b VALUES(?, ?)"));
                   return null.Bind(1, int64_t{3}).Bind(2, std::optional<int64_t>()).Run();
                 })
                  .ok());
  std::vector<std::pair<bool, std::string>> rows;
  ASSERT_TRUE(db_->Read([&](Conn& conn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(auto q,
                                             conn.Prepare("SELECT data FROM b ORDER BY id"));
                   while (true) {
                     IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
                     if (!row) return Status::Ok();
                     rows.emplace_back(q.ColumnIsNull(0), q.ColumnText(0));
                   }
                 })
                  .ok());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], std::make_pair(false, bytes));
  EXPECT_EQ(rows[1], std::make_pair(false, std::string()));
  EXPECT_TRUE(rows[2].first);
}

// BindView/BindBlobView store the caller's bytes as they were at Run (TEXT
// and BLOB, a zero-length blob not NULL); the caller's buffer may change
// afterwards, and the next Prepare of the statement never reads it.
TEST_P(DatabaseTest, UncopiedBindingsStoreTheBytesOfTheRun) {
  ASSERT_TRUE(
      db_->Migrate("views", {{1, "CREATE TABLE v(id INTEGER PRIMARY KEY, t TEXT, b BLOB)"}}).ok());
  ASSERT_TRUE(db_->Write([&](Txn& txn) -> Status {
                   std::string text = "first";
                   const std::string bytes("x\0y", 3);
                   IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO v VALUES(?, ?, ?)"));
                   IMGBATCH_RETURN_IF_ERROR(
                       st.Bind(1, int64_t{1}).BindView(2, text).BindBlobView(3, bytes).Run());
                   text = "changed";
                   text.shrink_to_fit();
                   IMGBATCH_ASSIGN_OR_RETURN(auto again,
                                             txn.Prepare("INSERT INTO v VALUES(?, ?, ?)"));
                   return again.Bind(1, int64_t{2})
                       .BindView(2, std::string_view())
                       .BindBlobView(3, std::string_view())
                       .Run();
                 })
                  .ok());
  std::vector<std::string> rows;
  ASSERT_TRUE(db_->Read([&](Conn& conn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(
                       auto q, conn.Prepare("SELECT t, typeof(b), b FROM v ORDER BY id"));
                   while (true) {
                     IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
                     if (!row) return Status::Ok();
                     rows.push_back(q.ColumnText(0) + "|" + q.ColumnText(1) + "|" +
                                    q.ColumnText(2));
                   }
                 })
                  .ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], std::string("first|blob|x\0y", 14));
  EXPECT_EQ(rows[1], "|blob|");
}

TEST_P(DatabaseTest, ConstraintViolationIsAlreadyExists) {
  ASSERT_TRUE(Insert("dup", 1).ok());
  Status st = Insert("dup", 2);
  EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.ToString();
}

TEST_P(DatabaseTest, ConcurrentWritersAllCommitAndShareTransactions) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 150;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!Insert(std::to_string(t) + "/" + std::to_string(i), i).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(), kThreads * kPerThread);
  Database::Stats stats = db_->GetStats();
  EXPECT_GE(stats.writes, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LE(stats.commits, stats.writes);
}

TEST_P(DatabaseTest, QueuedCallersShareOneCommit) {
  const uint64_t commits_before = db_->GetStats().commits;
  auto [release, blocked] = BlockWriter();
  constexpr int kCallers = 10;
  std::vector<std::future<Status>> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.push_back(
        std::async(std::launch::async, [this, i] { return Insert("k" + std::to_string(i), i); }));
  }
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == kCallers; }));
  release.set_value();
  EXPECT_TRUE(blocked.get().ok());
  for (auto& f : callers) EXPECT_TRUE(f.get().ok());
  // One commit for the blocking caller's group, one for the ten queued.
  EXPECT_EQ(db_->GetStats().commits - commits_before, 2u);
  EXPECT_EQ(Count(), kCallers);
}

TEST_P(DatabaseTest, FailingCallerRollsBackOnlyItsOwnChanges) {
  auto [release, blocked] = BlockWriter();
  auto good1 = std::async(std::launch::async, [this] { return Insert("good1", 1); });
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 1; }));
  auto bad = std::async(std::launch::async, [this] {
    return db_->Write([](Txn& txn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO kv(k, v) VALUES('bad', 0)"));
      IMGBATCH_RETURN_IF_ERROR(st.Run());
      return Conflict("caller changed its mind");
    });
  });
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 2; }));
  auto good2 = std::async(std::launch::async, [this] { return Insert("good2", 2); });
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 3; }));
  const uint64_t commits_before = db_->GetStats().commits;
  release.set_value();
  EXPECT_TRUE(blocked.get().ok());
  EXPECT_TRUE(good1.get().ok());
  Status bad_status = bad.get();
  EXPECT_EQ(bad_status.code(), Code::kConflict);
  EXPECT_EQ(bad_status.message(), "caller changed its mind");
  EXPECT_TRUE(good2.get().ok());
  EXPECT_EQ(db_->GetStats().commits - commits_before, 2u);  // still one shared transaction
  EXPECT_TRUE(Has("good1"));
  EXPECT_TRUE(Has("good2"));
  EXPECT_FALSE(Has("bad"));
}

TEST_P(DatabaseTest, InjectedCommitFailureFailsTheGroupAndPersistsNothing) {
  db_->FailCommitAfter(2);
  ASSERT_TRUE(Insert("first", 1).ok());
  Status st = Insert("second", 2);
  EXPECT_EQ(st.code(), Code::kIoError);
  EXPECT_TRUE(Insert("third", 3).ok());
  EXPECT_TRUE(Has("first"));
  EXPECT_FALSE(Has("second"));
  EXPECT_TRUE(Has("third"));
  ReOpen();
  EXPECT_EQ(Count(), 2);
}

TEST_P(DatabaseTest, CommitFailureFailsEveryCallerOfTheGroup) {
  auto [release, blocked] = BlockWriter();
  std::vector<std::future<Status>> callers;
  for (int i = 0; i < 3; ++i) {
    callers.push_back(
        std::async(std::launch::async, [this, i] { return Insert("g" + std::to_string(i), i); }));
  }
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 3; }));
  db_->FailCommitAfter(2);  // the blocked group commits first, then ours fails
  release.set_value();
  EXPECT_TRUE(blocked.get().ok());
  for (auto& f : callers) EXPECT_EQ(f.get().code(), Code::kIoError);
  EXPECT_EQ(Count(), 0);
}

TEST_P(DatabaseTest, WriteFromInsideWriteIsAnErrorNotADeadlock) {
  Status inner;
  Status outer = db_->Write([&](Txn&) -> Status {
    inner = db_->Write([](Txn&) { return Status::Ok(); });
    return Status::Ok();
  });
  EXPECT_TRUE(outer.ok());
  EXPECT_EQ(inner.code(), Code::kInternal);
}

TEST_P(DatabaseTest, WriteFromACompletionIsAnErrorNotADeadlock) {
  std::promise<Status> inner;
  db_->WriteAsync([](Txn&) { return Status::Ok(); },
                  [&](Status) { inner.set_value(db_->Write([](Txn&) { return Status::Ok(); })); });
  EXPECT_EQ(inner.get_future().get().code(), Code::kInternal);
}

TEST_P(DatabaseTest, CallbackExceptionBecomesInternalStatus) {
  Status st = db_->Write([](Txn&) -> Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_TRUE(Insert("after", 1).ok());
}

TEST_P(DatabaseTest, MigrationsApplyOnceInOrder) {
  std::vector<Migration> steps = {
      {1, "CREATE TABLE m(a INTEGER)"},
      {2, "ALTER TABLE m ADD COLUMN b TEXT; INSERT INTO m(a, b) VALUES(1, 'x')"},
  };
  ASSERT_TRUE(db_->Migrate("comp", steps).ok());
  ASSERT_TRUE(db_->Migrate("comp", steps).ok());  // no-op the second time
  steps.push_back({3, "INSERT INTO m(a, b) VALUES(3, 'y')"});
  ASSERT_TRUE(db_->Migrate("comp", steps).ok());
  ReOpen();
  ASSERT_TRUE(db_->Migrate("comp", steps).ok());
  int64_t rows = -1, version = -1;
  ASSERT_TRUE(db_->Read([&](Conn& conn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT COUNT(*) FROM m"));
                   IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
                   if (row) rows = q.ColumnInt(0);
                   IMGBATCH_ASSIGN_OR_RETURN(
                       auto v,
                       conn.Prepare("SELECT version FROM schema_versions WHERE component=?"));
                   v.Bind(1, "comp");
                   IMGBATCH_ASSIGN_OR_RETURN(row, v.Step());
                   if (row) version = v.ColumnInt(0);
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(version, 3);
}

// A later step may drop what an applied one made (replacing an index): the
// version read must not keep a statement active across the steps.
TEST_P(DatabaseTest, LaterMigrationCanDropAnIndex) {
  std::vector<Migration> steps = {
      {1, "CREATE TABLE m(a INTEGER, b INTEGER); CREATE INDEX m_a ON m(a)"},
  };
  ASSERT_TRUE(db_->Migrate("comp", steps).ok());
  steps.push_back({2, "DROP INDEX m_a; CREATE INDEX m_a ON m(a, b)"});
  Status st = db_->Migrate("comp", steps);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_P(DatabaseTest, NewerSchemaOnDiskIsRefused) {
  ASSERT_TRUE(db_->Migrate("comp", {{1, "CREATE TABLE m(a)"}, {2, "CREATE TABLE n(a)"}}).ok());
  Status st = db_->Migrate("comp", {{1, "CREATE TABLE m(a)"}});
  EXPECT_EQ(st.code(), Code::kUnsupported) << st.ToString();
}

TEST_P(DatabaseTest, FailingMigrationLeavesNoTrace) {
  Status st = db_->Migrate("comp", {{1, "CREATE TABLE ok1(a)"}, {2, "THIS IS NOT SQL"}});
  EXPECT_FALSE(st.ok());
  bool exists = true;
  ASSERT_TRUE(db_->Read([&](Conn& conn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(
                       auto q, conn.Prepare("SELECT 1 FROM sqlite_master WHERE name='ok1'"));
                   IMGBATCH_ASSIGN_OR_RETURN(exists, q.Step());
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_FALSE(exists);
  EXPECT_TRUE(db_->Migrate("comp", {{1, "CREATE TABLE ok1(a)"}}).ok());
}

TEST_P(DatabaseTest, NonAscendingMigrationsAreRejected) {
  EXPECT_EQ(db_->Migrate("comp", {{2, "SELECT 1"}, {1, "SELECT 1"}}).code(),
            Code::kInvalidArgument);
}

TEST_P(DatabaseTest, ConcurrentReadsSeeConsistentSnapshots) {
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      // Two rows per transaction: a reader must never see an odd count.
      (void)db_->Write([&](Txn& txn) -> Status {
        for (int j = 0; j < 2; ++j) {
          IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO kv(k, v) VALUES(?, ?)"));
          IMGBATCH_RETURN_IF_ERROR(
              st.Bind(1, std::to_string(i) + "-" + std::to_string(j)).Bind(2, int64_t{i}).Run());
        }
        return Status::Ok();
      });
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 6; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        if (Count() % 2 != 0) ++bad;
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(Count(), 400);
}

// Deletes zero what they remove inside the pages they write anyway, but do
// not zero and log each page they free (Debian's SQLite defaults to
// secure_delete=1, which did: ~2 of every 12-18 WAL frames of a queue commit).
TEST_P(DatabaseTest, WriterZeroesDeletedContentWithoutLoggingFreedPages) {
  int64_t mode = -1;
  ASSERT_TRUE(db_->Write([&](Txn& txn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(auto q, txn.Prepare("PRAGMA secure_delete"));
                   IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
                   if (row) mode = q.ColumnInt(0);
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(mode, 2);  // FAST
}

TEST_P(DatabaseTest, BackgroundCheckpointCopiesWalIntoDatabaseFile) {
  ASSERT_TRUE(db_->Migrate("big", {{1, "CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB)"}}).ok());
  const std::string blob(4000, 'b');
  for (int round = 0; round < 3; ++round) {  // ~1,500 pages of WAL
    ASSERT_TRUE(db_->Write([&](Txn& txn) -> Status {
                     for (int i = 0; i < 500; ++i) {
                       IMGBATCH_ASSIGN_OR_RETURN(auto st,
                                                 txn.Prepare("INSERT INTO big(b) VALUES(?)"));
                       IMGBATCH_RETURN_IF_ERROR(st.BindBlob(1, blob).Run());
                     }
                     return Status::Ok();
                   })
                    .ok());
  }
  const std::string path = dir_.path() + "/meta.db";
  EXPECT_TRUE(WaitFor([&] { return fs::file_size(path) > 4'000'000; }))
      << "database file still " << fs::file_size(path) << " bytes";
  ReOpen();
  int64_t rows = 0;
  ASSERT_TRUE(db_->Read([&](Conn& conn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT COUNT(*) FROM big"));
                   IMGBATCH_ASSIGN_OR_RETURN(bool row, q.Step());
                   if (row) rows = q.ColumnInt(0);
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(rows, 1500);
}

// An asynchronous insert of key; its completion records (key, status, whether
// a read connection already saw the row: i.e. it ran after the commit).
struct AsyncDone {
  std::string key;
  Status status;
  bool committed_when_called = false;
};

// The nice values of this process's threads named `name` (proc(5): field 19
// of /proc/self/task/TID/stat).
std::vector<int> NiceOfThreadsNamed(const std::string& name) {
  std::vector<int> nice;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string thread_name;
    if (!std::getline(comm, thread_name) || thread_name != name) continue;
    std::ifstream stat_file(task.path() / "stat");
    const std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // from field 3 on
    std::string field;
    for (int number = 3; number <= 19 && fields >> field; ++number) {
    }
    nice.push_back(std::stoi(field));
  }
  return nice;
}

TEST_P(DatabaseTest, CheckpointerRunsNicerThanTheWriter) {
  // The writer's work answers callers; the checkpointer's copying waits for nobody.
  std::vector<int> writer, checkpointer;
  EXPECT_TRUE(WaitFor([&] {
    writer = NiceOfThreadsNamed("db-writer");
    checkpointer = NiceOfThreadsNamed("db-checkpoint");
    if (writer.size() != 1 || checkpointer.size() != 1) return false;
    return checkpointer[0] > writer[0] || writer[0] == 19;  // 19: nothing is nicer
  })) << "threads found: "
      << writer.size() << " writer, " << checkpointer.size() << " checkpointer; nice "
      << (writer.empty() ? 99 : writer[0]) << " and "
      << (checkpointer.empty() ? 99 : checkpointer[0]);
}

TEST_P(DatabaseTest, WriteAsyncCompletesAfterCommitInQueueOrder) {
  auto [release, blocked] = BlockWriter();
  std::mutex mu;
  std::vector<AsyncDone> done;
  constexpr int kCallers = 5;
  for (int i = 0; i < kCallers; ++i) {
    std::string key = "a" + std::to_string(i);
    db_->WriteAsync(
        [key, i](Txn& txn) -> Status {
          IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO kv(k, v) VALUES(?, ?)"));
          return st.Bind(1, key).Bind(2, int64_t{i}).Run();
        },
        [&, key](Status st) {
          bool seen = Has(key);
          std::lock_guard lock(mu);
          done.push_back({key, std::move(st), seen});
        });
  }
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == kCallers; }));
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(done.empty());  // nothing completes before its commit
  }
  const uint64_t commits_before = db_->GetStats().commits;
  release.set_value();
  EXPECT_TRUE(blocked.get().ok());
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mu);
    return done.size() == kCallers;
  }));
  for (int i = 0; i < kCallers; ++i) {
    EXPECT_EQ(done[i].key, "a" + std::to_string(i));
    EXPECT_TRUE(done[i].status.ok()) << done[i].status.ToString();
    EXPECT_TRUE(done[i].committed_when_called);
  }
  // The blocking caller's commit, then one shared by the five queued calls.
  EXPECT_EQ(db_->GetStats().commits - commits_before, 2u);
}

TEST_P(DatabaseTest, WriteAsyncReportsItsOwnFailureAndCommitFailures) {
  std::promise<Status> rejected;
  db_->WriteAsync([](Txn&) -> Status { return Conflict("no"); },
                  [&](Status st) { rejected.set_value(std::move(st)); });
  EXPECT_EQ(rejected.get_future().get().code(), Code::kConflict);
  db_->FailCommitAfter(1);
  std::promise<Status> failed_commit;
  db_->WriteAsync(
      [](Txn& txn) -> Status { return txn.Exec("INSERT INTO kv(k, v) VALUES('lost', 1)"); },
      [&](Status st) { failed_commit.set_value(std::move(st)); });
  EXPECT_EQ(failed_commit.get_future().get().code(), Code::kIoError);
  EXPECT_FALSE(Has("lost"));
}

// Callers without a savepoint share a group with one that has one: a failing
// statement undoes only itself (the two-row INSERT whose second row collides
// leaves neither row), and the others of the group commit.
TEST_P(DatabaseTest, WriteWithoutSavepointFailsAloneWhenItChangedNothing) {
  ASSERT_TRUE(Insert("taken", 0).ok());
  auto [release, blocked] = BlockWriter();
  std::vector<std::promise<Status>> results(3);
  auto insert = [](std::string sql) {
    return [sql = std::move(sql)](Txn& txn) -> Status { return txn.Exec(sql); };
  };
  auto record = [&](int i) { return [&, i](Status st) { results[i].set_value(std::move(st)); }; };
  db_->WriteAsync(insert("INSERT INTO kv(k, v) VALUES('first', 1)"), record(0));
  db_->WriteAsync(insert("INSERT INTO kv(k, v) VALUES('half', 2), ('taken', 2)"), record(1),
                  Database::CallerUndo::kNone);
  db_->WriteAsync(insert("INSERT INTO kv(k, v) VALUES('third', 3)"), record(2),
                  Database::CallerUndo::kNone);
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 3; }));
  release.set_value();
  EXPECT_TRUE(blocked.get().ok());
  EXPECT_TRUE(results[0].get_future().get().ok());
  EXPECT_FALSE(results[1].get_future().get().ok());
  EXPECT_TRUE(results[2].get_future().get().ok());
  EXPECT_TRUE(Has("first"));
  EXPECT_FALSE(Has("half"));
  EXPECT_TRUE(Has("third"));
}

// A caller without a savepoint that fails after changing rows breaks its
// promise: rather than commit its half-done work, the whole group fails.
TEST_P(DatabaseTest, WriteWithoutSavepointThatFailsHalfDoneFailsItsGroup) {
  auto [release, blocked] = BlockWriter();
  std::promise<Status> other, broken;
  db_->WriteAsync([](Txn& txn) { return txn.Exec("INSERT INTO kv(k, v) VALUES('other', 1)"); },
                  [&](Status st) { other.set_value(std::move(st)); });
  db_->WriteAsync(
      [](Txn& txn) -> Status {
        IMGBATCH_RETURN_IF_ERROR(txn.Exec("INSERT INTO kv(k, v) VALUES('half', 2)"));
        return Conflict("changed a row, then failed");
      },
      [&](Status st) { broken.set_value(std::move(st)); }, Database::CallerUndo::kNone);
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 2; }));
  release.set_value();
  EXPECT_TRUE(blocked.get().ok());
  EXPECT_EQ(other.get_future().get().code(), Code::kInternal);
  EXPECT_EQ(broken.get_future().get().code(), Code::kInternal);
  EXPECT_FALSE(Has("other"));
  EXPECT_FALSE(Has("half"));
  EXPECT_TRUE(Insert("after", 3).ok());  // the writer goes on
}

TEST_P(DatabaseTest, ClosingCompletesQueuedAsyncWritesDurably) {
  auto [release, blocked] = BlockWriter();
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) {
    std::string key = "c" + std::to_string(i);
    db_->WriteAsync(
        [key](Txn& txn) -> Status {
          IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO kv(k, v) VALUES(?, 0)"));
          return st.Bind(1, key).Run();
        },
        [&](Status st) {
          if (st.ok()) ++ok;
        });
  }
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 3; }));
  // The destructor waits for the writer, which drains the queue first.
  std::thread closer([&] { db_.reset(); });
  release.set_value();
  EXPECT_TRUE(blocked.get().ok());
  closer.join();
  EXPECT_EQ(ok.load(), 3);
  ReOpen();
  EXPECT_EQ(Count(), 3);
}

INSTANTIATE_TEST_SUITE_P(SyncModes, DatabaseTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "SyncerThread" : "SyncAtCommit";
                         });

// A database with Options::overlap_sync whose WAL syncs the test holds until
// it releases them.
class HeldSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.path = dir_.path() + "/held.db";
    options.overlap_sync = true;
    options.max_group = max_group_;
    options.idle_commit_hold = idle_commit_hold_;
    options.wal_sync_for_test = gate_.Hook();
    auto db = Database::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    // Migrate waits for its own sync: let syncs through until it is done.
    std::thread releaser([this] { ReleaseSyncs(1); });
    ASSERT_TRUE(db_->Migrate("t", {{1, "CREATE TABLE kv(k TEXT PRIMARY KEY)"}}).ok());
    releaser.join();
  }
  void TearDown() override {
    gate_.ReleaseAll(true);  // let the destructor drain
    db_.reset();
  }

  // Waits until `n` syncs in all have started, then lets them finish.
  void ReleaseSyncs(int n) { EXPECT_TRUE(gate_.Release(n)) << n << " syncs never started"; }
  int SyncsStarted() { return gate_.Started(); }

  void InsertAsync(const std::string& key, std::function<void(Status)> done) {
    InsertAsync(
        key, [] {}, std::move(done));
  }
  // The same, calling ran() once the insert has run in the open transaction.
  void InsertAsync(const std::string& key, std::function<void()> ran,
                   std::function<void(Status)> done) {
    db_->WriteAsync(
        [key, ran = std::move(ran)](Txn& txn) -> Status {
          IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO kv(k) VALUES(?)"));
          Status inserted = st.Bind(1, key).Run();
          ran();
          return inserted;
        },
        std::move(done));
  }
  bool Has(const std::string& key) {
    bool found = false;
    EXPECT_TRUE(db_->Read([&](Conn& conn) -> Status {
                     IMGBATCH_ASSIGN_OR_RETURN(auto q, conn.Prepare("SELECT 1 FROM kv WHERE k=?"));
                     IMGBATCH_ASSIGN_OR_RETURN(found, q.Bind(1, key).Step());
                     return Status::Ok();
                   })
                    .ok());
    return found;
  }

  TempDir dir_;
  int max_group_ = 512;
  // Off for the tests above this fixture's subclasses: each caller's commit
  // is decided at once.
  std::chrono::microseconds idle_commit_hold_{0};
  testing::SyncGate gate_;
  std::unique_ptr<Database> db_;
};

// The writer commits without syncing; nobody hears of the commit (no
// completion, no OnCommit hook) until a sync that started after it has
// finished. A caller arriving meanwhile runs at once in the next
// transaction, which stays open (invisible to readers) until that sync has
// finished, and then waits for a sync of its own.
TEST_F(HeldSyncTest, CompletionsWaitForTheWalSyncThatFollowsTheirCommit) {
  std::atomic<int> hooks{0};
  std::promise<Status> first, second;
  db_->WriteAsync(
      [&](Txn& txn) -> Status {
        txn.OnCommit([&] { ++hooks; });
        return txn.Exec("INSERT INTO kv(k) VALUES('first')");
      },
      [&](Status st) { first.set_value(std::move(st)); });
  auto first_done = first.get_future();
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));  // Migrate's, then this one's
  EXPECT_TRUE(Has("first"));                                  // committed (a reader sees it) ...
  EXPECT_EQ(first_done.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(hooks.load(), 0);  // ... but not acknowledged: its sync is held
  // The writer is not held by the sync: the next caller runs meanwhile ...
  std::promise<void> second_ran;
  InsertAsync(
      "second", [&] { second_ran.set_value(); },
      [&](Status st) { second.set_value(std::move(st)); });
  second_ran.get_future().wait();
  // ... but is not committed while the first group's sync runs: one commit per sync.
  EXPECT_FALSE(Has("second"));
  EXPECT_EQ(SyncsStarted(), 2);
  ReleaseSyncs(2);
  EXPECT_TRUE(first_done.get().ok());
  EXPECT_EQ(hooks.load(), 1);
  // Then it commits, and waits for a sync started after its commit.
  auto second_done = second.get_future();
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 3; }));
  EXPECT_TRUE(Has("second"));
  EXPECT_EQ(second_done.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  ReleaseSyncs(3);
  EXPECT_TRUE(second_done.get().ok());
  EXPECT_EQ(db_->GetStats().writes, 3u);  // Migrate, first, second
  // COMMIT itself does not sync in this mode.
  int64_t synchronous = -1;
  std::thread releaser([this] { ReleaseSyncs(4); });
  ASSERT_TRUE(db_->Write([&](Txn& txn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("PRAGMA synchronous"));
                   IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
                   if (row) synchronous = st.ColumnInt(0);
                   return Status::Ok();
                 })
                  .ok());
  releaser.join();
  EXPECT_EQ(synchronous, 1);  // NORMAL
}

// Callers run while a sync is held share one transaction and one commit;
// one of them failing rolls back only its own changes.
TEST_F(HeldSyncTest, FailingCallerRunWhileASyncIsHeldRollsBackAlone) {
  std::promise<Status> first;
  InsertAsync("first", [&](Status st) { first.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));
  const uint64_t commits_before = db_->GetStats().commits;
  std::promise<Status> a, b, c;
  std::atomic<int> ran{0};
  InsertAsync("a", [&](Status st) { a.set_value(std::move(st)); });
  db_->WriteAsync(
      [&](Txn& txn) -> Status {
        IMGBATCH_RETURN_IF_ERROR(txn.Exec("INSERT INTO kv(k) VALUES('b')"));
        ++ran;
        return InvalidArgument("b changes its mind");
      },
      [&](Status st) { b.set_value(std::move(st)); });
  db_->WriteAsync(
      [&](Txn& txn) -> Status {
        ++ran;
        return txn.Exec("INSERT INTO kv(k) VALUES('c')");
      },
      [&](Status st) { c.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return ran.load() == 2; }));  // all ran behind the held sync
  ReleaseSyncs(2);
  EXPECT_TRUE(first.get_future().get().ok());
  ReleaseSyncs(3);
  EXPECT_TRUE(a.get_future().get().ok());
  EXPECT_EQ(b.get_future().get().code(), Code::kInvalidArgument);
  EXPECT_TRUE(c.get_future().get().ok());
  EXPECT_TRUE(Has("a"));
  EXPECT_FALSE(Has("b"));
  EXPECT_TRUE(Has("c"));
  EXPECT_EQ(db_->GetStats().commits - commits_before, 2u);  // first's, then a+b+c's
}

// At most max_group callers join the transaction open behind a sync; the
// next caller waits for the one after it.
class HeldSyncGroupOfTwoTest : public HeldSyncTest {
 protected:
  void SetUp() override {
    max_group_ = 2;
    HeldSyncTest::SetUp();
  }
};

TEST_F(HeldSyncGroupOfTwoTest, AFullTransactionWaitsForTheSyncAndTheRestForTheNext) {
  std::promise<Status> first;
  InsertAsync("first", [&](Status st) { first.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));
  const uint64_t commits_before = db_->GetStats().commits;
  std::atomic<int> ran{0};
  std::promise<Status> done[3];
  for (int i = 0; i < 3; ++i) {
    db_->WriteAsync(
        [&ran, i](Txn& txn) -> Status {
          ++ran;
          return txn.Exec("INSERT INTO kv(k) VALUES('" + std::to_string(i) + "')");
        },
        [&done, i](Status st) { done[i].set_value(std::move(st)); });
  }
  ASSERT_TRUE(WaitFor([&] { return ran.load() == 2; }));
  ASSERT_TRUE(WaitFor([&] { return db_->GetStats().queued == 1; }));  // the third waits
  ReleaseSyncs(2);
  EXPECT_TRUE(first.get_future().get().ok());
  ASSERT_TRUE(WaitFor([&] { return ran.load() == 3; }));
  ReleaseSyncs(3);
  EXPECT_TRUE(done[0].get_future().get().ok());
  EXPECT_TRUE(done[1].get_future().get().ok());
  ReleaseSyncs(4);
  EXPECT_TRUE(done[2].get_future().get().ok());
  EXPECT_EQ(db_->GetStats().commits - commits_before, 3u);  // first, 0+1, 2
}

// Options::idle_commit_hold ("Waves" in database.cc), here an hour long
// unless a test says otherwise.
class HeldCommitTest : public HeldSyncTest {
 protected:
  void SetUp() override {
    idle_commit_hold_ = std::chrono::hours(1);
    HeldSyncTest::SetUp();
  }

  // Leaves a last committed group of two callers (b and c, run behind the
  // held sync of a), all synced, and the syncer idle: 3 syncs so far.
  void CommitAGroupOfTwo() {
    std::promise<Status> a, b, c;
    InsertAsync("a", [&](Status st) { a.set_value(std::move(st)); });  // after a group of one
    ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));
    std::atomic<int> ran{0};
    InsertAsync(
        "b", [&] { ++ran; }, [&](Status st) { b.set_value(std::move(st)); });
    InsertAsync(
        "c", [&] { ++ran; }, [&](Status st) { c.set_value(std::move(st)); });
    ASSERT_TRUE(WaitFor([&] { return ran.load() == 2; }));  // both in the open transaction
    ReleaseSyncs(2);
    EXPECT_TRUE(a.get_future().get().ok());
    ReleaseSyncs(3);  // b and c: one commit, one sync
    EXPECT_TRUE(b.get_future().get().ok());
    EXPECT_TRUE(c.get_future().get().ok());
    EXPECT_EQ(SyncsStarted(), 3);
    // The syncer commits whatever is open once a sync ends, held or not:
    // the next caller must find it idle.
    ASSERT_TRUE(WaitFor([&] { return !db_->GetStats().syncing; }));
  }
};

// One client at a time: the last group had one caller, so a caller arriving
// at an idle syncer is committed and synced at once, however long the hold.
TEST_F(HeldCommitTest, ALoneCallerAfterAGroupOfOneIsCommittedAtOnce) {
  ASSERT_TRUE(WaitFor([&] { return !db_->GetStats().syncing; }));  // done with Migrate's group
  std::promise<Status> done;
  InsertAsync("alone", [&](Status st) { done.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));  // Migrate's, then its own
  EXPECT_TRUE(Has("alone"));
  ReleaseSyncs(2);
  EXPECT_TRUE(done.get_future().get().ok());
}

// After a group of two, the first caller of the next wave is held (not
// committed, no sync started) until a second one joins it; both then go in
// one commit and one sync.
TEST_F(HeldCommitTest, TheFirstCallerOfAWaveWaitsForAsManyAsTheLastGroup) {
  CommitAGroupOfTwo();
  std::promise<Status> d, e;
  std::promise<void> d_ran;
  InsertAsync(
      "d", [&] { d_ran.set_value(); }, [&](Status st) { d.set_value(std::move(st)); });
  d_ran.get_future().wait();
  auto d_done = d.get_future();
  EXPECT_EQ(d_done.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_FALSE(Has("d"));  // held: not committed
  EXPECT_EQ(SyncsStarted(), 3);
  InsertAsync("e", [&](Status st) { e.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 4; }));
  EXPECT_TRUE(Has("d"));
  EXPECT_TRUE(Has("e"));
  ReleaseSyncs(4);
  EXPECT_TRUE(d_done.get().ok());
  EXPECT_TRUE(e.get_future().get().ok());
}

class ShortHeldCommitTest : public HeldCommitTest {
 protected:
  void SetUp() override {
    idle_commit_hold_ = std::chrono::milliseconds(2);
    HeldSyncTest::SetUp();  // not HeldCommitTest's: it would make the hold an hour
  }
};

// When nobody joins, the held caller is committed alone once the hold runs
// out: a hold delays a commit, it never strands one.
TEST_F(ShortHeldCommitTest, AHeldCallerIsCommittedAloneWhenTheHoldRunsOut) {
  CommitAGroupOfTwo();
  std::promise<Status> d;
  InsertAsync("d", [&](Status st) { d.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 4; }));
  ReleaseSyncs(4);
  EXPECT_TRUE(d.get_future().get().ok());
  EXPECT_TRUE(Has("d"));
}

// Ack::kCommitted: a caller hears of its change once COMMIT has written it
// to the WAL (readers see it; kill -9 cannot take it back), without waiting
// for the sync after it; a durable caller of the same group still waits, and
// a failure of that sync is reported to the durable caller only.
TEST_F(HeldSyncTest, ACommittedAckCallerHearsAtItsCommitAndTheDurableOnesAfterTheSync) {
  std::promise<Status> first, early, late;
  InsertAsync("first", [&](Status st) { first.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));  // first's sync, held
  std::atomic<int> early_hooks{0};
  std::atomic<bool> hook_before_completion{false};
  std::atomic<int> ran{0};
  db_->WriteAsync(
      [&](Txn& txn) -> Status {
        txn.OnCommit([&] { ++early_hooks; });
        ++ran;
        return txn.Exec("INSERT INTO kv(k) VALUES('early')");
      },
      [&](Status st) {
        hook_before_completion = early_hooks.load() == 1;
        early.set_value(std::move(st));
      },
      Database::CallerUndo::kSavepoint, Database::Ack::kCommitted);
  InsertAsync(
      "late", [&] { ++ran; }, [&](Status st) { late.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return ran.load() == 2; }));  // both run behind the held sync
  auto early_done = early.get_future();
  // Not committed yet (one commit per sync): not acknowledged either.
  EXPECT_EQ(early_done.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(early_hooks.load(), 0);
  std::thread releaser([this] { ReleaseSyncs(2); });
  EXPECT_TRUE(first.get_future().get().ok());
  releaser.join();
  gate_.FailNext();  // the sync after early's and late's commit fails
  // The syncer committed early's and late's group and started its sync,
  // still held: early is acknowledged, with its hook run first; late is not.
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 3; }));
  ASSERT_EQ(early_done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(early_done.get().ok());
  EXPECT_TRUE(hook_before_completion.load());
  EXPECT_TRUE(Has("early"));
  auto late_done = late.get_future();
  EXPECT_EQ(late_done.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  ReleaseSyncs(3);
  EXPECT_EQ(late_done.get().code(), Code::kIoError);
  EXPECT_EQ(early_hooks.load(), 1);  // run once, at the commit
}

// The same when the writer commits (no sync running): a lone kCommitted
// caller is acknowledged while its group's sync is still held.
TEST_F(HeldSyncTest, ALoneCommittedAckCallerDoesNotWaitForTheSync) {
  std::promise<Status> early;
  db_->WriteAsync([&](Txn& txn) -> Status { return txn.Exec("INSERT INTO kv(k) VALUES('e')"); },
                  [&](Status st) { early.set_value(std::move(st)); },
                  Database::CallerUndo::kSavepoint, Database::Ack::kCommitted);
  auto done = early.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(done.get().ok());
  EXPECT_TRUE(Has("e"));
  EXPECT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));  // its sync still runs (held)
}

// A kCommitted caller can take the durable acknowledgement back from inside
// its function; callers of one transaction share its number, the next
// transaction has another.
TEST_F(HeldSyncTest, ACommittedAckCallerMayRequireTheDurableOneAndSeesItsTransactionNumber) {
  std::promise<Status> first, second;
  std::atomic<uint64_t> first_number{0}, second_number{0}, third_number{0};
  InsertAsync("a", [&](Status st) { first.set_value(std::move(st)); });
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 2; }));  // a's sync, held
  std::atomic<int> ran{0};
  db_->WriteAsync(
      [&](Txn& txn) -> Status {
        first_number = txn.TransactionNumber();
        txn.RequireDurableAck();
        ++ran;
        return txn.Exec("INSERT INTO kv(k) VALUES('b')");
      },
      [&](Status st) { second.set_value(std::move(st)); }, Database::CallerUndo::kSavepoint,
      Database::Ack::kCommitted);
  db_->WriteAsync(
      [&](Txn& txn) -> Status {
        second_number = txn.TransactionNumber();
        ++ran;
        return Status::Ok();
      },
      [](Status) {});
  ASSERT_TRUE(WaitFor([&] { return ran.load() == 2; }));
  ReleaseSyncs(2);
  EXPECT_TRUE(first.get_future().get().ok());
  ASSERT_TRUE(WaitFor([&] { return SyncsStarted() == 3; }));  // b's commit's sync, held
  auto second_done = second.get_future();
  EXPECT_EQ(second_done.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ReleaseSyncs(3);
  EXPECT_TRUE(second_done.get().ok());
  std::thread releaser([this] { ReleaseSyncs(4); });
  ASSERT_TRUE(db_->Write([&](Txn& txn) -> Status {
                   third_number = txn.TransactionNumber();
                   return Status::Ok();
                 })
                  .ok());
  releaser.join();
  EXPECT_NE(first_number.load(), 0u);
  EXPECT_EQ(first_number.load(), second_number.load());
  EXPECT_NE(third_number.load(), first_number.load());
}

// A kCommitted caller whose own change fails hears of it like any other.
TEST_F(HeldSyncTest, ACommittedAckCallerThatFailsIsNotAcknowledgedAsDone) {
  std::promise<Status> failing;
  db_->WriteAsync(
      [&](Txn& txn) -> Status {
        IMGBATCH_RETURN_IF_ERROR(txn.Exec("INSERT INTO kv(k) VALUES('x')"));
        return InvalidArgument("x changes its mind");
      },
      [&](Status st) { failing.set_value(std::move(st)); }, Database::CallerUndo::kSavepoint,
      Database::Ack::kCommitted);
  ReleaseSyncs(2);
  EXPECT_EQ(failing.get_future().get().code(), Code::kInvalidArgument);
  EXPECT_FALSE(Has("x"));
}

// A failed fdatasync fails its group, and every later write: its pages may
// be lost, so nothing after it can be promised durable.
TEST_F(HeldSyncTest, FailedWalSyncFailsItsGroupAndEveryLaterWrite) {
  gate_.FailNext();
  std::promise<Status> failed, later;
  InsertAsync("lost", [&](Status st) { failed.set_value(std::move(st)); });
  ReleaseSyncs(2);
  EXPECT_EQ(failed.get_future().get().code(), Code::kIoError);
  InsertAsync("later", [&](Status st) { later.set_value(std::move(st)); });
  EXPECT_EQ(later.get_future().get().code(), Code::kIoError);
  EXPECT_FALSE(Has("later"));  // the writer no longer runs groups
}

TEST(DatabaseOpenTest, BadPathIsAnError) {
  Options options;
  options.path = "/nonexistent-dir-for-imgbatch/x/meta.db";
  auto db = Database::Open(options);
  EXPECT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kIoError);
}

}  // namespace
}  // namespace imgbatch::db

namespace imgbatch::db {
namespace {

TEST(DatabaseOnCommit, RunsAfterCommitOnlyForSucceedingCallers) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("imgbatch-oncommit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto db = Database::Open({.path = dir + "/t.db"});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate("t", {{1, "CREATE TABLE t(x INTEGER)"}}).ok());
  std::atomic<int> ran{0};
  bool visible_when_run = false;
  Status ok = (*db)->Write([&](Txn& txn) {
    txn.OnCommit([&] {
      ++ran;
      // Runs after COMMIT: a read connection already sees the row.
      Status st = (*db)->Read([&](Conn& c) {
        IMGBATCH_ASSIGN_OR_RETURN(auto s, c.Prepare("SELECT COUNT(*) FROM t"));
        IMGBATCH_ASSIGN_OR_RETURN(bool row, s.Step());
        visible_when_run = row && s.ColumnInt(0) == 1;
        return Status::Ok();
      });
      EXPECT_TRUE(st.ok());
    });
    return txn.Exec("INSERT INTO t VALUES (1)");
  });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ran.load(), 1);
  EXPECT_TRUE(visible_when_run);
  Status failed = (*db)->Write([&](Txn& txn) {
    txn.OnCommit([&] { ++ran; });
    return InvalidArgument("caller fails");
  });
  EXPECT_FALSE(failed.ok());
  (*db)->FailCommitAfter(1);
  Status commit_failed = (*db)->Write([&](Txn& txn) {
    txn.OnCommit([&] { ++ran; });
    return txn.Exec("INSERT INTO t VALUES (2)");
  });
  EXPECT_FALSE(commit_failed.ok());
  EXPECT_EQ(ran.load(), 1);
  db->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace imgbatch::db

namespace imgbatch::db {
namespace {

// An empty std::string_view() has a null data pointer, which sqlite3_bind_*
// takes for NULL: both text binds must store '' (NOT NULL columns, '' keys).
TEST(StatementBindTest, EmptyTextIsEmptyNotNull) {
  TempDir dir;
  auto db = Database::Open({.path = dir.path() + "/t.db"});
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate("t", {{1, "CREATE TABLE t(a TEXT NOT NULL, b TEXT NOT NULL)"}}).ok());
  Status st = (*db)->Write([&](Txn& txn) -> Status {
    IMGBATCH_ASSIGN_OR_RETURN(Statement insert, txn.Prepare("INSERT INTO t VALUES (?1, ?2)"));
    return insert.Bind(1, std::string_view()).BindView(2, std::string_view()).Run();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  int64_t empty_rows = -1;
  ASSERT_TRUE((*db)
                  ->Read([&](Conn& c) -> Status {
                    IMGBATCH_ASSIGN_OR_RETURN(
                        Statement count,
                        c.Prepare("SELECT count(*) FROM t WHERE a = '' AND b = ''"));
                    IMGBATCH_ASSIGN_OR_RETURN(bool row, count.Step());
                    if (row) empty_rows = count.ColumnInt(0);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(empty_rows, 1);
}

}  // namespace
}  // namespace imgbatch::db
