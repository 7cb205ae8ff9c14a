#include "db/wal_write_combining_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace imgbatch::db {
namespace {

namespace fs = std::filesystem;

// A VFS over "unix" that records the writes its WAL files receive (what the
// write-combining VFS above it hands down) and can fail them. The WAL file is
// unix's own; only its xWrite is replaced.
constexpr char kCountingVfs[] = "walbuf-test-counting";
constexpr char kCombiningVfs[] = "walbuf-test-combining";

struct WalWriteLog {
  std::vector<std::pair<sqlite3_int64, int>> writes;  // offset, bytes
  int fail_with = SQLITE_OK;                          // while set, WAL writes fail
};
WalWriteLog g_log;
sqlite3_vfs* g_unix = nullptr;
const sqlite3_io_methods* g_unix_wal_methods = nullptr;
sqlite3_io_methods g_counting_wal_methods;

int CountingWalWrite(sqlite3_file* f, const void* data, int amt, sqlite3_int64 offset) {
  if (g_log.fail_with != SQLITE_OK) return g_log.fail_with;
  g_log.writes.emplace_back(offset, amt);
  return g_unix_wal_methods->xWrite(f, data, amt, offset);
}

int CountingOpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
                 int* out_flags) {
  int rc = g_unix->xOpen(g_unix, name, file, flags, out_flags);
  if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) != 0) {
    if (g_unix_wal_methods == nullptr) {
      g_unix_wal_methods = file->pMethods;
      g_counting_wal_methods = *file->pMethods;
      g_counting_wal_methods.xWrite = CountingWalWrite;
    }
    if (file->pMethods == g_unix_wal_methods) file->pMethods = &g_counting_wal_methods;
  }
  return rc;
}

void RegisterTestVfses() {
  static bool registered = [] {
    g_unix = sqlite3_vfs_find("unix");
    static sqlite3_vfs counting = *g_unix;
    counting.zName = kCountingVfs;
    counting.xOpen = CountingOpen;
    counting.pNext = nullptr;
    EXPECT_EQ(sqlite3_vfs_register(&counting, 0), SQLITE_OK);
    EXPECT_TRUE(RegisterWalWriteCombiningVfs(kCombiningVfs, kCountingVfs).ok());
    return true;
  }();
  (void)registered;
}

constexpr int kPageSize = 4096;
constexpr int kFrameBytes = 24 + kPageSize;

// Runs every test with synchronous=NORMAL (COMMIT only writes the WAL; the
// db syncer fdatasyncs) and FULL (COMMIT syncs the WAL through xSync).
class WalWriteCombiningTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    RegisterTestVfses();
    std::string tmpl = (fs::temp_directory_path() / "walbuf.XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    path_ = dir_ + "/t.db";
    g_log = WalWriteLog{};
  }
  void TearDown() override {
    for (sqlite3* db : open_) sqlite3_close_v2(db);
    g_log = WalWriteLog{};
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  sqlite3* Open(const char* vfs, const std::string& path = "") {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    EXPECT_EQ(sqlite3_open_v2((path.empty() ? path_ : path).c_str(), &db, flags, vfs), SQLITE_OK);
    open_.push_back(db);
    sqlite3_extended_result_codes(db, 1);
    Exec(db, "PRAGMA journal_mode=WAL");
    Exec(db, std::string("PRAGMA synchronous=") + GetParam());
    Exec(db, "PRAGMA wal_autocheckpoint=0");
    return db;
  }

  // A writer through the combining VFS, with a table.
  sqlite3* OpenWriter() {
    sqlite3* db = Open(kCombiningVfs);
    Exec(db, "CREATE TABLE IF NOT EXISTS t(k INTEGER PRIMARY KEY, v BLOB)");
    Exec(db, "CREATE INDEX IF NOT EXISTS t_v ON t(v)");
    return db;
  }

  static int Run(sqlite3* db, const std::string& sql) {
    return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  }
  static void Exec(sqlite3* db, const std::string& sql) {
    ASSERT_EQ(Run(db, sql), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db);
  }
  static int64_t QueryInt(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    int64_t value = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  }
  static std::string IntegrityCheck(sqlite3* db) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr), SQLITE_OK);
    std::string result;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return result;
  }
  static std::string InsertRows(int first, int count, int blob_bytes,
                                const std::string& table = "t") {
    return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(first) +
           " UNION ALL SELECT i+1 FROM n WHERE i<" + std::to_string(first + count - 1) +
           ") INSERT INTO " + table + "(k, v) SELECT i, randomblob(" + std::to_string(blob_bytes) +
           ") FROM n";
  }

  // Fills the WAL to about `bytes` and checkpoints it: the next commit starts
  // the WAL over, in a range of the file the connection has written before.
  static void FillAndRestartWal(sqlite3* db, int bytes) {
    Exec(db, "INSERT INTO t(k, v) VALUES(-1, randomblob(" + std::to_string(bytes) + "))");
    Exec(db, "DELETE FROM t WHERE k = -1");
    Exec(db, "PRAGMA wal_checkpoint(PASSIVE)");  // no readers: all of it
  }

  // What a kill -9 would leave: the database and WAL files as they are in
  // the file system now (no -shm: the copy recovers from the WAL). Opened
  // through plain "unix".
  sqlite3* OpenCrashImage() {
    const std::string copy = dir_ + "/crash";
    fs::create_directories(copy);
    fs::copy_file(path_, copy + "/t.db", fs::copy_options::overwrite_existing);
    fs::copy_file(path_ + "-wal", copy + "/t.db-wal", fs::copy_options::overwrite_existing);
    fs::remove(copy + "/t.db-shm");
    return Open("unix", copy + "/t.db");
  }

  size_t BytesWritten() const {
    size_t total = 0;
    for (const auto& w : g_log.writes) total += static_cast<size_t>(w.second);
    return total;
  }

  std::string dir_;
  std::string path_;
  std::vector<sqlite3*> open_;
};

