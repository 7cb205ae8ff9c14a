#include "store/blob_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/hashing.h"

namespace imgbatch::store {
namespace {

constexpr size_t kBlobIdBytes = 16;                   // 32 hex characters
constexpr uint64_t kRecheckSpaceEvery = 64ull << 20;  // re-run statvfs while streaming
constexpr size_t kCopyChunk = 1 << 20;

Status ErrnoStatus(int err, std::string_view what) {
  std::string message = std::string(what) + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    return Status(Code::kNoSpace, std::move(message)).WithDetail("InsufficientStorage");
  }
  return IoError(std::move(message));
}

Status FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open dir " + path);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync dir " + path);
  return Status::Ok();
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir " + path);
  }
  return Status::Ok();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return names;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(dir);
  return names;
}

std::string FanOutDir(const std::string& root, std::string_view blob_id) {
  return root + "/" + std::string(blob_id.substr(0, 2));
}

}  // namespace

BlobFiles::BlobFiles(std::string root, uint64_t free_space_reserve, BlobWriteHook hook)
    : root_(std::move(root)), free_space_reserve_(free_space_reserve), hook_(std::move(hook)) {}

Status BlobFiles::Init() {
  IMGBATCH_RETURN_IF_ERROR(MakeDir(root_));
  IMGBATCH_RETURN_IF_ERROR(MakeDir(root_ + "/tmp"));
  // Fan-out directories are created on first use (see Publish).
  return FsyncPath(root_);
}

std::string BlobFiles::PathOf(std::string_view blob_id) const {
  return FanOutDir(root_, blob_id) + "/" + std::string(blob_id);
}

bool BlobFiles::IsBlobId(std::string_view name) {
  if (name.size() != kBlobIdBytes * 2) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status BlobFiles::CheckFreeSpace(uint64_t incoming) const {
  struct statvfs fs {};
  if (::statvfs(root_.c_str(), &fs) != 0) return ErrnoStatus(errno, "statvfs " + root_);
  const unsigned __int128 available =
      static_cast<unsigned __int128>(fs.f_bavail) * static_cast<unsigned __int128>(fs.f_frsize);
  const unsigned __int128 needed = static_cast<unsigned __int128>(free_space_reserve_) + incoming;
  if (available < needed) {
    return Status(Code::kNoSpace, "not enough free disk space (reserve " +
                                      std::to_string(free_space_reserve_) + " bytes)")
        .WithDetail("InsufficientStorage");
  }
  return Status::Ok();
}

Result<std::unique_ptr<BlobWriter>> BlobFiles::NewWriter() const {
  std::string path = root_ + "/tmp/" + RandomHex(kBlobIdBytes);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "create " + path);
  return std::make_unique<BlobWriter>(*this, fd, std::move(path));
}

Result<int> BlobFiles::OpenForRead(std::string_view blob_id) const {
  std::string path = PathOf(blob_id);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound("blob " + std::string(blob_id) + " is gone");
    return ErrnoStatus(errno, "open " + path);
  }
  return fd;
}

void BlobFiles::Remove(std::string_view blob_id) const {
  if (!IsBlobId(blob_id)) return;
  ::unlink(PathOf(blob_id).c_str());
}

Result<size_t> BlobFiles::CollectGarbage(const ReferenceCheck& are_referenced) const {
  size_t removed = 0;
  for (const std::string& name : ListTempFiles()) {
    if (::unlink((root_ + "/tmp/" + name).c_str()) == 0) ++removed;
  }
  for (const std::string& sub : ListDir(root_)) {
    if (sub.size() != 2 || sub == "tmp") continue;
    std::vector<std::string> ids = ListBlobIdsIn(sub);
    if (ids.empty()) continue;
    IMGBATCH_ASSIGN_OR_RETURN(std::vector<bool> referenced, are_referenced(ids));
    if (referenced.size() != ids.size()) return Internal("reference check size mismatch");
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!referenced[i] && ::unlink(PathOf(ids[i]).c_str()) == 0) ++removed;
    }
  }
  return removed;
}

