// The server process's allocator. `imgbatch up` runs on jemalloc when the
// machine has it: the server allocates on its I/O threads and frees on the
// database writer thread (request state ends with the write's completion),
// which glibc's per-thread arenas handle with an arena lock and
// consolidation on every such free. Measured on the SQS benchmark: −16%
// server CPU per message (docs/benchmarks.md, "Server allocator").
// The image job's commands stay on glibc malloc with its huge-page tunable
// (imaging/huge_pages.h): with jemalloc `imgbatch process` ran 13% slower on
// the corpus. Workers that `up` starts get their own clean environment, so
// they never inherit the preload.
#pragma once

#include <optional>
#include <string>

namespace imgbatch::server {

// The LD_PRELOAD value that puts `jemalloc` (a library path) first in front
// of `current` (null: unset), or nullopt when there is nothing to add: no
// jemalloc path, or `current` already preloads a jemalloc.
std::optional<std::string> PreloadWithJemalloc(const char* current, const std::string& jemalloc);

// The jemalloc library this binary was built to use, when present on this
// machine ("" otherwise).
std::string InstalledJemalloc();

// Re-executes `imgbatch up` (same pid, arguments, environment) with jemalloc
// preloaded; returns without doing anything when jemalloc is not installed,
// already preloaded, IMGBATCH_JEMALLOC=0, under valgrind or a sanitizer, or
// when the exec fails. Call first thing in main(), before any thread exists.
void ReexecWithJemalloc(char** argv);

}  // namespace imgbatch::server