TEST_P(WalWriteCombiningTest, EachCommitIsOneWriteOfAllItsFrames) {
  sqlite3* db = OpenWriter();
  FillAndRestartWal(db, 400000);
  Exec(db, InsertRows(1, 10, 300));  // the WAL's new header and first frames
  for (int i = 0; i < 5; ++i) {
    g_log.writes.clear();
    Exec(db, InsertRows(100 + i * 40, 40, 300));  // several leaves and index pages
    ASSERT_EQ(g_log.writes.size(), 1u);
    EXPECT_GT(g_log.writes[0].second, kFrameBytes);
    EXPECT_EQ(g_log.writes[0].second % kFrameBytes, 0);
  }
  // The base VFS alone: two writes per frame.
  sqlite3* plain = Open(kCountingVfs);
  g_log.writes.clear();
  Exec(plain, InsertRows(1000, 40, 300));
  EXPECT_EQ(g_log.writes.size(), 2 * BytesWritten() / kFrameBytes);
  EXPECT_GT(g_log.writes.size(), 2u);
}

// A large write makes Linux cache the range in large folios; once the WAL
// starts over, a commit ending inside one would have the next sync write
// all of it again. The first pass over the file goes a page at a time.
TEST_P(WalWriteCombiningTest, TheFirstWriteOfARangeGoesAPageAtATime) {
  sqlite3* db = OpenWriter();
  const long page = sysconf(_SC_PAGESIZE);
  Exec(db, InsertRows(1, 40, 300));
  ASSERT_GT(BytesWritten(), static_cast<size_t>(2 * page));
  for (const auto& [offset, bytes] : g_log.writes) {
    EXPECT_EQ(offset / page, (offset + bytes - 1) / page) << offset << "+" << bytes;
  }
}

TEST_P(WalWriteCombiningTest, ALargeCommitIsWrittenInWritesTheBaseVfsTakesWhole) {
  sqlite3* db = OpenWriter();
  FillAndRestartWal(db, 1000000);
  Exec(db, InsertRows(1, 10, 300));
  g_log.writes.clear();
  Exec(db, "INSERT INTO t(k, v) VALUES(100, randomblob(600000))");  // ~150 frames
  ASSERT_GT(BytesWritten(), 600000u);
  EXPECT_LT(g_log.writes.size(), BytesWritten() / kFrameBytes / 20);
  sqlite3_int64 end = g_log.writes[0].first;
  for (const auto& [offset, bytes] : g_log.writes) {
    EXPECT_EQ(offset, end);  // appended in order
    EXPECT_LE(bytes, 0x1ffff);
    end = offset + bytes;
  }
  sqlite3* reader = Open("unix");
  EXPECT_EQ(QueryInt(reader, "SELECT length(v) FROM t WHERE k=100"), 600000);
  sqlite3* image = OpenCrashImage();
  EXPECT_EQ(IntegrityCheck(image), "ok");
}

TEST_P(WalWriteCombiningTest, ACommitIsInTheFileWhenCommitReturns) {
  sqlite3* db = OpenWriter();
  sqlite3* reader = Open("unix");
  for (int i = 0; i < 3; ++i) {
    Exec(db, InsertRows(1 + i * 20, 20, 200));
    EXPECT_EQ(QueryInt(reader, "SELECT count(*) FROM t"), 20 * (i + 1));
  }
  sqlite3* image = OpenCrashImage();
  EXPECT_EQ(IntegrityCheck(image), "ok");
  EXPECT_EQ(QueryInt(image, "SELECT count(*) FROM t"), 60);
}

