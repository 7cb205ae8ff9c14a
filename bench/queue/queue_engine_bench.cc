// queue_engine_bench: the queue engine alone (no HTTP, no JSON, no SigV4) on a
// durable SQLite database (WAL, synced before acknowledging, group commit), running the
// cycle of bench/queue/queue_bench.cc: SendBatch(10) -> Receive(10) ->
// DeleteBatch(what it got), from 1 or 16 threads, on an empty queue or with a
// backlog queued ahead (each cycle keeps it constant).
//
// Load-independent counters, per message (sent, received and deleted):
//   cpu_us      process CPU time (user + system, every thread: the callers,
//               the db writer, the checkpointer)
//   write_bytes bytes the process passed to write() (WAL frames and
//               checkpoints; /proc/self/io wchar)
//   commits     group commits (db::Database::Stats)
// and, per Receive call, rx_us: the caller's wall time (p99 is not what
// Google Benchmark reports; bench/queue/run.sh with BACKLOG measures that).
//
//   build/release/bench/queue/queue_engine_bench [--benchmark_filter=...]
//   TMPDIR=dir selects the data directory's file system (default /tmp).
#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/hashing.h"
#include "db/database.h"
#include "queue/message.h"
#include "queue/queue_engine.h"

namespace imgbatch::queue {
namespace {

constexpr int kBatch = 10;
constexpr char kQueue[] = "engine-bench";

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

int64_t ProcessWriteChars() {
  std::ifstream io("/proc/self/io");
  std::string line;
  while (std::getline(io, line)) {
    if (line.rfind("wchar:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return 0;
}

// One database + engine shared by the benchmark's threads.
struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<db::Database> db;
  std::unique_ptr<QueueEngine> engine;

  explicit Fixture(int64_t backlog) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::filesystem::path(tmp != nullptr ? tmp : "/tmp") /
          ("queue_engine_bench_" + RandomHex(6));
    std::filesystem::create_directories(dir);
    if (const char* page_size = std::getenv("PAGE_SIZE")) {
      // Experiment: a database created with another page size.
      sqlite3* raw = nullptr;
      const std::string sql = std::string("PRAGMA page_size=") + page_size +
                              "; PRAGMA journal_mode=WAL; CREATE TABLE page_size_probe(x);";
      if (sqlite3_open((dir / "bench.db").c_str(), &raw) != SQLITE_OK ||
          sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
        std::abort();
      }
      sqlite3_close(raw);
    }
    Open();
    if (!engine->CreateQueue(kQueue, {}, {}).ok()) std::abort();
    if (const char* index = std::getenv("DROP_INDEX")) {
      // Experiment: what one index of queue_messages costs per message.
      if (!db->Write([&](db::Txn& txn) {
               return txn.Exec(std::string("DROP INDEX ") + index);
             }).ok()) {
        std::abort();
      }
    }
    if (backlog > 0) {
      Fill(backlog);
      Open();  // the engine counts the rows it finds at start
    }
  }
  ~Fixture() {
    engine.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }

  void Open() {
    engine.reset();
    db.reset();
    db::Options options;
    options.path = (dir / "bench.db").string();
    auto opened = db::Database::Open(options);
    if (!opened.ok()) std::abort();
    db = std::move(*opened);
    auto e = QueueEngine::Open(*db, SystemClock::Instance());
    if (!e.ok()) std::abort();
    engine = std::move(*e);
  }

  // The backlog in one transaction, rows as SendBatch writes them (seqs
  // after the queue's, ids from MessageIdForSeq, 128-byte bodies), sent a
  // minute ago so that they sort ahead of the cycles' messages; then the
  // WAL is checkpointed away so the measured cycles do not pay for the
  // fill. (Ids of another form would keep queue_messages_legacy_id alive.)
  void Fill(int64_t n) {
    const int64_t past = SystemClock::Instance().NowMillis() - 60'000;
    const std::string body(128, 'b');
    const std::string body_md5 = Md5Hex(body);
    Status st = db->Write([&](db::Txn& txn) -> Status {
      for (int64_t seq = 1; seq <= n; ++seq) {
        IMGBATCH_ASSIGN_OR_RETURN(
            db::Statement ins,
            txn.Prepare("INSERT INTO queue_messages(seq, queue_id, message_id, body, attributes, "
                        "sender_id, trace_header, sent_ms, visible_at_ms, first_receive_ms, "
                        "last_receive_ms, body_md5) SELECT ?5, id, ?1, ?2, x'', 'AKIABENCH', '', "
                        "?3, ?3, ?3, ?3, ?6 FROM queues WHERE name = ?4"));
        auto id = MessageIdForSeq(past, seq);
        if (!id) return Internal("seq out of range");
        IMGBATCH_RETURN_IF_ERROR(ins.Bind(1, *id)
                                     .BindBlob(2, body)
                                     .Bind(3, past)
                                     .Bind(4, std::string_view(kQueue))
                                     .Bind(5, seq)
                                     .Bind(6, body_md5)
                                     .Run());
      }
      return Status::Ok();
    });
    if (!st.ok()) std::abort();
    engine.reset();
    db.reset();
    sqlite3* raw = nullptr;
    if (sqlite3_open((dir / "bench.db").c_str(), &raw) != SQLITE_OK ||
        sqlite3_wal_checkpoint_v2(raw, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr) !=
            SQLITE_OK) {
      std::abort();
    }
    sqlite3_close(raw);
  }
};

Fixture* fixture = nullptr;
struct Totals {
  double cpu0 = 0;
  int64_t wchar0 = 0;
  uint64_t commits0 = 0;
  std::atomic<int64_t> messages{0};
  std::atomic<int64_t> receive_ns{0};
  std::atomic<int64_t> receives{0};
} totals;

// Receive with wait 0; the engine completes it after its commit, on another
// thread.
Result<std::vector<ReceivedMessage>> ReceiveNow(QueueEngine& engine) {
  std::promise<Result<std::vector<ReceivedMessage>>> promise;
  auto future = promise.get_future();
  ReceiveOptions options;
  options.max_messages = kBatch;
  options.wait_seconds = 0;
  engine.Receive(kQueue, options, [&promise](Result<std::vector<ReceivedMessage>> r) {
    promise.set_value(std::move(r));
  });
  return future.get();
}

void BM_Cycle(benchmark::State& state) {
  if (state.thread_index() == 0) {
    fixture = new Fixture(state.range(0));
    totals.cpu0 = ProcessCpuSeconds();
    totals.wchar0 = ProcessWriteChars();
    totals.commits0 = fixture->db->GetStats().commits;
    totals.messages = 0;
    totals.receive_ns = 0;
    totals.receives = 0;
  }
  const std::string body(128, 'm');
  int64_t messages = 0;
  for (auto _ : state) {
    std::vector<SendRequest> batch(kBatch);
    for (auto& r : batch) {
      r.body = body;
      r.sender_id = "AKIABENCH";
    }
    auto sent = fixture->engine->SendBatch(kQueue, std::move(batch));
    if (!sent.ok()) state.SkipWithError(sent.status().ToString().c_str());
    const auto t0 = std::chrono::steady_clock::now();
    auto got = ReceiveNow(*fixture->engine);
    totals.receive_ns +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    totals.receives += 1;
    if (!got.ok()) state.SkipWithError(got.status().ToString().c_str());
    std::vector<std::string> handles;
    for (const auto& m : *got) handles.push_back(m.receipt_handle);
    if (handles.empty()) continue;
    auto deleted = fixture->engine->DeleteBatch(kQueue, handles);
    if (!deleted.ok()) state.SkipWithError(deleted.status().ToString().c_str());
    messages += static_cast<int64_t>(handles.size());
    // Counted inside the loop: its end is a barrier for thread 0's report
    // below, but what a thread does after its loop races with that report.
    totals.messages += static_cast<int64_t>(handles.size());
  }
  state.SetItemsProcessed(messages);
  if (state.thread_index() == 0) {
    // The loop's end is a barrier: every thread is done here.
    const double n = static_cast<double>(std::max<int64_t>(1, totals.messages.load()));
    state.counters["cpu_us"] = (ProcessCpuSeconds() - totals.cpu0) * 1e6 / n;
    state.counters["write_bytes"] = static_cast<double>(ProcessWriteChars() - totals.wchar0) / n;
    state.counters["msgs_per_commit"] =
        n / static_cast<double>(
                std::max<uint64_t>(1, fixture->db->GetStats().commits - totals.commits0));
    state.counters["rx_us"] = static_cast<double>(totals.receive_ns.load()) / 1e3 /
                              static_cast<double>(std::max<int64_t>(1, totals.receives.load()));
    delete fixture;
    fixture = nullptr;
  }
}
// Fixed iteration counts: a run re-creates the fixture (and the backlog), so
// Google Benchmark's iteration-count search would fill it several times.
BENCHMARK(BM_Cycle)
    ->ArgName("backlog")
    ->Arg(0)
    ->Arg(1'000'000)
    ->Threads(1)
    ->Iterations(1000)
    ->UseRealTime();
BENCHMARK(BM_Cycle)
    ->ArgName("backlog")
    ->Arg(0)
    ->Arg(1'000'000)
    ->Threads(16)
    ->Iterations(300)
    ->UseRealTime();

}  // namespace
}  // namespace imgbatch::queue

BENCHMARK_MAIN();
