// Test helpers for the store tests: a temp data dir, a db + store pair with
// a ManualClock, byte sources and a recording event sink.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>

#include "db/database.h"
#include "store/object_store.h"

namespace imgbatch::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "storetest.XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Serves a string in chunks of at most chunk bytes (exercises partial reads).
class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data, size_t chunk = 7777)
      : data_(std::move(data)), chunk_(chunk) {}
  Result<size_t> Read(std::span<char> buffer) override {
    size_t n = std::min({buffer.size(), chunk_, data_.size() - pos_});
    std::copy_n(data_.data() + pos_, n, buffer.data());
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t chunk_;
  size_t pos_ = 0;
};

class FailingSource final : public ByteSource {
 public:
  explicit FailingSource(size_t good_bytes) : good_(good_bytes) {}
  Result<size_t> Read(std::span<char> buffer) override {
    if (sent_ >= good_) return Status(Code::kUnauthenticated, "bad chunk signature");
    size_t n = std::min(buffer.size(), good_ - sent_);
    std::fill_n(buffer.data(), n, 'x');
    sent_ += n;
    return n;
  }

 private:
  size_t good_;
  size_t sent_ = 0;
};

class RecordingSink final : public ObjectEventSink {
 public:
  Status OnObjectEvent(db::Txn&, const ObjectEvent& event) override {
    std::lock_guard lock(mutex_);
    if (fail_next_) {
      fail_next_ = false;
      return Status(Code::kUnavailable, "sink refused");
    }
    events_.push_back(event);
    return Status::Ok();
  }
  std::vector<ObjectEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  void FailNext() {
    std::lock_guard lock(mutex_);
    fail_next_ = true;
  }

 private:
  std::mutex mutex_;
  std::vector<ObjectEvent> events_;
  bool fail_next_ = false;
};

inline std::string Pattern(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 16);
  }
  return s;
}

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open() {
    db::Options db_options;
    db_options.path = dir_.path() + "/meta.db";
    auto db = db::Database::Open(db_options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    StoreOptions options = options_;
    options.data_dir = dir_.path();
    auto store = ObjectStore::Open(*db_, options, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    store_->SetEventSink(&sink_);
  }
  void Close() {
    store_.reset();
    db_.reset();
  }
  void Reopen() {
    Close();
    Open();
  }

  Result<ObjectMeta> Put(const std::string& bucket, const std::string& key, const std::string& data,
                         PutOptions options = {}) {
    StringSource source(data);
    return store_->PutObject(bucket, key, source, options, Caller{"tester", "127.0.0.1", "req"});
  }

  // Reads the object's bytes (whole or the resolved range).
  std::string ReadAll(const ObjectData& data) {
    if (!data.fd) return data.inline_bytes.substr(data.offset, data.length);
    std::string out(data.length, '\0');
    size_t done = 0;
    while (done < data.length) {
      ssize_t n = ::pread(*data.fd, out.data() + done, data.length - done,
                          static_cast<off_t>(data.offset + done));
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    out.resize(done);
    return out;
  }

  Result<std::string> Get(const std::string& bucket, const std::string& key) {
    auto data = store_->GetObject(bucket, key, std::nullopt, {});
    if (!data.ok()) return data.status();
    return ReadAll(*data);
  }

  std::vector<std::string> BlobFilesOnDisk() {
    std::vector<std::string> files;
    for (auto& entry : std::filesystem::recursive_directory_iterator(dir_.path() + "/blobs")) {
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    }
    return files;
  }

  TempDir dir_;
  ManualClock clock_;
  StoreOptions options_;
  RecordingSink sink_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<ObjectStore> store_;
};

}  // namespace imgbatch::store::testing
