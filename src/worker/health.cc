#include "worker/health.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace imgbatch::worker {

Status TouchHealthFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("health file " + path + ": " + std::strerror(errno));
  // UTIME_NOW for both times: no clock reading of our own, no race.
  int rc = ::futimens(fd, nullptr);
  int saved = errno;
  ::close(fd);
  if (rc != 0) return IoError("health file " + path + ": " + std::strerror(saved));
  return Status::Ok();
}

Status CheckHealthFile(const std::string& path, std::chrono::seconds max_age) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return NotFound("health file " + path + ": " + std::strerror(errno));
  }
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  auto age = now.tv_sec - info.st_mtim.tv_sec;
  if (age > max_age.count()) {
    return Status(Code::kUnavailable, "health file " + path + " is stale: touched " +
                                          std::to_string(age) + " s ago (limit " +
                                          std::to_string(max_age.count()) + " s)");
  }
  return Status::Ok();
}

}  // namespace imgbatch::worker