std::vector<std::string> BlobFiles::ListBlobIdsIn(const std::string& sub) const {
  std::vector<std::string> ids;
  for (std::string& name : ListDir(root_ + "/" + sub)) {
    // Only our own names, in the right fan-out directory, are ever touched.
    if (IsBlobId(name) && name.compare(0, 2, sub) == 0) ids.push_back(std::move(name));
  }
  return ids;
}

std::vector<std::string> BlobFiles::ListBlobIds() const {
  std::vector<std::string> ids;
  for (const std::string& sub : ListDir(root_)) {
    if (sub.size() != 2 || sub == "tmp") continue;
    for (std::string& id : ListBlobIdsIn(sub)) ids.push_back(std::move(id));
  }
  return ids;
}

std::vector<std::string> BlobFiles::ListTempFiles() const { return ListDir(root_ + "/tmp"); }

// ---- BlobWriter ----

BlobWriter::BlobWriter(const BlobFiles& files, int fd, std::string temp_path)
    : files_(files), fd_(fd), temp_path_(std::move(temp_path)) {}

BlobWriter::~BlobWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!published_) ::unlink(temp_path_.c_str());
}

Status BlobWriter::Fail(int err, std::string_view what) {
  return ErrnoStatus(err, std::string(what) + " " + temp_path_);
}

Status BlobWriter::BeforeWrite(uint64_t incoming) {
  if (files_.hook_) IMGBATCH_RETURN_IF_ERROR(files_.hook_(written_));
  // A long upload can eat the reserve after the first check: look again
  // every so often so the disk is never driven to full.
  if (written_ + incoming - checked_at_ >= kRecheckSpaceEvery) {
    IMGBATCH_RETURN_IF_ERROR(files_.CheckFreeSpace(incoming));
    checked_at_ = written_;
  }
  return Status::Ok();
}

Status BlobWriter::Append(std::string_view bytes) {
  if (bytes.empty()) return Status::Ok();
  IMGBATCH_RETURN_IF_ERROR(BeforeWrite(bytes.size()));
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(errno, "write");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    written_ += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status BlobWriter::AppendFile(int src_fd, uint64_t offset, uint64_t length) {
  while (length > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(length, kCopyChunk));
    IMGBATCH_RETURN_IF_ERROR(BeforeWrite(chunk));
    loff_t in_off = static_cast<loff_t>(offset);
    ssize_t n = ::copy_file_range(src_fd, &in_off, fd_, nullptr, chunk, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
      // Fall back to read/write through user space.
      std::string buffer(chunk, '\0');
      n = ::pread(src_fd, buffer.data(), chunk, static_cast<off_t>(offset));
      if (n < 0) return Fail(errno, "pread for");
      if (n == 0) return IoError("source file shorter than expected");
      uint64_t before = written_;
      IMGBATCH_RETURN_IF_ERROR(Append(std::string_view(buffer.data(), static_cast<size_t>(n))));
      n = static_cast<ssize_t>(written_ - before);
      written_ = before;
    } else if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(errno, "copy_file_range into");
    } else if (n == 0) {
      return IoError("source file shorter than expected");
    }
    written_ += static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Result<std::string> BlobWriter::Publish() {
  if (::fsync(fd_) != 0) return Fail(errno, "fsync");
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Fail(errno, "close");
  }
  fd_ = -1;
  std::string id = RandomHex(kBlobIdBytes);
  std::string final_path = files_.PathOf(id);
  if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
    if (errno != ENOENT) return Fail(errno, "rename");
    // First blob in this fan-out directory: create it, and make the new
    // directory entry durable before anything inside it is relied upon.
    IMGBATCH_RETURN_IF_ERROR(MakeDir(FanOutDir(files_.root_, id)));
    IMGBATCH_RETURN_IF_ERROR(FsyncPath(files_.root_));
    if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) return Fail(errno, "rename");
  }
  published_ = true;
  Status synced = FsyncPath(FanOutDir(files_.root_, id));
  if (!synced.ok()) {
    ::unlink(final_path.c_str());
    return synced;
  }
  return id;
}

}  // namespace imgbatch::store
