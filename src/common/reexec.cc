#include "common/reexec.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace imgbatch {

void ReexecWithEnvironment(char** argv, const EnvironmentChanges& changes) {
  if (changes.empty()) return;
  for (const auto& [name, value] : changes) {
    if (setenv(name.c_str(), value.c_str(), 1) != 0) return;
  }
  // The resolved path rather than /proc/self/exe itself: the kernel names the
  // process after the file exec'd, and "exe" in ps and top would hide it.
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return;
  path[n] = '\0';
  execv(path, argv);
}

bool OptedOut(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::string_view(value) == "0";
}

bool UnderValgrind() {
  // valgrind preloads its core into the client (LD_PRELOAD=.../vgpreload_*).
  const char* preload = std::getenv("LD_PRELOAD");
  return preload != nullptr && std::strstr(preload, "vgpreload") != nullptr;
}

}  // namespace imgbatch
