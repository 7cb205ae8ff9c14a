#include "imaging/huge_pages.h"

#include <cstdlib>
#include <string_view>

#include "common/reexec.h"

namespace imgbatch::imaging {

namespace {

constexpr std::string_view kHugePagesTunable = "glibc.malloc.hugetlb";
constexpr char kTunablesVariable[] = "GLIBC_TUNABLES";
constexpr char kOptOutVariable[] = "IMGBATCH_HUGE_PAGES";

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
  if (OptedOut(kOptOutVariable)) return;
  if (UnderValgrind()) return;
  std::optional<std::string> tunables = TunablesWithHugePages(std::getenv(kTunablesVariable));
  if (!tunables) return;
  // Back only if the exec failed: then we run as we are, with the variable
  // set (its presence also keeps a later call from trying again).
  ReexecWithEnvironment(argv, {{kTunablesVariable, *tunables}});
}

}  // namespace imgbatch::imaging
