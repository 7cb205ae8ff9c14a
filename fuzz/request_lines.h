// What the stateful service fuzzers (sqs_service_fuzzer, s3_service_fuzzer)
// share: an input is requests, one per line; each input gets a directory of
// its own for its database; a finding prints the request and reply and aborts
// (libFuzzer then saves the input).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace imgbatch::fuzz {

[[noreturn]] inline void Fail(const char* fuzzer, const char* what, std::string_view request,
                              const std::string& reply) {
  std::fprintf(stderr, "%s: %s\n  request: %.*s\n  reply: %s\n", fuzzer, what,
               static_cast<int>(request.size()), request.data(), reply.c_str());
  std::abort();
}

// A fresh directory, removed with its contents. On /dev/shm when there is
// one: fsync costs nothing there.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    static std::atomic<int> counter{0};
    const std::filesystem::path base =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    path_ = base / (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Calls run(line) for each of input's first max_lines lines.
template <class Run>
void ForEachLine(std::string_view input, int max_lines, Run&& run) {
  size_t start = 0;
  for (int n = 0; n < max_lines && start < input.size(); ++n) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    run(input.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace imgbatch::fuzz
