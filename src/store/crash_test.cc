// kill -9 under load: a child process PUTs concurrently and reports every
// acknowledged key on a pipe; the parent kills it mid-flight, reopens the data
// directory and checks every acknowledged object is present and byte-exact,
// and that start-up left no orphan blob or temp file behind (the child also
// overwrites and deletes hot keys, so kills land between commits and unlinks).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "common/hashing.h"
#include "store/store_test_util.h"

namespace imgbatch::store {
namespace {

using testing::Pattern;
using testing::StringSource;
using testing::TempDir;

constexpr int kWriterThreads = 8;
constexpr size_t kAcksBeforeKill = 120;

// Deterministic content per key: inline-sized or blob-sized.
std::string ContentFor(int thread, int i) {
  const size_t size = (i % 2 == 0) ? 300 + static_cast<size_t>(i) : 70'000 + static_cast<size_t>(i);
  return Pattern(size, static_cast<unsigned>(thread * 100000 + i));
}

std::string KeyFor(int thread, int i) {
  return "t" + std::to_string(thread) + "/" + std::to_string(i);
}

[[noreturn]] void RunChild(const std::string& dir, int ack_fd) {
  db::Options db_options;
  db_options.path = dir + "/meta.db";
  auto db = db::Database::Open(db_options);
  if (!db.ok()) _exit(2);
  StoreOptions options;
  options.data_dir = dir;
  options.free_space_reserve = 1 << 20;
  auto store = ObjectStore::Open(**db, options);
  if (!store.ok()) _exit(3);
  if (!(*store)->CreateBucket("crash", "").ok()) _exit(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriterThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        StringSource body(ContentFor(t, i));
        auto meta = (*store)->PutObject("crash", KeyFor(t, i), body, {}, {});
        if (!meta.ok()) continue;
        // One short write per ack: atomic on a pipe (< PIPE_BUF).
        std::string line = KeyFor(t, i) + "\n";
        if (::write(ack_fd, line.data(), line.size()) < 0) _exit(5);
        // Churn: overwrite and delete a hot blob-sized key, so the kill also
        // lands between commits and the unlinks of replaced blobs.
        const std::string hot = "hot/" + std::to_string(t);
        if (i % 5 == 4) {
          (void)(*store)->DeleteObject("crash", hot, {});
        } else {
          StringSource churn(Pattern(80'000, static_cast<unsigned>(i)));
          (void)(*store)->PutObject("crash", hot, churn, {}, {});
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  _exit(0);
}

TEST(CrashTest, AcknowledgedPutsSurviveKill9AndNoOrphansRemain) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    RunChild(dir.path(), fds[1]);
  }
  ::close(fds[1]);

  std::set<std::string> acked;
  std::string pending;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (true) {
    if (!killed && acked.size() >= kAcksBeforeKill) {
      ::kill(child, SIGKILL);
      killed = true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(child, SIGKILL);
      killed = true;
      ADD_FAILURE() << "child too slow: " << acked.size() << " acks";
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // EOF: the child is dead and every ack it wrote is read
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      acked.insert(pending.substr(0, newline));
      pending.erase(0, newline + 1);
    }
  }
  ::close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with " << WEXITSTATUS(wstatus);
  ASSERT_GE(acked.size(), kAcksBeforeKill);

  db::Options db_options;
  db_options.path = dir.path() + "/meta.db";
  auto db = db::Database::Open(db_options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  StoreOptions options;
  options.data_dir = dir.path();
  options.free_space_reserve = 1 << 20;
  auto store = ObjectStore::Open(**db, options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  for (const std::string& key : acked) {
    const size_t slash = key.find('/');
    const int t = std::stoi(key.substr(1, slash - 1));
    const int i = std::stoi(key.substr(slash + 1));
    auto got = (*store)->GetObject("crash", key, std::nullopt, {});
    ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    std::string bytes;
    if (got->fd) {
      bytes.resize(got->length);
      ASSERT_EQ(::pread(*got->fd, bytes.data(), bytes.size(), 0),
                static_cast<ssize_t>(bytes.size()));
    } else {
      bytes = got->inline_bytes;
    }
    EXPECT_TRUE(bytes == ContentFor(t, i)) << key << " differs";
  }

  // Every blob file left is referenced by a committed object, and no temp
  // files remain.
  size_t blob_objects = 0, objects = 0;
  std::string marker;
  while (true) {
    auto page = (*store)->ListObjects("crash", {"", "", marker, 1000});
    ASSERT_TRUE(page.ok());
    for (const auto& o : page->objects) {
      ++objects;
      if (o.size > options.inline_max_bytes) ++blob_objects;
    }
    if (!page->truncated) break;
    marker = page->next_marker;
  }
  EXPECT_GE(objects, acked.size());  // acked keys, later unacked ones, hot keys
  size_t files = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(dir.path() + "/blobs")) {
    if (entry.is_regular_file()) ++files;
  }
  EXPECT_EQ(files, blob_objects);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/blobs/tmp"));
}

}  // namespace
}  // namespace imgbatch::store
