// Container health without a port: the poll loop touches a file, and
// `imgbatch worker --check-health` reports whether it was touched recently.
// Pure functions over the file system; thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace imgbatch::worker {

// Creates the file if needed and sets its modification time to now.
Status TouchHealthFile(const std::string& path);

// Ok when the file exists and was touched within max_age; kUnavailable
// (stale) or kNotFound otherwise, with a message for the health check log.
Status CheckHealthFile(const std::string& path, std::chrono::seconds max_age);

}  // namespace imgbatch::worker
