#include "imaging/huge_pages.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace imgbatch::imaging {

namespace {

constexpr std::string_view kHugePagesTunable = "glibc.malloc.hugetlb";
constexpr char kTunablesVariable[] = "GLIBC_TUNABLES";
constexpr char kOptOutVariable[] = "IMGBATCH_HUGE_PAGES";

// valgrind preloads its core into the client (LD_PRELOAD=.../vgpreload_*).
bool UnderValgrind() {
  const char* preload = std::getenv("LD_PRELOAD");
  return preload != nullptr && std::strstr(preload, "vgpreload") != nullptr;
}

}  // namespace

std::optional<std::string> TunablesWithHugePages(const char* current) {
  const std::string setting = std::string(kHugePagesTunable) + "=1";
  if (current == nullptr || *current == '\0') return setting;
  if (std::string_view(current).find(kHugePagesTunable) != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(current) + ":" + setting;
}

void ReexecWithHugePages(char** argv) {
  const char* opt_out = std::getenv(kOptOutVariable);
  if (opt_out != nullptr && std::string_view(opt_out) == "0") return;
  if (UnderValgrind()) return;
  std::optional<std::string> tunables = TunablesWithHugePages(std::getenv(kTunablesVariable));
  if (!tunables) return;
  if (setenv(kTunablesVariable, tunables->c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Still here: the exec failed; run as we are, with the variable set (its
  // presence also keeps a later call from trying again).
}

}  // namespace imgbatch::imaging
