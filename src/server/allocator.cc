#include "server/allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include "common/reexec.h"

namespace imgbatch::server {
namespace {

constexpr char kPreloadVariable[] = "LD_PRELOAD";
constexpr char kOptOutVariable[] = "IMGBATCH_JEMALLOC";

// ASan and UBSan builds bring their own allocator hooks; ASan refuses to run
// with another library ahead of its runtime.
constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

}  // namespace

std::optional<std::string> PreloadWithJemalloc(const char* current, const std::string& jemalloc) {
  if (jemalloc.empty()) return std::nullopt;
  if (current == nullptr || *current == '\0') return jemalloc;
  if (std::string_view(current).find("jemalloc") != std::string_view::npos) return std::nullopt;
  // ld.so takes the list separated by spaces or colons, first entry first.
  return jemalloc + ":" + current;
}

std::string InstalledJemalloc() {
#ifdef IMGBATCH_JEMALLOC_PATH
  const std::string path = IMGBATCH_JEMALLOC_PATH;
  if (::access(path.c_str(), R_OK) == 0) return path;
#endif
  return "";
}

void ReexecWithJemalloc(char** argv) {
  if (kSanitized || UnderValgrind()) return;
  if (OptedOut(kOptOutVariable)) return;
  std::optional<std::string> preload =
      PreloadWithJemalloc(std::getenv(kPreloadVariable), InstalledJemalloc());
  if (!preload) return;
  ReexecWithEnvironment(argv, {{kPreloadVariable, *preload}});
}

}  // namespace imgbatch::server
