// DataDir: the one directory that holds a server's state (SQLite database,
// blob files, keys, dashboard token), locked so that only one process uses it.
// The lock is an flock(2) on <dir>/LOCK held for the object's lifetime; the
// kernel releases it when the process dies, even by kill -9.
// Thread-safety: immutable after Open.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace imgbatch::server {

class DataDir {
 public:
  // Creates the directory (mode 0700) if needed and takes the lock.
  // kConflict when another process holds it.
  static Result<std::unique_ptr<DataDir>> Open(const std::string& path);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  DataDir(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string path_;
  int lock_fd_;
};

// Reads a small file whole; kNotFound when absent.
Result<std::string> ReadSmallFile(const std::string& path);
// Writes a file atomically (temp + fsync + rename) with the given mode.
Status WriteFileAtomically(const std::string& path, const std::string& contents, int mode);

}  // namespace imgbatch::server
