// store_bench: durable small-object PUT throughput through the store and raw
// group-committed db writes, from many threads; then a lifecycle pass over
// what the PUTs left (a scan that expires nothing, then one that expires
// every object) beside its peer, the same deletions as a client makes them
// (ListObjects + DeleteObjects of 1,000 keys). Not a test (no thresholds);
// run by hand: store_bench [--threads N] [--seconds S] [--size BYTES] [--dir D]
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "db/database.h"
#include "store/lifecycle.h"
#include "store/object_store.h"

namespace {

using namespace imgbatch;
using Clock = std::chrono::steady_clock;

class BufferSource final : public store::ByteSource {
 public:
  explicit BufferSource(const std::string& data) : data_(data) {}
  Result<size_t> Read(std::span<char> buffer) override {
    size_t n = std::min(buffer.size(), data_.size() - pos_);
    std::memcpy(buffer.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  const std::string& data_;
  size_t pos_ = 0;
};

template <typename Op>
void RunFor(const char* name, int threads, double seconds, db::Database& db, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0}, failed{0};
  const auto before = db.GetStats();
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        if (op(t, i)) {
          done.fetch_add(1, std::memory_order_relaxed);
        } else {
          failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto after = db.GetStats();
  const double commits = static_cast<double>(after.commits - before.commits);
  std::printf(
      "%-28s threads=%-3d ops=%-8llu failed=%-4llu %10.0f ops/s  commits/s=%.0f  "
      "mean group=%.1f\n",
      name, threads, static_cast<unsigned long long>(done.load()),
      static_cast<unsigned long long>(failed.load()), static_cast<double>(done.load()) / elapsed,
      commits / elapsed,
      commits > 0 ? static_cast<double>(after.writes - before.writes) / commits : 0.0);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

uint64_t CountObjects(store::ObjectStore& store, const std::string& bucket) {
  uint64_t count = 0;
  store::ListRequest page;
  while (true) {
    auto listed = store.ListObjects(bucket, page);
    if (!listed.ok()) return count;
    count += listed->objects.size();
    if (!listed->truncated) return count;
    page.start_after = listed->objects.back().key;
  }
}

// The bucket's objects copied into `to` (same keys), for the peer.
void CopyAll(store::ObjectStore& store, const std::string& from, const std::string& to) {
  store::ListRequest page;
  while (true) {
    auto listed = store.ListObjects(from, page);
    if (!listed.ok()) return;
    for (const auto& meta : listed->objects) {
      (void)store.CopyObject(from, meta.key, to, meta.key, {}, false, {}, {});
    }
    if (!listed->truncated) return;
    page.start_after = listed->objects.back().key;
  }
}

void LifecyclePasses(store::ObjectStore& store) {
  const uint64_t objects = CountObjects(store, "bench");
  (void)store.CreateBucket("peer", "");
  CopyAll(store, "bench", "peer");
  store::LifecycleRule later;
  later.id = "later";
  later.expiration_days = 30;
  (void)store.PutBucketLifecycle("bench", {{later}});
  const int64_t now = imgbatch::SystemClock::Instance().NowMillis();
  auto start = Clock::now();
  auto scan = store.ApplyLifecycle(now);
  const double scan_s = SecondsSince(start);
  store::LifecycleRule past;
  past.id = "past";
  past.expiration_date_ms = now / store::kDayMs * store::kDayMs;
  (void)store.PutBucketLifecycle("bench", {{past}});
  start = Clock::now();
  auto expire = store.ApplyLifecycle(now);
  const double expire_s = SecondsSince(start);
  // The peer: what a client does without lifecycle rules.
  start = Clock::now();
  uint64_t deleted = 0;
  while (true) {
    auto listed = store.ListObjects("peer", {});
    if (!listed.ok() || listed->objects.empty()) break;
    std::vector<std::string> keys;
    for (const auto& meta : listed->objects) keys.push_back(meta.key);
    auto results = store.DeleteObjects("peer", keys, {});
    if (!results.ok()) break;
    deleted += results->size();
  }
  const double peer_s = SecondsSince(start);
  std::printf("lifecycle pass, nothing due      objects=%-8llu %10.0f objects/s\n",
              static_cast<unsigned long long>(objects), static_cast<double>(objects) / scan_s);
  std::printf("lifecycle pass, all expire       expired=%-8llu %10.0f objects/s\n",
              static_cast<unsigned long long>(expire.ok() ? expire->expired : 0),
              static_cast<double>(expire.ok() ? expire->expired : 0) / expire_s);
  std::printf("peer: List + DeleteObjects(1000) deleted=%-8llu %10.0f objects/s\n",
              static_cast<unsigned long long>(deleted), static_cast<double>(deleted) / peer_s);
  std::printf("ratio: lifecycle expiry / client deletes = %.2f%s\n",
              (static_cast<double>(expire.ok() ? expire->expired : 0) / expire_s) /
                  (static_cast<double>(deleted) / peer_s),
              scan.ok() ? "" : " (the scan failed)");
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 16;
  double seconds = 5;
  size_t size = 4096;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    if (flag == "--size") size = static_cast<size_t>(std::atoll(argv[i + 1]));
    if (flag == "--dir") dir = argv[i + 1];
  }
  bool own_dir = dir.empty();
  if (own_dir) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "storebench.XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
  }
  {
    db::Options db_options;
    db_options.path = dir + "/meta.db";
    auto db = db::Database::Open(db_options);
    if (!db.ok()) {
      std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
      return 1;
    }
    store::StoreOptions options;
    options.data_dir = dir;
    auto store = store::ObjectStore::Open(**db, options);
    if (!store.ok() || !(*store)->CreateBucket("bench", "").ok()) {
      std::fprintf(stderr, "store open failed\n");
      return 1;
    }
    const std::string payload(size, 'x');
    RunFor("store PutObject", threads, seconds, **db, [&](int t, uint64_t i) {
      BufferSource body(payload);
      store::PutOptions put;
      put.content_length = payload.size();
      return (*store)
          ->PutObject("bench", "t" + std::to_string(t) + "/" + std::to_string(i), body, put, {})
          .ok();
    });
    (void)(*db)->Migrate("bench", {{1, "CREATE TABLE msgs(id INTEGER PRIMARY KEY, body BLOB)"}});
    const std::string message(256, 'm');
    RunFor("db Write (256 B insert)", threads * 4, seconds, **db, [&](int, uint64_t) {
      return (*db)
          ->Write([&](db::Txn& txn) -> Status {
            IMGBATCH_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO msgs(body) VALUES(?)"));
            return st.BindBlob(1, message).Run();
          })
          .ok();
    });
    LifecyclePasses(**store);
  }
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}
