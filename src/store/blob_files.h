// BlobFiles: the object store's blob directory (data_dir/blobs). Blob files are
// named by random ids, never by keys: data_dir/blobs/<first 2 hex>/<32 hex>.
// New blobs are written under blobs/tmp/, fsynced, renamed into place and the
// directory fsynced (BlobWriter::Publish) before any metadata refers to them.
//
// Thread-safety: BlobFiles is thread-safe (no mutable state besides the file
// system). A BlobWriter belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace imgbatch::store {

// Called before each chunk written to a blob with the bytes written so far;
// a non-ok Status fails the write as if the disk had returned it (tests).
using BlobWriteHook = std::function<Status(uint64_t written)>;

class BlobWriter;

class BlobFiles {
 public:
  BlobFiles(std::string root, uint64_t free_space_reserve, BlobWriteHook hook);

  // Creates blobs/ and blobs/tmp/ (fan-out directories appear on first use).
  Status Init();

  std::string PathOf(std::string_view blob_id) const;
  static bool IsBlobId(std::string_view name);

  // Refuses (kNoSpace, detail "InsufficientStorage") when fewer than
  // reserve + incoming bytes are free on the blob file system.
  Status CheckFreeSpace(uint64_t incoming) const;

  // A new temp file to stream into.
  Result<std::unique_ptr<BlobWriter>> NewWriter() const;

  // Opens a published blob read-only; kNotFound when it is gone.
  Result<int> OpenForRead(std::string_view blob_id) const;

  // Removes a published blob (after the commit that dropped its last
  // reference). Missing files are fine.
  void Remove(std::string_view blob_id) const;

  // Start-up collection: removes every temp file, and every blob file for
  // which are_referenced(ids)[i] is false (asked once per fan-out directory).
  // Returns the number of files removed.
  using ReferenceCheck =
      std::function<Result<std::vector<bool>>(const std::vector<std::string>& ids)>;
  Result<size_t> CollectGarbage(const ReferenceCheck& are_referenced) const;

  // Lists published blob ids (tests and tooling).
  std::vector<std::string> ListBlobIds() const;
  std::vector<std::string> ListTempFiles() const;
  std::vector<std::string> ListBlobIdsIn(const std::string& fan_out_dir) const;

  uint64_t free_space_reserve() const { return free_space_reserve_; }

 private:
  friend class BlobWriter;
  std::string root_;
  uint64_t free_space_reserve_;
  BlobWriteHook hook_;
};

// Streams bytes into blobs/tmp/<random>. Destroying an unpublished writer
// removes its temp file, so every error path cleans up.
class BlobWriter {
 public:
  BlobWriter(const BlobFiles& files, int fd, std::string temp_path);
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Status Append(std::string_view bytes);
  // Appends length bytes of another file starting at offset (kernel copy).
  Status AppendFile(int src_fd, uint64_t offset, uint64_t length);
  uint64_t size() const { return written_; }

  // fsync, rename into blobs/<xx>/<id>, fsync the directory. Returns the id.
  Result<std::string> Publish();

 private:
  Status Fail(int err, std::string_view what);
  Status BeforeWrite(uint64_t incoming);

  const BlobFiles& files_;
  int fd_;
  std::string temp_path_;
  uint64_t written_ = 0;
  uint64_t checked_at_ = 0;  // written_ at the last free-space check
  bool published_ = false;
};

}  // namespace imgbatch::store