TEST_P(WalWriteCombiningTest, SpilledFramesAreReadBackAndOverwrittenInPlace) {
  sqlite3* db = OpenWriter();
  Exec(db, "PRAGMA cache_size=10");  // pages: a large transaction spills frames
  Exec(db, "BEGIN");
  Exec(db, InsertRows(1, 400, 1000));
  // The transaction reads back pages whose frames a spill wrote.
  EXPECT_EQ(QueryInt(db, "SELECT sum(length(v)) FROM t"), 400 * 1000);
  // Pages already in the WAL in this transaction are overwritten in place;
  // COMMIT then rewrites the checksums of the frames from there on.
  Exec(db, "UPDATE t SET v = zeroblob(900) WHERE k % 3 = 0");
  Exec(db, "COMMIT");
  bool wrote_a_lone_frame_header = false;
  for (const auto& w : g_log.writes) wrote_a_lone_frame_header |= w.second == 24;
  EXPECT_TRUE(wrote_a_lone_frame_header) << "the checksum rewrite path did not run";

  const int64_t expected = 133 * 900 + 267 * 1000;
  sqlite3* reader = Open("unix");
  EXPECT_EQ(QueryInt(reader, "SELECT sum(length(v)) FROM t"), expected);
  sqlite3* image = OpenCrashImage();
  EXPECT_EQ(IntegrityCheck(image), "ok");
  EXPECT_EQ(QueryInt(image, "SELECT sum(length(v)) FROM t"), expected);
}

TEST_P(WalWriteCombiningTest, RestartedWalWritesItsNewHeaderFirst) {
  sqlite3* db = OpenWriter();
  Exec(db, InsertRows(1, 50, 300));
  FillAndRestartWal(db, 200000);
  g_log.writes.clear();
  Exec(db, InsertRows(100, 50, 300));  // starts the WAL over at its first frame
  ASSERT_EQ(g_log.writes.size(), 2u);
  EXPECT_EQ(g_log.writes[0], std::make_pair(sqlite3_int64{0}, 32));  // new header, synced
  EXPECT_EQ(g_log.writes[1].first, 32);                              // all frames
  sqlite3* reader = Open("unix");
  EXPECT_EQ(QueryInt(reader, "SELECT count(*) FROM t"), 100);
  sqlite3* image = OpenCrashImage();
  EXPECT_EQ(IntegrityCheck(image), "ok");
  EXPECT_EQ(QueryInt(image, "SELECT count(*) FROM t"), 100);
}

TEST_P(WalWriteCombiningTest, FailedWriteOfACommitFailsTheCommit) {
  sqlite3* db = OpenWriter();
  sqlite3* reader = Open("unix");
  Exec(db, InsertRows(1, 10, 300));
  Exec(db, "BEGIN");
  Exec(db, InsertRows(100, 40, 300));
  g_log.fail_with = SQLITE_IOERR_WRITE;
  EXPECT_EQ(Run(db, "COMMIT"), SQLITE_IOERR_WRITE);
  g_log.fail_with = SQLITE_OK;
  if (sqlite3_get_autocommit(db) == 0) Exec(db, "ROLLBACK");
  EXPECT_EQ(QueryInt(reader, "SELECT count(*) FROM t"), 10);
  Exec(db, InsertRows(200, 5, 300));  // the next transaction commits
  EXPECT_EQ(QueryInt(reader, "SELECT count(*) FROM t"), 15);
  sqlite3* image = OpenCrashImage();
  EXPECT_EQ(IntegrityCheck(image), "ok");
  EXPECT_EQ(QueryInt(image, "SELECT count(*) FROM t"), 15);
}

TEST_P(WalWriteCombiningTest, FailedFlushOfSpilledFramesKeepsTheTransactionFromCommitting) {
  sqlite3* db = OpenWriter();
  sqlite3* reader = Open("unix");
  Exec(db, InsertRows(1, 10, 300));
  Exec(db, "CREATE TABLE u(k INTEGER PRIMARY KEY, v BLOB)");
  Exec(db, "PRAGMA cache_size=10");
  Exec(db, "BEGIN");
  // Appends to a table without an index: each spilled page is a new leaf
  // nothing reads again, so its frames wait in the buffer.
  Exec(db, InsertRows(1, 200, 1000, "u"));
  Exec(db, InsertRows(100, 10, 300));
  g_log.fail_with = SQLITE_FULL;
  // A statement reading the spilled pages back flushes them first, and the
  // disk is full. SQLite rolls back only that statement (SQLITE_FULL with a
  // statement journal): the transaction goes on, counting on those frames.
  EXPECT_EQ(Run(db, "INSERT INTO t(k, v) SELECT k + 5000, v FROM u"), SQLITE_FULL);
  ASSERT_EQ(sqlite3_get_autocommit(db), 0);
  g_log.fail_with = SQLITE_OK;
  // The disk has room again, but the frames are not in the file: the
  // transaction must not commit.
  EXPECT_EQ(Run(db, "COMMIT"), SQLITE_FULL);
  if (sqlite3_get_autocommit(db) == 0) Exec(db, "ROLLBACK");
  EXPECT_EQ(QueryInt(reader, "SELECT count(*) FROM t"), 10);
  Exec(db, InsertRows(1000, 5, 300));  // the rollback cleared the failure
  EXPECT_EQ(QueryInt(reader, "SELECT count(*) FROM t"), 15);
  EXPECT_EQ(IntegrityCheck(reader), "ok");
  sqlite3* image = OpenCrashImage();
  EXPECT_EQ(IntegrityCheck(image), "ok");
  EXPECT_EQ(QueryInt(image, "SELECT count(*) FROM t"), 15);
}

INSTANTIATE_TEST_SUITE_P(SyncModes, WalWriteCombiningTest, ::testing::Values("NORMAL", "FULL"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace imgbatch::db
